/* The PowerDNS backend's PATCHes through libcurl's multi interface (see dns_http.h). */
#include "dns_http.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dns_curl.h"
#include "err.h"

static const struct dns_curl *cu;	/* set by dns_curl_load() */

/* One request's handle and the room its answer is read into. */
struct xfer {
	struct dns_http_req *q;
	CURL *h;
	size_t reply_len;
	bool server_error;	/* 5xx: worth another try */
};

static int64_t now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int dns_http_init(void)
{
	return dns_curl_load(&cu);
}

static size_t on_reply(char *data, size_t size, size_t n, void *user)
{
	struct xfer *x = user;
	size_t len = size * n, room = sizeof(x->q->reply) - 1 - x->reply_len;

	memcpy(x->q->reply + x->reply_len, data, len < room ? len : room);
	x->reply_len += len < room ? len : room;
	x->q->reply[x->reply_len] = '\0';
	return len;
}

static int errno_of_curl(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTUNREACH;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

static int setup(struct xfer *x, struct curl_slist *hdr)
{
	CURLcode rc = CURLE_OK;

#define SET(opt, val)                                                  \
	do {                                                           \
		if (rc == CURLE_OK)                                    \
			rc = cu->easy_setopt(x->h, opt, val);         \
	} while (0)
	SET(CURLOPT_URL, x->q->url);
	SET(CURLOPT_CUSTOMREQUEST, "PATCH");
	SET(CURLOPT_POSTFIELDS, x->q->body);
	SET(CURLOPT_HTTPHEADER, hdr);
	SET(CURLOPT_WRITEFUNCTION, on_reply);
	SET(CURLOPT_WRITEDATA, x);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
#undef SET
	if (rc != CURLE_OK)
		return err_set(-EINVAL, "powerdns %s: %s", x->q->url, cu->easy_strerror(rc));
	return 0;
}

static void outcome(struct xfer *x, CURLcode rc)
{
	struct dns_http_req *q = x->q;

	if (rc != CURLE_OK) {
		q->err = errno_of_curl(rc);
		(void)snprintf(q->err_text, sizeof(q->err_text), "%s", cu->easy_strerror(rc));
		return;
	}
	(void)cu->easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &q->status);
	x->server_error = q->status >= 500;
}

/* Runs xs[0..n) at once until the deadline; fills each one's outcome. */
static void run(CURLM *m, struct xfer *xs, size_t n, int64_t deadline)
{
	CURLMsg *msg;
	int running = 0, left;

	for (size_t i = 0; i < n; i++) {
		int64_t ms = deadline - now_ms();

		xs[i].q->err = 0;
		xs[i].q->err_text[0] = '\0';
		xs[i].q->status = 0;
		xs[i].q->reply[0] = '\0';
		xs[i].reply_len = 0;
		xs[i].server_error = false;
		(void)cu->easy_setopt(xs[i].h, CURLOPT_TIMEOUT_MS, (long)(ms > 1 ? ms : 1));
		(void)cu->multi_add_handle(m, xs[i].h);
	}
	do {
		if (cu->multi_perform(m, &running) != CURLM_OK)
			break;
		if (running)
			(void)cu->multi_poll(m, NULL, 0, 1000, NULL);
	} while (running);
	while ((msg = cu->multi_info_read(m, &left)))
		for (size_t i = 0; msg->msg == CURLMSG_DONE && i < n; i++)
			if (xs[i].h == msg->easy_handle)
				outcome(&xs[i], msg->data.result);
	for (size_t i = 0; i < n; i++)
		(void)cu->multi_remove_handle(m, xs[i].h);
}

struct dns_http_session {
	CURLM *m;
	CURL **h;		/* h[i] serves request i of each call; kept between calls */
	size_t nh;
};

int dns_http_session_new(struct dns_http_session **ret)
{
	struct dns_http_session *s;
	int r;

	if ((r = dns_http_init()) < 0)
		return r;
	s = calloc(1, sizeof(*s));
	if (!s || !(s->m = cu->multi_init())) {
		free(s);
		return err_set(-ENOMEM, "powerdns: out of memory");
	}
	*ret = s;
	return 0;
}

