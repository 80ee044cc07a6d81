/* dns: publishes leases as AAAA and PTR records, kept in step with the store.
 *
 * A network's "dns" object names a forward zone, a reverse zone (by default the ip6.arpa
 * zone of the lease's slice, RFC 3596 nibble format), a name template and one or more
 * backends: a hosts file per network in a directory dnsmasq --hostsdir watches, the
 * PowerDNS HTTP API, RFC 2136 dynamic update with TSIG (through ldns).
 *
 * What v6pd published is recorded in the store (store_dns_*): each record's name, address,
 * backend and state. A failure leaves the record pending (or, for a removal, stale) with its
 * message; dns_sync() retries, removes what v6pd published and no longer holds, and never
 * touches a name or address it did not publish. Per name, v6pd owns the AAAA RRset it
 * published (PowerDNS replaces whole RRsets) and each PTR at an address it published.
 *
 * Secrets (the PowerDNS API key, the TSIG secret) come only from files that group and others
 * cannot read; no message ever contains one. The core logs nothing: failures come back as a
 * negative errno with a message naming the backend, the server and the zone.
 */
#pragma once

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "prefix.h"
#include "store.h"

#define DNS_NAME_MAX 256		/* a presentation FQDN with its dot, NUL included */
#define DNS_TEMPLATE_MAX 256
#define DNS_URL_MAX 512
#define DNS_DEFAULT_TTL 300
#define DNS_DEFAULT_TIMEOUT 2		/* seconds per backend call */
#define DNS_DEFAULT_TEMPLATE "{name}"	/* "{name}.{namespace}" when there is a namespace */
#define DNS_HOSTS_PREFIX "v6pd-"	/* hostsDir/v6pd-NETWORK.hosts */
#define DNS_HOSTS_SUFFIX ".hosts"

/* CNI's own "dns" keys (SPEC.md "DNS"), passed through to the runtime in ADD results. Strings
 * are as given (checked: nameservers IPv4 or IPv6 addresses, domain and search DNS names,
 * options without spaces). */
#define DNS_CNI_LIST_MAX 16		/* entries per list */
#define DNS_CNI_OPTION_MAX 64		/* "ndots:5", "edns0", ... with the NUL */

struct dns_cni {
	char nameservers[DNS_CNI_LIST_MAX][INET6_ADDRSTRLEN];
	unsigned n_nameservers;
	char domain[DNS_NAME_MAX];	/* "": none */
	char search[DNS_CNI_LIST_MAX][DNS_NAME_MAX];
	unsigned n_search;
	char options[DNS_CNI_LIST_MAX][DNS_CNI_OPTION_MAX];
	unsigned n_options;
};

enum dns_on_release {
	DNS_RELEASE_REMOVE,		/* a released lease's records go at once */
	DNS_RELEASE_KEEP,		/* ...only when its reservation ends */
};

struct dns_config {
	bool enabled;			/* a "dns" object with a "zone" was given */
	char zone[DNS_NAME_MAX];	/* lower case, with the trailing dot */
	char reverse_zone[DNS_NAME_MAX];	/* "": each lease's slice's ip6.arpa zone */
	bool ptr;			/* publish PTR records (default true) */
	uint32_t ttl;
	char name_template[DNS_TEMPLATE_MAX];	/* "": the default (see dns_name_render) */
	enum dns_on_release on_release;
	bool required;			/* a failure fails the ADD */
	unsigned timeout;		/* seconds */
	bool hosts;			/* backend hostsDir */
	char hosts_dir[STORE_DNS_TARGET_MAX];
	bool pdns;			/* backend powerdns */
	char pdns_url[DNS_URL_MAX];	/* "http://127.0.0.1:8081", no trailing '/' */
	char pdns_server_id[128];
	char pdns_key_file[PATH_MAX];
	bool rfc2136;			/* backend rfc2136 */
	char rfc2136_server[DNS_NAME_MAX];
	unsigned rfc2136_port;
	char rfc2136_key_file[PATH_MAX];
	char rfc2136_algorithm[32];	/* "" until read from the key file: "hmac-sha256" */
	struct dns_cni cni;		/* CNI's keys, enabled or not; never stored */
};

/* Reads a network's "dns" object: CNI's own keys (nameservers, domain, search, options) into
 * ret->cni, and v6pd's publishing keys; an object with none of the latter leaves ret disabled,
 * one with any of them but no zone is an error, and so is a key that is neither. slice_len
 * (0: unknown) and per_container_slice check that a reverse zone can be derived: a slice
 * length that is not a multiple of 4 has no ip6.arpa zone cut, so "reverseZone" must be
 * given (or "ptr": false). Messages name the key, e.g.
 * `"dns.ttl" 0: must be 1..2147483647`. obj is borrowed. */
