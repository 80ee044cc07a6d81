/* store: the lease store. Networks own slices of a base prefix (the host's delegated prefix
 * or their own); leases give each (network, key) one address, kept across restarts and
 * across a change of the delegated prefix (a lease stores slice index and IID, never the
 * address). Every operation is one transaction; concurrent processes queue.
 *
 * Backends: sqlite (the embedded default, state_dir/leases.db). Every other part of v6pd
 * talks to this header only.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addrgen.h"
#include "pdenv.h"
#include "prefix.h"

#define STORE_NAME_MAX 128	/* network names */
#define STORE_KEY_MAX 256	/* stable keys */
#define STORE_CID_MAX 256	/* container IDs */
#define STORE_IFNAME_MAX 16	/* IFNAMSIZ */
#define STORE_NETNS_MAX 256
#define STORE_HOSTNAME_MAX 256
#define STORE_MAC_MAX 18
#define STORE_DB_FILE "leases.db"
#define STORE_SCHEMA_VERSION 4

#define STORE_DEFAULT_SLICE_LEN 64
#define STORE_DEFAULT_MAX_LEASES 4096
#define STORE_DEFAULT_RETENTION (7 * 24 * 3600)

struct store;

/* A network's settings as a netconf gives them. base prefix, sliceLength, subnetId and
 * perContainerSlice are fixed when the network is created; a later netconf that disagrees is
 * refused with a message naming the key. iid, maxLeases and retention follow the netconf. */
struct store_network {
	const char *name;
	bool has_prefix;		/* false: follow the host's delegated prefix */
	struct prefix prefix;
	unsigned slice_len;		/* 64..120 */
	int64_t subnet_id;		/* -1: the lowest free slice index */
	bool per_container_slice;	/* each lease owns a slice instead */
	enum iid_mode iid;
	uint32_t max_leases;
	int64_t retention;		/* seconds a released lease stays reserved */
};

/* Fills the defaults (host prefix, /64, allocated slice, stable IIDs, 4096, 7 days). */
void store_network_init(struct store_network *n, const char *name);

/* A network as stored. */
struct store_net_info {
	char name[STORE_NAME_MAX];
	bool has_prefix;		/* own base prefix (else the host's) */
	struct prefix base;		/* valid when base_known */
	bool base_known;		/* false: follows the host prefix and none is set */
	unsigned slice_len;
	bool per_container_slice;
	bool has_slice;			/* false for perContainerSlice networks */
	uint64_t slice_index;
	struct prefix slice;		/* valid when base_known && has_slice */
	enum iid_mode iid;
	uint32_t max_leases;
	int64_t retention;
	uint32_t lease_count;		/* active + reserved */
	int64_t created;
};

enum lease_state {
	LEASE_ACTIVE,
	LEASE_RESERVED,
};

const char *lease_state_to_string(enum lease_state s);

struct lease {
	char network[STORE_NAME_MAX];
	char key[STORE_KEY_MAX];
	uint64_t slice_index;
	uint64_t iid;
	bool addr_known;		/* false: the base prefix is not known */
	struct in6_addr addr;
	struct prefix slice;		/* the slice addr lies in */
	char container_id[STORE_CID_MAX];
	char ifname[STORE_IFNAME_MAX];
	char netns[STORE_NETNS_MAX];
	char hostname[STORE_HOSTNAME_MAX];
	char mac[STORE_MAC_MAX];
	enum lease_state state;
	bool pinned;			/* reserved by an operator: never expires */
	int64_t created;
	int64_t updated;
	int64_t released;		/* 0 while active */
	int64_t expires;		/* 0: never (active or pinned) */
};

struct store_attach;

/* Who asks for a lease. Strings are borrowed; NULL or "" where unknown. */
struct lease_request {
	const char *key;
	const char *container_id;
	const char *ifname;
	const char *netns;
	const char *hostname;
	const char *mac;
	const struct in6_addr *want;	/* a fixed address (IP=, the ips capability), or NULL */
	bool reserve_only;		/* v6pdctl lease reserve: pinned, not active */
	const struct store_attach *attach; /* how the workload is attached (renumbering reads
					    * it back); NULL: the record stays as it is */
	struct lease *prev;		/* when set: the key's lease as it was, read in the same
					 * transaction, and *had_prev whether there was one */
	bool *had_prev;
};

