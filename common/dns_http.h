/* The PowerDNS backend's HTTP exchanges (dns_pdns.c builds them and reads their outcome):
 * PATCHes of JSON with the API key, run at once through libcurl. They run in the process
 * that publishes (v6pdctl, the benchmarks) or, for the statically linked front ends, in the
 * small dynamically linked helper v6pd-dns-http (dns_spawn.c, dns-helper/): a lingering one
 * that serves every call of its state directory over a unix socket, or one per call. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "linger.h"

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
 * those the server failed (HTTP 5xx) up to three more times (at once, after 100 ms, after
 * 300 ms): PowerDNS's gsqlite3 backend answers
 * concurrent writes with "database is locked" (HTTP 500), and PATCHing an RRset again is
 * harmless. Everything ends within timeout_ms. Fills every request's outcome and returns 0,
 * or a negative errno (message set) when libcurl cannot be loaded or set up. */
int dns_http_patch(struct dns_http_req *reqs, size_t n, const char *api_key, unsigned timeout_ms);

/* A session keeps libcurl's multi handle and easy handles from one exchange to the next:
 * the connections the multi handle caches (HTTP keep-alive) and the handles' TLS sessions
 * are used again. The lingering v6pd-dns-http keeps one per thread; a session is used by
 * one thread at a time. dns_http_patch() is a session made and freed around one call. */
struct dns_http_session;
int dns_http_session_new(struct dns_http_session **ret);
void dns_http_session_free(struct dns_http_session *s);	/* NULL is fine */
int dns_http_session_patch(struct dns_http_session *s, struct dns_http_req *reqs, size_t n,
			   const char *api_key, unsigned timeout_ms);

/* Loads libcurl ahead of the first dns_http_patch() (v6pd-dns-http does it while its parent
 * is still busy). 0 or a negative errno with a message. */
int dns_http_init(void);

/* The helper's protocol, the same over its stdin and stdout (a helper per call) and over its
 * socket (the lingering one): the client sends one JSON request and shuts its sending side
 * down, the helper answers one JSON text and closes.
 *   request {"apiKey": KEY, "timeoutMs": N, "requests": [{"url": U, "body": B}, ...]}
 *   answer  {"results": [{"err": E, "errText": T, "status": S, "reply": R}, ...]}
 *           or {"error": MESSAGE} */
#define DNS_HTTP_HELPER "v6pd-dns-http"
#define DNS_HTTP_REQUEST_MAX (4u << 20)

/* The lingering helper (v6pd-dns-http --serve SOCKET): one per state directory and network
 * namespace (it sends its HTTP from the namespace it was started in), its socket
 * STATE_DIR/dns-http-NETNS.sock, where NETNS is the inode number of the calling thread's
 * network namespace, and beside it the lock file its owner holds (.lock instead of .sock,
 * the owner's PID in it). -ENAMETOOLONG when the path does not fit a unix socket's address,
 * -EINVAL when state_dir is not absolute (no message: callers fall back quietly). */
int dns_http_socket_path(const char *state_dir, char *buf, size_t size);
#define DNS_HTTP_SOCKET_MAX 108	/* sizeof(sun_path) */
/* The idle time after which the lingering helper exits: V6PD_DNS_HTTP_IDLE (a duration,
 * "60s", "2m"; "0" turns the lingering helper off: one helper per call), else 60 s.
 * Returns seconds; 0 means off. */
#define DNS_HTTP_IDLE_ENV "V6PD_DNS_HTTP_IDLE"
#define DNS_HTTP_IDLE_DEFAULT 60
int64_t dns_http_idle_seconds(void);

/* The stream both ends of the protocol use: linger.h. */
