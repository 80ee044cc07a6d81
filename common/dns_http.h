/* The PowerDNS backend's HTTP exchanges (dns_pdns.c builds them and reads their outcome):
 * PATCHes of JSON with the API key, run at once through libcurl. They run in the process
 * that publishes (v6pdctl, the benchmarks) or, for the statically linked front ends, in the
 * small dynamically linked helper v6pd-dns-http (dns_spawn.c, dns-helper/main.c): both
 * call dns_http_patch(). */
#pragma once

#include <stddef.h>

#define DNS_HTTP_REPLY_MAX 1024
#define DNS_HTTP_ERROR_MAX 256

struct dns_http_req {
	const char *url;	/* borrowed */
	const char *body;	/* borrowed: the PATCH's JSON */
	/* the outcome */
	int err;		/* 0: an HTTP answer came (status); else a negative errno */
	char err_text[DNS_HTTP_ERROR_MAX];	/* libcurl's words for err */
	long status;
	char reply[DNS_HTTP_REPLY_MAX];		/* the start of the answer's body */
};

/* Runs reqs[0..n) at once (PATCH, "X-API-Key: api_key", a JSON body), then, one at a time,
 * those the server failed (HTTP 5xx) up to twice more: PowerDNS's gsqlite3 backend answers
 * concurrent writes with "database is locked" (HTTP 500), and PATCHing an RRset again is
 * harmless. Everything ends within timeout_ms. Fills every request's outcome and returns 0,
 * or a negative errno (message set) when libcurl cannot be loaded or set up. */
int dns_http_patch(struct dns_http_req *reqs, size_t n, const char *api_key, unsigned timeout_ms);

/* Loads libcurl ahead of the first dns_http_patch() (v6pd-dns-http does it while its parent
 * is still busy). 0 or a negative errno with a message. */
int dns_http_init(void);

/* The helper's protocol: one JSON request on its stdin, one JSON answer on its stdout.
 *   request {"apiKey": KEY, "timeoutMs": N, "requests": [{"url": U, "body": B}, ...]}
 *   answer  {"results": [{"err": E, "errText": T, "status": S, "reply": R}, ...]}
 *           or {"error": MESSAGE} */
#define DNS_HTTP_HELPER "v6pd-dns-http"