/* Opens (creating state_dir mode 0700 and the database mode 0600 when missing) and
 * migrates the store. Refuses a file that is not a v6pd store, a newer schema, a corrupt
 * database, with a message naming the path. */
int store_open(const char *state_dir, struct store **ret);
void store_close(struct store *s);
/* store_close() for a short-lived front end about to exit, its output done (stdout flushed):
 * when this process's commits left the WAL past a few dozen frames, also starts a detached
 * worker (new session, stdio on /dev/null, no other descriptor of the caller's) that
 * checkpoints and truncates it with a connection of its own, unless one is at it already,
 * so the next callers neither pay that checkpoint nor read a long WAL back when they open
 * the store. Returns at once; the worker exits within milliseconds and prints nothing. */
void store_close_detached(struct store *s);
/* For a process that keeps stores open (`v6pd --serve`): whether this connection's commits
 * left the WAL past those few dozen frames, and the checkpoint that truncates it (in the
 * writers' queue; a reader's old snapshot defers it to a later call). */
bool store_wal_due(const struct store *s);
void store_wal_checkpoint(struct store *s);
/* Reads every page of the store (SQLite's quick_check) and fails with -EBADMSG naming the
 * path when any is damaged. store_open() only looks at the file's header; damage elsewhere
 * otherwise shows when an operation reaches it. Costs time linear in the store's size (about
 * 2 ms for 4,000 leases): v6pdctl runs it, the per-container hot path does not. */
int store_check(struct store *s);
const char *store_state_dir(const struct store *s);

/* The host's delegated prefix. set: -EINVAL when a host-prefix network's slice would not
 * fit the new prefix; ret_old (may be NULL) gets the previous one, ret_changed whether it
 * differed. get: -ENOENT when none was set. */
int store_prefix_set(struct store *s, const struct prefix *p, int64_t now, bool *ret_changed,
		     struct prefix *ret_old, bool *ret_had_old);
int store_prefix_get(struct store *s, struct prefix *ret, int64_t *ret_since);
/* The host prefix before the current one; -ENOENT (no message) when there was none. */
int store_prefix_previous(struct store *s, struct prefix *ret);

/* Creates the network (allocating its slice) if missing, checks and updates its settings. */
int store_network_ensure(struct store *s, const struct store_network *cfg, int64_t now,
			 struct store_net_info *ret);
/* -ENOENT when the network does not exist. */
int store_network_get(struct store *s, const char *name, struct store_net_info *ret);
/* A new array the caller free()s. */
int store_network_list(struct store *s, struct store_net_info **ret, size_t *ret_n);

/* The key's lease: its existing one (now active and attached to req's container), or a new
 * unique address. The network is created from cfg on first use. With req->want the address
 * is that one or the call fails naming the key that holds it. -ENOSPC when maxLeases is
 * reached or the slice has no free IID, -ENOENT when no base prefix is known. */
int store_lease_acquire(struct store *s, const struct store_network *cfg,
			const struct lease_request *req, int64_t now, struct lease *ret);

/* Moves the lease into the reserved state for the network's retention (pinned leases stay
 * pinned). -ENOENT when there is none. */
int store_lease_release(struct store *s, const char *network, const char *key, int64_t now,
			struct lease *ret);
/* The same for whatever lease (container_id, ifname) holds in network; -ENOENT if none. */
int store_lease_release_attachment(struct store *s, const char *network,
				   const char *container_id, const char *ifname, int64_t now,
				   struct lease *ret);
/* An operator's release (v6pdctl lease release): unpins the lease and moves it into the
 * reserved state, kept for the network's retention counted from now. -ENOENT when there is
 * none. */
int store_lease_unpin(struct store *s, const char *network, const char *key, int64_t now,
		      struct lease *ret);
/* Writes prev back over the key's lease: the undo of a store_lease_acquire() whose
 * attachment failed. prev comes from store_lease_get() before the acquire. */
