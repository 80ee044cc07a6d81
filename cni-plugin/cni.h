/* The v6pd CNI plugin: CNI 1.1.0 verbs over the v6pd core. */
#pragma once

#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>

#include "config.h"
#include "store.h"

/* CNI well-known error codes (SPEC.md "Well-known Error Codes") and ours (100+). */
enum cni_code {
	CNI_ERR_VERSION = 1,
	CNI_ERR_ENV = 4,
	CNI_ERR_IO = 5,
	CNI_ERR_DECODE = 6,
	CNI_ERR_CONFIG = 7,
	CNI_ERR_TRY_AGAIN = 11,
	CNI_ERR_UNAVAILABLE = 50,
	CNI_ERR_STORE = 100,		/* the lease store failed */
	CNI_ERR_NO_ADDRESS = 101,	/* no prefix, prefix or network full, address taken */
	CNI_ERR_LINK = 102,		/* netlink: veth, bridge, address, route */
	CNI_ERR_NETNS = 103,		/* the netns is missing or not a netns */
	CNI_ERR_CHECK = 104,		/* CHECK found the attachment broken */
	CNI_ERR_DNS = 105,		/* publishing in DNS failed and "dns.required" */
};

enum cni_cmd {
	CNI_ADD,
	CNI_DEL,
	CNI_CHECK,
	CNI_VERSION,
	CNI_STATUS,
	CNI_GC,
};

struct cni_env {
	enum cni_cmd cmd;
	const char *command;
	const char *container_id;	/* "" when not given */
	const char *netns;		/* "" when not given (DEL may have none) */
	const char *ifname;
	/* From CNI_ARGS */
	const char *k8s_namespace;
	const char *k8s_name;
	bool has_ip;
	struct in6_addr ip;
	const char *mac;
	char args_buf[4096];
};

/* Everything one invocation needs, parsed and checked. */
struct cni_req {
	struct cni_env env;
	json_t *conf;			/* stdin, owned */
	const char *version;		/* the netconf's cniVersion (points into conf) */
	bool ipam_role;			/* called as "ipam": {"type": "v6pd"} */
	struct net_config cfg;
	char key[STORE_KEY_MAX];
	const char *key_source;		/* "args", "k8s pod", "k8s name", "container ID" */
	bool has_want;
	struct in6_addr want;
	char mac[STORE_MAC_MAX];
	char host_link[STORE_IFNAME_MAX];	/* attach.c: the host end, for the lease's record */
	struct store *store;
};

/* env.c: reads and checks the CNI_* variables for the command. */
int cni_env_read(struct cni_env *ret);
/* Whether s is a valid CNI container ID ([a-zA-Z0-9][a-zA-Z0-9_.-]*, < 256 bytes). */
int cni_check_container_id(const char *s);

/* A MAC address for a container end: parsed, unicast and not all-zero; messages name
 * `what` (e.g. "CNI_ARGS MAC"). */
int cni_mac_parse(const char *what, const char *s, uint8_t ret[6]);

/* netconf.c: parses stdin's netconf for req->env.cmd; fills the rest of req. */
int cni_netconf_read(struct cni_req *req, const char *self_type, int *ret_code);
/* The supported versions, newest last; whether v is one of them. */
extern const char *const cni_versions[];
bool cni_version_supported(const char *v);

/* result.c */
void cni_error_print(const char *version, int code, const char *msg, const char *details);
/* Prints the result of an ADD: lease l on the attachment described by the arguments. */
struct cni_iface {
	const char *name;
	const char *mac;
	const char *sandbox;	/* NULL for host-side interfaces */
	unsigned mtu;
};
int cni_result_print(const struct cni_req *req, const struct cni_iface *ifs, int n_ifs,
		     int ip_iface, const struct lease *l, const char *gateway,
		     const char *route_gw);
/* The prefix length of the result's address: 128 for a routed container's own address, the
 * slice's length otherwise (bridge, routed perContainerSlice, the IPAM role). */
unsigned cni_result_prefixlen(const struct cni_req *req);
/* Echoes VERSION's answer. */
void cni_version_print(const char *version);

/* ipam.c: the IPAM role. attach.c: the full plugin (bridge and routed). Each returns 0 or
 * a negative errno with err_set() done, and sets *ret_code to the CNI code to report. */
int cni_ipam_run(struct cni_req *req, int *ret_code);
int cni_attach_run(struct cni_req *req, int *ret_code);
/* check.c: CHECK of the full plugin, host the attachment's host end (attach.c names it).
 * cni_check_prev_result(): prevResult (when given) lists lease l's address, or the address
 * a renumbering moved it from; 0 or -EINVAL with a message naming both addresses. */
