/* The dns module's internals, shared by dns*.c only: the backends and their secrets. */
#pragma once

#include "dns.h"

#define DNS_BACKEND_HOSTS "hostsDir"
#define DNS_BACKEND_PDNS "powerdns"
#define DNS_BACKEND_RFC2136 "rfc2136"

/* Checks a name template's braces and variables; the message quotes it. */
int dns_name_template_check(const char *t);

/* One change on one backend: add (or remove) row's AAAA and, unless row.ptr_zone is "", its
 * PTR. A backend sets err (0 or a negative errno) and, on failure, row.error. */
struct dns_op {
	struct store_dns_record row;
	bool add;
	int err;
};

/* The target string a backend's records are stored under (see store_dns_record). */
void dns_target(const struct dns_config *c, const char *backend,
		char ret[STORE_DNS_TARGET_MAX]);

/* Each applies ops (all of that backend), sets every op's err, and returns 0 or the first
 * failure (with err_set() done). The store holds the ops' rows already: added ones pending,
 * removed ones stale. */

/* Rewrites network's hosts file in each op's target directory from the store's rows that
 * are not stale. */
int dns_hosts_apply(struct store *s, const char *network, struct dns_op *ops, size_t n);
/* Writes the hosts file of network in dir (the rows of the store, not stale). */
int dns_hosts_write(struct store *s, const char *network, const char *dir);
/* One PATCH per zone, in parallel; an RRset's records are every address (name) the store
 * holds for its name (address) on this server. */
int dns_pdns_apply(struct store *s, const struct dns_config *c, struct dns_op *ops, size_t n);
/* One signed UPDATE per zone (removals first), in parallel. */
int dns_rfc2136_apply(const struct dns_config *c, struct dns_op *ops, size_t n);
/* Closes fd: at once, or on a dns_job's thread (dns_async.c) once its waiter has the
 * outcome, when a close costs time the ADD need not wait for (the last close of a replaced
 * file frees its blocks). */
void dns_close_later(int fd);
/* Reads c's key and signs an empty UPDATE with it, for nothing but to have ldns's and
 * OpenSSL's first use behind (dns_async.c runs it before the lease is known). Silent. */
void dns_rfc2136_warm(const struct dns_config *c);

/* ---- dns_secret.c ---- */

#define DNS_SECRET_MAX 512

/* Reads a whole secret file (trailing whitespace cut) into buf. Refuses anything but a
 * regular file, a file group or others can read, an empty or too long one. Messages name
 * what and path, never the content. */
int dns_secret_read(const char *what, const char *path, char *buf, size_t size);

struct dns_tsig_key {
	char name[DNS_NAME_MAX];	/* absolute, lower case */
	char algorithm[32];		/* "hmac-sha256" ... */
	char secret[DNS_SECRET_MAX];	/* base64 */
};

/* Reads a key file in BIND's format (`key "NAME" { algorithm hmac-sha256; secret "B64"; };`,
 * as tsig-keygen writes it). The same checks as dns_secret_read(). */
int dns_tsig_key_read(const char *path, struct dns_tsig_key *ret);
/* Forgets a key's secret. */
void dns_tsig_key_clear(struct dns_tsig_key *k);

/* Marks every op of a backend call failed with r and the current message (a backend that
 * could not even start). */
void dns_ops_fail(struct dns_op *ops, size_t n, int r);