int dns_config_from_json(const json_t *obj, unsigned slice_len, bool per_container_slice,
			 struct dns_config *ret);
/* The config as JSON that dns_config_from_json() reads back (paths to secrets, never
 * secrets). A new reference, NULL when out of memory. */
json_t *dns_config_to_json(const struct dns_config *c);

/* ---- names (pure) ---- */

/* What a name template can use: {name} the lease's hostname (Podman's container name, a
 * pod's name, a VM's domain name), {namespace} the pod's namespace (from a key
 * "NAMESPACE/NAME"), {network}, {key}. Strings other than the namespace are borrowed from
 * the lease. */
struct dns_name_vars {
	const char *name;
	char namespace_[STORE_KEY_MAX];	/* "" when none */
	const char *network;
	const char *key;
};

void dns_name_vars_from_lease(const struct lease *l, struct dns_name_vars *ret);

/* The FQDN (lower case, trailing dot) for template (NULL or "": the default, "{name}", or
 * "{name}.{namespace}" when there is a namespace) under zone. -ENODATA when a variable the
 * template uses is empty, -EINVAL when the result is not a valid DNS name; the message
 * names the template and the value. */
int dns_name_render(const char *template_, const struct dns_name_vars *v, const char *zone,
		    char ret[DNS_NAME_MAX]);

/* Checks and normalises a zone or absolute name: lower case, trailing dot added, labels of
 * 1..63 bytes of [a-z0-9_-], at most 253 bytes. what names the field in messages. */
int dns_name_normalize(const char *what, const char *in, char ret[DNS_NAME_MAX]);

/* "b.a.9.8....ip6.arpa." for an address (32 nibbles). */
void dns_reverse_name(const struct in6_addr *a, char ret[DNS_NAME_MAX]);
/* The ip6.arpa zone of a prefix: len/4 nibbles. -EINVAL (with a message saying why and what
 * to do) when len is not a multiple of 4. */
int dns_reverse_zone(const struct prefix *p, char ret[DNS_NAME_MAX]);
/* Whether name is zone or below it (both absolute, lower case). */
bool dns_name_in_zone(const char *name, const char *zone);

/* ---- records ---- */

struct dns_record {
	char name[DNS_NAME_MAX];	/* the AAAA's owner */
	char zone[DNS_NAME_MAX];
	struct in6_addr addr;
	char ptr_zone[DNS_NAME_MAX];	/* "": no PTR */
};

/* The record c gives lease l. -ENODATA (message says why) when l has no address or no name
 * for the template, -EINVAL when the PTR would fall outside an explicit reverseZone or no
 * reverse zone can be derived. */
int dns_record_for_lease(const struct dns_config *c, const struct lease *l,
			 struct dns_record *ret);

/* Whether l's records belong in DNS: active, or reserved with onRelease "keep". */
bool dns_lease_wanted(const struct dns_config *c, const struct lease *l);

/* ---- publishing ---- */

/* Where the PowerDNS backend's HTTP exchanges run. By default in this process (libcurl is
 * loaded on first use). The CNI plugin and the libvirt hook are linked statically, and
 * dlopen() from a static binary ties it to the exact glibc it was built with, so they hand
 * the exchanges to the small dynamically linked helper v6pd-dns-http instead
 * (dns_pdns_via_helper). The store work (which records, the RRsets' content, the outcome)
 * stays in the caller either way. A runner fills every request's outcome and returns 0, or
 * a negative errno with a message when it could not run them at all. state_dir is the
 * store's (store_state_dir()). NULL restores the default. */
struct dns_http_req;
typedef int (*dns_pdns_runner_fn)(struct dns_http_req *reqs, size_t n, const char *api_key,
				  unsigned timeout_ms, const char *state_dir);
void dns_set_pdns_runner(dns_pdns_runner_fn runner);

/* The runner the statically linked front ends use: runs the exchanges in v6pd-dns-http,
 * found beside the running binary or in the install's libexec/v6pd directory. First choice:
 * the helper that lingers for state_dir (and this network namespace) and serves every call
 * over a unix socket in state_dir, started here when none answers, so a burst of calls
 * loads libcurl's thirty shared libraries (~5 ms) once and reuses its HTTP connections; it
 * exits after V6PD_DNS_HTTP_IDLE (default 60 s) without a call ("0": no lingering helper).
 * Else, or when that one cannot be had, a helper for this call alone (one started by
 * dns_pdns_helper_prestart() when there is one). */
int dns_pdns_via_helper(struct dns_http_req *reqs, size_t n, const char *api_key,
			unsigned timeout_ms, const char *state_dir);