int cni_check_attachment(struct cni_req *req, const char *host, int *ret_code);
int cni_check_prev_result(const struct cni_req *req, const struct lease *l);

/* io.c: where a call's input, output and log go, and where its store comes from. A process
 * per call (the default) has stdin, stdout, stderr and a store of its own; `v6pd --serve`
 * (serve.c) gives each request, on its thread, buffers and a store lent from its pool. */
struct cni_io {
	FILE *in, *out, *err;
	int (*store_take)(const char *state_dir, struct store **ret);
	void (*store_give)(struct store *s);
};
/* This thread's (NULL: the process's stdio and a store per call). */
void cni_io_set(const struct cni_io *io);
const struct cni_io *cni_io_current(void);
/* A stdin read already (buf, len: borrowed, outliving the stream) as a stream to read from;
 * NULL when none can be made. */
FILE *cni_io_input(char *buf, size_t len);
FILE *cni_in(void);
FILE *cni_out(void);
FILE *cni_err(void);
/* The store of req->cfg.state_dir: opened, or lent. */
int cni_store_take(const char *state_dir, struct store **ret);
/* Done with it (NULL: nothing): closed (its WAL checkpoint detached), or given back. */
void cni_store_give(struct store *s);

/* run.c: one CNI call, with this thread's io and environment (tenv.h); the exit status. */
int cni_run(void);

/* Log lines go to stderr, which runtimes keep (the spec allows it). */
void cni_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* lease.c: what both roles do with the store. */
struct cni_lease_txn {
	struct lease lease;	/* what the acquire returned */
	struct lease prev;	/* the key's lease before, when had_prev */
	bool had_prev;
	bool acquired;
};

int cni_code_for(int r);
int cni_store_open(struct cni_req *req, int *ret_code);
int cni_lease_acquire(struct cni_req *req, struct cni_lease_txn *t, int *ret_code);
/* Puts the key's lease back as it was before cni_lease_acquire(). */
void cni_lease_undo(struct cni_req *req, struct cni_lease_txn *t);
/* Releases the attachment's lease; -ENOENT (not reported) when it holds none. */
int cni_lease_release(struct cni_req *req, struct lease *ret, int *ret_code);
/* The GC verb's list; a new array (borrowing strings from req->conf). */
int cni_gc_valid_read(const struct cni_req *req, struct store_attachment **ret, size_t *ret_n);
/* STATUS: the store opens and a prefix is known. */
int cni_status(struct cni_req *req, int *ret_code);
/* GC of the store: releases leases of attachments not listed; ret gets them (free()). */
int cni_gc(struct cni_req *req, struct lease **ret, size_t *ret_n, int *ret_code);

/* dns.c: the netconf's "dns" (nothing when it has none). publish: a failure is logged and
 * recorded in the store; it fails the ADD (CNI_ERR_DNS) only with "required": true.
 * withdraw: per "onRelease"; failures are logged, never fatal. */
int cni_dns_publish(struct cni_req *req, const struct lease *l, int *ret_code);
void cni_dns_withdraw(struct cni_req *req, const struct lease *l);

/* The full plugin's ADD publishes beside its link set-up (dns.c, common/dns_async.c):
 * cni_dns_prepare() at its start makes the publishing thread, which gets the backends ready
 * while the lease is taken (a PowerDNS backend's helper starts loading libcurl too);
 * cni_dns_begin() once the lease is taken hands it the lease (req->store is the thread's
 * until cni_dns_wait()); cni_dns_end() before the result, with cni_dns_publish()'s outcome
 * and log. A failing ADD calls cni_dns_wait(), puts the lease back, then cni_dns_undo(),
 * which takes back what the publication did (a "required" publication that failed took
 * back its own). */
struct cni_dns_job {
	struct dns_job *job;
	bool started;		/* handed the lease */
	int r;			/* the publication's outcome, once waited for */
	char msg[1024];		/* ...and its message */
};

void cni_dns_prepare(struct cni_req *req, struct cni_dns_job *j);
/* Runs fn(arg) on the publication's thread before it publishes (dns_job_run()); false:
 * no such thread. */
bool cni_dns_run(struct cni_dns_job *j, void (*fn)(void *), void *arg);
void cni_dns_begin(struct cni_req *req, const struct lease *l, struct cni_dns_job *j);
void cni_dns_wait(struct cni_dns_job *j);
int cni_dns_end(struct cni_req *req, struct cni_dns_job *j, const struct lease *l,
		int *ret_code);
void cni_dns_undo(struct cni_req *req, struct cni_dns_job *j, const struct cni_lease_txn *t);