int store_lease_restore(struct store *s, const struct lease *prev);

/* Deletes the lease at once (the address is free for anyone). */
int store_lease_forget(struct store *s, const char *network, const char *key);

int store_lease_get(struct store *s, const char *network, const char *key, struct lease *ret);
int store_lease_get_attachment(struct store *s, const char *network, const char *container_id,
			       const char *ifname, struct lease *ret);
/* network NULL: every network. A new array the caller free()s. */
int store_lease_list(struct store *s, const char *network, struct lease **ret, size_t *ret_n);
/* The leases of network with that MAC, any state, by key (an index: cost independent of the
 * network's size); *ret (free()) may be NULL when *ret_n is 0. */
int store_lease_find_mac(struct store *s, const char *network, const char *mac,
			 struct lease **ret, size_t *ret_n);

struct store_attachment {
	const char *container_id;
	const char *ifname;
};

/* Releases every active lease of network whose (container_id, ifname) is not in valid.
 * ret (may be NULL) gets a new array of the leases released. Returns their number. */
int store_gc_attachments(struct store *s, const char *network,
			 const struct store_attachment *valid, size_t n_valid, int64_t now,
			 struct lease **ret, size_t *ret_n);

/* Deletes reserved, unpinned leases whose reservation ended: expires <= now, or, with
 * older_than >= 0, released at least older_than seconds ago. Returns their number. */
int store_gc_expired(struct store *s, int64_t now, int64_t older_than);

/* ---- DNS records v6pd published (store_sqlite_dns.c; used by dns.h) ---- */

#define STORE_DNS_NAME_MAX 256		/* presentation FQDN with its dot */
#define STORE_DNS_BACKEND_MAX 16	/* "hostsDir", "powerdns", "rfc2136" */
#define STORE_DNS_TARGET_MAX 1024	/* the directory, API URL + server id, server:port */
#define STORE_DNS_ERROR_MAX 512

enum store_dns_state {
	STORE_DNS_PUBLISHED,		/* in DNS */
	STORE_DNS_PENDING,		/* wanted in DNS; publishing failed or is under way */
	STORE_DNS_STALE,		/* published, no longer wanted; removal failed or under way */
};

const char *store_dns_state_to_string(enum store_dns_state s);

/* One record on one backend: the AAAA name -> addr in zone and, unless ptr_zone is "", the
 * PTR for addr in ptr_zone. Keyed by (network, key, backend, name, addr). */
struct store_dns_record {
	char network[STORE_NAME_MAX];
	char key[STORE_KEY_MAX];		/* the lease's key */
	char backend[STORE_DNS_BACKEND_MAX];
	char target[STORE_DNS_TARGET_MAX];
	char name[STORE_DNS_NAME_MAX];
	char zone[STORE_DNS_NAME_MAX];
	struct in6_addr addr;
	char ptr_zone[STORE_DNS_NAME_MAX];
	enum store_dns_state state;
	char error[STORE_DNS_ERROR_MAX];	/* the last failure, "" when none */
	int64_t updated;
};

struct store_name {
	char name[STORE_NAME_MAX];
};

/* The JSON DNS settings a network's last ADD used (dns sync and export read them back).
 * put writes only when they changed. get: a new string; -ENOENT when none. list: the
 * networks that have some, a new array. */
int store_dns_config_put(struct store *s, const char *network, const char *config, int64_t now);
int store_dns_config_get(struct store *s, const char *network, char **ret);
int store_dns_config_list(struct store *s, struct store_name **ret, size_t *ret_n);

/* Writes every record of put (insert or replace) and deletes every one of del, in one
 * transaction. */
int store_dns_update(struct store *s, const struct store_dns_record *put, size_t n_put,
		     const struct store_dns_record *del, size_t n_del);
/* Records of network (NULL: every network), of key and backend unless NULL. A new array. */
int store_dns_list(struct store *s, const char *network, const char *key, const char *backend,
		   struct store_dns_record **ret, size_t *ret_n);
/* Records, of any network, that backend holds at target under name (addr NULL) or for addr
 * (name NULL). A new array. */
