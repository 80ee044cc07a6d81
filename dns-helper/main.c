/* v6pd-dns-http: the PowerDNS backend's HTTP exchanges for the statically linked v6pd and
 * v6pd-libvirt-hook, which cannot load libcurl themselves (common/dns.h). Linked
 * dynamically; started by common/dns_spawn.c, often before its parent knows what to send,
 * so it loads libcurl first and then reads one request on stdin and writes one answer on
 * stdout (the protocol: common/dns_http.h). Not meant to be run by hand. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "dns_http.h"
#include "err.h"

#define REQUEST_MAX (4u << 20)

/* Writes the answer and ends at once: the parent reads to EOF, and exit()'s clean-up of
 * libcurl's libraries (OpenSSL's atexit handler among them) would cost it ~1 ms. */
static int answer(json_t *o)
{
	int r = o && json_dumpf(o, stdout, JSON_COMPACT) == 0 && fflush(stdout) == 0 ? 0 : 1;

	_exit(r);
}

static int fail(int r)
{
	return answer(json_pack("{s:s}", "error", err_msg(r)));
}

static int run(json_t *in)
{
	json_t *list = json_object_get(in, "requests"), *e, *results;
	const char *key = json_string_value(json_object_get(in, "apiKey"));
	json_int_t timeout = json_integer_value(json_object_get(in, "timeoutMs"));
	size_t n = json_array_size(list), i;
	struct dns_http_req *reqs;
	int r;

	if (!key || timeout < 1 || timeout > 600000 || !json_is_array(list))
		return fail(err_set(-EINVAL, "powerdns: %s: a malformed request", DNS_HTTP_HELPER));
	reqs = calloc(n ? n : 1, sizeof(*reqs));
	if (!reqs)
		return fail(err_set(-ENOMEM, "out of memory"));
	json_array_foreach(list, i, e) {
		reqs[i].url = json_string_value(json_object_get(e, "url"));
		reqs[i].body = json_string_value(json_object_get(e, "body"));
		if (!reqs[i].url || !reqs[i].body) {
			free(reqs);
			return fail(err_set(-EINVAL, "powerdns: %s: a malformed request",
					    DNS_HTTP_HELPER));
		}
	}
	r = dns_http_patch(reqs, n, key, (unsigned)timeout);
	if (r < 0) {
		free(reqs);
		return fail(r);
	}
	results = json_array();
	for (i = 0; i < n && results; i++)
		(void)json_array_append_new(results,
					    json_pack("{s:i, s:s, s:I, s:s}", "err", reqs[i].err,
						      "errText", reqs[i].err_text, "status",
						      (json_int_t)reqs[i].status, "reply",
						      reqs[i].reply));
	free(reqs);
	return answer(json_pack("{s:o*}", "results", results));
}

int main(int argc, char **argv)
{
	json_error_t jerr;
	json_t *in;
	int r;

	(void)argv;
	if (argc > 1 || isatty(STDIN_FILENO)) {
		(void)fprintf(stderr, "%s: a helper of v6pd (the PowerDNS API through libcurl); "
				      "not meant to be run by hand\n", DNS_HTTP_HELPER);
		return 2;
	}
	/* The parent is still busy: the ~5 ms of loading libcurl's libraries overlap its work. */
	if ((r = dns_http_init()) < 0)
		return fail(r);
	in = json_loadf(stdin, 0, &jerr);
	if (!in)
		return fail(err_set(-EINVAL, "powerdns: %s: a malformed request: %s",
				    DNS_HTTP_HELPER, jerr.text));
	r = run(in);
	json_decref(in);
	return r;
}