void dns_http_session_free(struct dns_http_session *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nh; i++)
		cu->easy_cleanup(s->h[i]);
	free(s->h);
	(void)cu->multi_cleanup(s->m);
	free(s);
}

/* Handles for n requests: the session's own, and new ones when it has fewer. */
static int session_handles(struct dns_http_session *s, size_t n)
{
	CURL **nh;

	if (n <= s->nh)
		return 0;
	nh = realloc(s->h, n * sizeof(*nh));
	if (!nh)
		return err_set(-ENOMEM, "powerdns: out of memory");
	s->h = nh;
	for (; s->nh < n; s->nh++)
		if (!(s->h[s->nh] = cu->easy_init()))
			return err_set(-ENOMEM, "powerdns: out of memory");
	return 0;
}

int dns_http_session_patch(struct dns_http_session *s, struct dns_http_req *reqs, size_t n,
			   const char *api_key, unsigned timeout_ms)
{
	/* the first retry at once: the parallel pass is over, so the writes it raced are done;
	 * the next ones after pauses, for a race with other processes (parallel ADDs: seen in
	 * the tests to outlast one 100 ms pause) */
	static const struct timespec pause[] = { { 0, 0 }, { 0, 100000000 }, { 0, 300000000 } };
	char header[600];	/* "X-API-Key: " and a key of up to DNS_SECRET_MAX */
	struct curl_slist *hdr = NULL, *h2;
	struct xfer *xs = NULL;
	int64_t deadline = now_ms() + timeout_ms;
	int r;

	if ((size_t)snprintf(header, sizeof(header), "X-API-Key: %s", api_key) >= sizeof(header))
		return err_set(-EINVAL, "powerdns: the API key is too long");
	hdr = cu->slist_append(NULL, header);
	explicit_bzero(header, sizeof(header));
	h2 = hdr ? cu->slist_append(hdr, "Content-Type: application/json") : NULL;
	xs = calloc(n ? n : 1, sizeof(*xs));
	if (!h2 || !xs) {
		r = err_set(-ENOMEM, "powerdns: out of memory");
		goto out;
	}
	if ((r = session_handles(s, n)) < 0)
		goto out;
	for (size_t i = 0; i < n && r == 0; i++) {
		xs[i].q = &reqs[i];
		xs[i].h = s->h[i];
		r = setup(&xs[i], hdr);
	}
	if (r < 0)
		goto out;
	run(s->m, xs, n, deadline);
	for (size_t a = 0; a < sizeof(pause) / sizeof(pause[0]); a++)
		for (size_t i = 0; i < n; i++) {
			if (!xs[i].server_error || now_ms() + 1 >= deadline)
				continue;
			if (pause[a].tv_nsec)
				(void)nanosleep(&pause[a], NULL);
			run(s->m, &xs[i], 1, deadline);
		}
out:
	/* the handles keep no pointer into this call: not to the header list freed below, nor
	 * to the caller's body, URL and answer room */
	for (size_t i = 0; i < n && i < s->nh; i++) {
		(void)cu->easy_setopt(s->h[i], CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
		(void)cu->easy_setopt(s->h[i], CURLOPT_POSTFIELDS, (char *)NULL);
		(void)cu->easy_setopt(s->h[i], CURLOPT_WRITEDATA, (void *)NULL);
	}
	free(xs);
	if (hdr)
		cu->slist_free_all(hdr);
	return r;
}

int dns_http_patch(struct dns_http_req *reqs, size_t n, const char *api_key, unsigned timeout_ms)
{
	struct dns_http_session *s;
	int r;

	if ((r = dns_http_session_new(&s)) < 0)
		return r;
	r = dns_http_session_patch(s, reqs, n, api_key, timeout_ms);
	dns_http_session_free(s);
	return r;
}