int store_dns_find(struct store *s, const char *backend, const char *target, const char *name,
		   const struct in6_addr *addr, struct store_dns_record **ret, size_t *ret_n);

/* ---- attachments and renumbering (store_sqlite_renum.c; used by renumber.h) ---- */

enum store_attach_mode {
	STORE_ATTACH_UNKNOWN,		/* a lease from before schema 3 */
	STORE_ATTACH_BRIDGE,		/* CNI bridge mode: a veth, its host end on bridge `link` */
	STORE_ATTACH_ROUTED,		/* CNI routed mode: the address routed to host end `link` */
	STORE_ATTACH_IPAM,		/* CNI IPAM role: the calling plugin made the links */
	STORE_ATTACH_VM_BRIDGE,		/* a libvirt guest on the v6pd bridge `link` */
	STORE_ATTACH_VM_TAP,		/* a libvirt guest behind the routed tap `link` */
	STORE_ATTACH_VM_NETWORK,	/* a libvirt guest on the libvirt network `link` */
};

const char *store_attach_mode_to_string(enum store_attach_mode m);

/* How a lease's workload is attached, written with the lease (lease_request.attach): what a
 * renumbering changes. The record goes when the lease is deleted. */
struct store_attach {
	enum store_attach_mode mode;
	char link[STORE_NAME_MAX];	/* per mode; "" when none */
	char uplink[STORE_IFNAME_MAX];	/* routed: the ndpProxy uplink; "" when none */
	uint8_t plen;			/* the workload's prefix length; 0: unknown */
	int64_t grace;			/* renumberGrace in seconds; -1: the host's default */
};

/* One lease a renumbering has yet to move: its live attachment still carries the host prefix
 * `from` (written at ADD, or adopted from the previous prefix for leases from before schema
 * 3 when the prefix changes); lease.addr is already at the current prefix. */
struct store_renumber_item {
	struct lease lease;
	struct store_attach attach;
	struct prefix from;
};

/* The leases a renumbering has yet to move, in (network, key) order. A new array. */
int store_renumber_pending(struct store *s, struct store_renumber_item **ret, size_t *ret_n);

enum store_drain_kind {
	STORE_DRAIN_ADDRESS,		/* a workload's old address, deprecated (the kernel times it) */
	STORE_DRAIN_GATEWAY,		/* a slice's old ::1 on a host link, deprecated (likewise) */
	STORE_DRAIN_ROUTE,		/* an old host route, RTA_EXPIRES set; removed when due */
	STORE_DRAIN_PROXY,		/* an old proxy NDP entry on an uplink; removed when due */
};

const char *store_drain_kind_to_string(enum store_drain_kind k);

/* Something a renumbering left to drain until `until`. Keyed by (kind, netns, link, what). */
struct store_drain {
	enum store_drain_kind kind;
	char netns[STORE_NETNS_MAX];	/* "": the host's */
	char link[STORE_IFNAME_MAX];
	struct prefix what;		/* the address (with its prefix length), route or entry */
	struct prefix origin;		/* the host prefix it came from */
	int64_t until;
};

/* One renumbering's outcome, in one transaction: each done item now carries `to` (unless a
 * concurrent ADD already moved it), each drain in add is recorded (an existing one keeps its
 * time), each in cancel (an object that is live again) forgotten. */
struct store_renumber_batch {
	const struct store_renumber_item *done;
	size_t n_done;
	const struct store_drain *add;
	size_t n_add;
	const struct store_drain *cancel;
	size_t n_cancel;
};

int store_renumber_commit(struct store *s, const struct prefix *to,
			  const struct store_renumber_batch *b);

/* Every recorded drain, soonest first (a new array); forgets one. */
int store_drain_list(struct store *s, struct store_drain **ret, size_t *ret_n);
int store_drain_forget(struct store *s, const struct store_drain *d);

/* The delegated prefixes the DHCPv6 client's hook reported so far (pdenv.h): load gives a new
 * array, save replaces them all. */
int store_pd_load(struct store *s, struct pdenv_known **ret, size_t *ret_n);
int store_pd_save(struct store *s, const struct pdenv_known *k, size_t n);