/* Gets the next dns_pdns_via_helper() of this process ready while the caller works: connects
 * to the lingering helper of state_dir, or starts it (it loads libcurl meanwhile), or starts
 * a helper for that call. Failures are left for that call to find and report. */
void dns_pdns_helper_prestart(const char *state_dir);
/* Ends what dns_pdns_helper_prestart() made and no call used: closes the connection, ends a
 * helper of one call (by its PID). A lingering helper stays. */
void dns_pdns_helper_release(void);
/* For a process serving many calls at once (`v6pd --serve`): prestarting stops, as what it
 * makes ahead is the process's, not a call's. Each publication connects on its own. */
void dns_pdns_helper_prestart_off(void);

/* ADD: records c (for dns sync) and publishes l on every backend, removing what was
 * published for l's key under another name or address (a renumbering, a new template).
 * Returns 0, or the first failure (a negative errno, the message naming backend, server and
 * zone); a failure is recorded in the store, and with c->required what this call published
 * is taken back. A disabled c: 0, nothing done. */
int dns_publish(struct store *s, const struct dns_config *c, const struct lease *l,
		int64_t now);
/* DEL: with onRelease "remove", removes every record published for l's key; "keep": none.
 * A failure leaves the record stale in the store for dns sync. */
int dns_withdraw(struct store *s, const struct dns_config *c, const struct lease *l,
		 int64_t now);
/* A failed ADD put the key's lease back as it was: prev (NULL when the key had none).
 * Brings the key's records in line with it: publishes prev again when it belongs in DNS,
 * else removes every record published for the key. Failures stay in the store for dns
 * sync. A disabled c: 0, nothing done. */
int dns_restore(struct store *s, const struct dns_config *c, const char *network,
		const char *key, const struct lease *prev, int64_t now);

/* dns_publish() on a thread of its own (dns_async.c), so a caller can configure links
 * meanwhile. dns_job_start() makes the thread at once, before the lease is known: it gets
 * the backends ready (RFC 2136: the key read, ldns's and OpenSSL's first signature, ~1 ms
 * in a new process) and waits. dns_job_publish() hands it the store, the lease and the time:
 * the thread does the store work and the backends' I/O (the hosts file's write and fsync,
 * the UPDATE or HTTP exchanges, the helper), never setns() (it stays in the network
 * namespace of the thread that started it). s is the job's from dns_job_publish() until
 * dns_job_wait() returns: the caller must not use it in between (one SQLite connection, one
 * thread at a time). c and l are copied. A thread that cannot be made: dns_job_publish()
 * publishes there and then. A disabled c: *ret gets NULL, and the other two accept it. */
struct dns_job;
int dns_job_start(const struct dns_config *c, struct dns_job **ret);
void dns_job_publish(struct dns_job *j, struct store *s, const struct lease *l, int64_t now);
/* Runs fn(arg) on the job's thread, before it publishes: work that ends in the lease (the
 * CNI plugin's lease transaction), so the publication follows it on the same thread without
 * waking another. fn may call dns_job_publish() (then the publication runs once fn
 * returns). Once per job, before dns_job_publish(); dns_job_wait() lets fn run first. False
 * when there is no thread to run it on (the caller runs fn itself). */
bool dns_job_run(struct dns_job *j, void (*fn)(void *), void *arg);
/* Waits for the job's outcome (one never handed a lease just ends), lets go of the job and
 * returns what dns_publish() returned, its message in err_msg() of the calling thread; 0
 * when nothing was published. s is the caller's again. The thread may still be closing
 * files the publication replaced (dns_close_later()); it frees the job if it is last. */
int dns_job_wait(struct dns_job *j);

/* A renumbering moved l (same network and key) to a new address: publishes the new one and
 * removes the old, per the DNS settings the network's last ADD recorded. 0 when the network
 * has none. */
int dns_lease_renumbered(struct store *s, const struct lease *l, int64_t now);

struct dns_sync_report {
	unsigned networks;		/* networks with DNS settings looked at */
	unsigned published;		/* records (re)published */
	unsigned removed;		/* records removed */
	unsigned failed;		/* records still pending or stale */
};

/* Reconciles the store and DNS for network (NULL: every network with DNS settings):
 * publishes every lease that belongs in DNS again (adding what is missing), removes what
 * v6pd published and no longer holds. Returns the first failure after trying everything;
 * ret (may be NULL) gets the counts either way. */
int dns_sync(struct store *s, const char *network, int64_t now, struct dns_sync_report *ret);

/* A zone-file fragment (AAAA and PTR, one per line) of network's leases that belong in DNS,
 * per the DNS settings its last ADD recorded. A new string the caller free()s. -ENOENT when
 * the network has no DNS settings. */
int dns_export(struct store *s, const char *network, char **ret);
