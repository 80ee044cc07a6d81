/* One exchange of v6pd-dns-http's protocol (common/dns_http.h): the request's PATCHes run
 * through the session, their outcomes go back as JSON. */
#include <errno.h>
#include <stdlib.h>

#include <jansson.h>

#include "dns_http.h"
#include "err.h"
#include "helper.h"

char *helper_error_answer(const char *msg)
{
	json_t *o = json_pack("{s:s}", "error", msg);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return text;
}

static char *fail(int r)
{
	return helper_error_answer(err_msg(r));
}

static char *results(const struct dns_http_req *reqs, size_t n)
{
	json_t *list = json_array(), *o;
	char *text;

	for (size_t i = 0; i < n && list; i++)
		if (json_array_append_new(list, json_pack("{s:i, s:s, s:I, s:s}", "err", reqs[i].err,
							  "errText", reqs[i].err_text, "status",
							  (json_int_t)reqs[i].status, "reply",
							  reqs[i].reply)) < 0) {
			json_decref(list);
			list = NULL;
		}
	o = list ? json_pack("{s:o}", "results", list) : NULL;
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return text;
}

char *helper_exchange(struct dns_http_session *s, const char *request)
{
	json_error_t jerr;
	json_t *in = json_loads(request, 0, &jerr), *list, *e;
	struct dns_http_req *reqs = NULL;
	const char *key;
	json_int_t timeout;
	char *answer = NULL;
	size_t n, i;
	int r;

	if (!in)
		return fail(err_set(-EINVAL, "powerdns: %s: a malformed request: %s",
				    DNS_HTTP_HELPER, jerr.text));
	list = json_object_get(in, "requests");
	key = json_string_value(json_object_get(in, "apiKey"));
	timeout = json_integer_value(json_object_get(in, "timeoutMs"));
	n = json_array_size(list);
	if (!key || timeout < 1 || timeout > 600000 || !json_is_array(list)) {
		answer = fail(err_set(-EINVAL, "powerdns: %s: a malformed request", DNS_HTTP_HELPER));
		goto out;
	}
	reqs = calloc(n ? n : 1, sizeof(*reqs));
	if (!reqs) {
		answer = fail(err_set(-ENOMEM, "out of memory"));
		goto out;
	}
	json_array_foreach(list, i, e) {
		reqs[i].url = json_string_value(json_object_get(e, "url"));
		reqs[i].body = json_string_value(json_object_get(e, "body"));
		if (!reqs[i].url || !reqs[i].body) {
			answer = fail(err_set(-EINVAL, "powerdns: %s: a malformed request",
					      DNS_HTTP_HELPER));
			goto out;
		}
	}
	r = dns_http_session_patch(s, reqs, n, key, (unsigned)timeout);
	answer = r < 0 ? fail(r) : results(reqs, n);
out:
	free(reqs);
	json_decref(in);
	return answer;
}
