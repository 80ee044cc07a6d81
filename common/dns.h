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
};

/* Reads a network's "dns" object. An object without "zone" and without backends is CNI's own
 * "dns" (nameservers, domain, search) and leaves ret disabled; one with backends but no zone
 * is an error. slice_len (0: unknown) and per_container_slice check that a reverse zone can
 * be derived: a slice length that is not a multiple of 4 has no ip6.arpa zone cut, so
 * "reverseZone" must be given (or "ptr": false). Messages name the key, e.g.
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

/* Where the PowerDNS backend runs. By default in this process (libcurl is loaded on first
 * use). The CNI plugin is linked statically, and dlopen() from a static binary ties it to the
 * exact glibc it was built with, so it hands PowerDNS work to the dynamically linked v6pdctl
 * instead: runner(s, network) must bring the network's PowerDNS records in line with the
 * store (v6pdctl dns sync --network NETWORK) and return 0 or a negative errno with a
 * message. NULL restores the default. */
typedef int (*dns_pdns_runner_fn)(struct store *s, const char *network);
void dns_set_pdns_runner(dns_pdns_runner_fn runner);

/* The runner the statically linked front ends (the CNI plugin, the libvirt hook) use: runs
 * `v6pdctl --state-dir DIR dns sync --network NETWORK`, v6pdctl found beside the running
 * binary or in the install's sbin directory; its first stderr line is the message. */
int dns_pdns_via_v6pdctl(struct store *s, const char *network);

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
