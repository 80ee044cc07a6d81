/* v6pd-dns-http's parts: the exchange (one request in, one answer out) and the lingering
 * server that runs exchanges for every client of its socket. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct dns_http_session;

/* Runs one request (the protocol's JSON text, dns_http.h) on session s and returns the
 * answer's text (free()), an {"error": ...} for anything that went wrong; NULL only when
 * out of memory. */
char *helper_exchange(struct dns_http_session *s, const char *request);
/* The answer {"error": msg}; NULL when out of memory. */
char *helper_error_answer(const char *msg);

/* Serves socket path until idle_s seconds pass with no client: takes path's lock file (when
 * another process holds it, that one serves and this returns 0 at once), replaces a stale
 * socket, listens, and runs each client's exchange on a thread of its own. Returns the exit
 * status. */
int helper_serve(const char *path, int64_t idle_s);
