/* The full plugin: a veth pair per attachment, its host end on a bridge (bridge mode) or
 * routed (routed mode); gateways are fe80::1 so a renumbering never breaks the default
 * route (DESIGN.md decision 6). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "addrgen.h"
#include "cni.h"
#include "err.h"
#include "hostside.h"
#include "netlink.h"
#include "netns.h"
#include "sysctl.h"
#include "tenv.h"

/* The host end's name is derived from the attachment, so DEL and GC find it even when the
 * netns and the lease are gone: "v6pd" + 11 hex digits of SHA-256(containerID NUL ifname). */
static int host_ifname(const char *cid, const char *ifname, char ret[NL_IFNAMSIZ])
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) &&
		 EVP_DigestUpdate(c, cid, strlen(cid) + 1) &&
		 EVP_DigestUpdate(c, ifname, strlen(ifname)) && EVP_DigestFinal_ex(c, md, &mdlen);

	EVP_MD_CTX_free(c);
	if (!ok)
		return err_set(-EIO, "hashing the host interface name failed");
	(void)snprintf(ret, NL_IFNAMSIZ, "v6pd%02x%02x%02x%02x%02x%x", md[0], md[1], md[2], md[3],
		       md[4], md[5] >> 4);
	return 0;
}

/* Whether name is one host_ifname() makes. */
static bool is_host_ifname(const char *name)
{
	return strlen(name) == 15 && strncmp(name, "v6pd", 4) == 0 &&
	       strspn(name + 4, "0123456789abcdef") == 11;
}

/* A lock scoped to the host's network namespace: flock() on its nsfs file, the same inode
 * for every process in the namespace, released by the kernel when a holder dies. An ADD
 * holds it shared from creating its host end until the end carries its alias; GC holds it
 * exclusively, so a host end without alias is then known to be left by a killed ADD.
 * Returns the fd to close, or a negative errno. */
static int host_netns_lock(int how)
{
	int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC), r;

	if (fd < 0) {
		r = -errno;
		return err_set(r, "lock the host netns: /proc/thread-self/ns/net: %s",
			       strerror(-r));
	}
	while (flock(fd, how) < 0) {
		if (errno == EINTR)
			continue;
		r = -errno;
		(void)close(fd);
		return err_set(r, "lock the host netns: flock: %s", strerror(-r));
	}
	return fd;
}

/* IFLA_IFALIAS of a host end: "v6pd:NETWORK:IFNAME:CONTAINERID", for GC. */
static void host_alias(const struct cni_req *req, char ret[NL_ALIAS_MAX])
{
	(void)snprintf(ret, NL_ALIAS_MAX, "v6pd:%s:%s:%s", req->cfg.name, req->env.ifname,
		       req->env.container_id);
}

/* A random unicast, locally administered MAC, as the kernel's eth_random_addr() makes
 * them; false when no random bytes came (the kernel then picks one). */
static bool random_mac(uint8_t m[6])
{
	ssize_t n;

	while ((n = getrandom(m, 6, 0)) < 0 && errno == EINTR)
		;
	if (n != 6)
		return false;
	m[0] = (uint8_t)((m[0] & 0xfe) | 0x02);
	return true;
}

static void mac_to_string(const uint8_t *m, char ret[STORE_MAC_MAX])
{
	(void)snprintf(ret, STORE_MAC_MAX, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3],
		       m[4], m[5]);
}

static struct in6_addr gateway_ll(void)
{
	struct in6_addr a;

	(void)prefix_addr_from_string(CONFIG_GATEWAY_LL, &a);
	return a;
}

/* What the container side needs. */
struct inside {
	const struct cni_req *req;
	const struct lease *lease;
	int peer_ifindex;
	char mac[STORE_MAC_MAX];
};

/* netns_run() callback: a netlink socket in the netns entered; it stays bound there. */
static int open_ctx(void *data)
{
	return nl_ctx_open((struct nl_ctx **)data);
}

/* The container end, through cctx (a socket opened inside the container's netns). */
static int inside_configure(struct nl_ctx *cctx, struct inside *in)
{
	struct nl_address a;
	struct nl_route rt = { .gateway = gateway_ll(), .oif = in->peer_ifindex };
	struct nl_link l;
	int r;

	nl_address_init(&a, in->peer_ifindex, &in->lease->addr, cni_result_prefixlen(in->req));
	if ((r = nl_link_set_up(cctx, in->peer_ifindex)) < 0 ||
	    (r = nl_address_add(cctx, &a)) < 0 || (r = nl_route_replace(cctx, &rt)) < 0)
		return r;
	/* the MAC it was made with is known already */
	if (in->mac[0])
		return 0;
	if ((r = nl_link_get_by_index(cctx, in->peer_ifindex, &l)) < 0)
		return r;
	mac_to_string(l.mac, in->mac);
	return 0;
}

#define BRIDGE_ALIAS "v6pd-bridge:"

/* The default bridge name keeps 10 bytes of the network name, so "production-web" and
 * "production-db" both get "v6pd-production": their slices would silently share one L2
 * segment. The bridge's alias records the network that first used it; another network
 * reaching it by the default name is refused (a "bridge" given explicitly may be shared). */
static int bridge_claim(struct nl_ctx *ctx, const struct cni_req *req, const struct nl_link *b,
			int *ret_code)
{
	char mine[NL_ALIAS_MAX], dflt[NL_IFNAMSIZ];

	(void)snprintf(mine, sizeof(mine), BRIDGE_ALIAS "%s", req->cfg.name);
	if (strcmp(b->alias, mine) == 0)
		return 0;
	if (!b->alias[0])
		return nl_link_set_alias(ctx, b->ifindex, mine);
	(void)snprintf(dflt, sizeof(dflt), "v6pd-%.10s", req->cfg.name);
	if (strncmp(b->alias, BRIDGE_ALIAS, strlen(BRIDGE_ALIAS)) != 0 ||
	    strcmp(req->cfg.bridge, dflt) != 0)
		return 0;
	*ret_code = CNI_ERR_CONFIG;
	return err_set(-EEXIST, "bridge \"%s\", the default for network \"%s\", already "
				"carries network \"%s\": give one of them its own \"bridge\"",
		       b->name, req->cfg.name, b->alias + strlen(BRIDGE_ALIAS));
}

/* The lease taken on another thread while the links are made (attach_add()): the DNS
 * publication's, when there is one (the publication then follows on that thread, without
 * waking another), else one of its own. The store is that thread's until it hands it, with
 * the lease, to the publication, or until lease_join(); its log lines go where the call's
 * go. */
struct lease_job {
	struct cni_req *req;
	struct cni_lease_txn *t;
	struct cni_dns_job *dj;
	const struct cni_io *io;
	char *const *env;
	pthread_t tid;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool started, threaded, done;
	int r, code;
	char msg[1024];
};

static void lease_run(void *arg)
{
	struct lease_job *j = arg;

	cni_io_set(j->io);
	tenv_set(j->env);
	err_clear();
	j->r = cni_lease_acquire(j->req, j->t, &j->code);
	if (j->r < 0)
		(void)snprintf(j->msg, sizeof(j->msg), "%s", err_msg(j->r));
	else
		cni_dns_begin(j->req, &j->t->lease, j->dj);
	(void)pthread_mutex_lock(&j->mu);
	j->done = true;
	(void)pthread_cond_signal(&j->cv);
	(void)pthread_mutex_unlock(&j->mu);
}

static void *lease_main(void *arg)
{
	lease_run(arg);
	return NULL;
}

static void lease_start(struct lease_job *j, struct cni_req *req, struct cni_lease_txn *t,
			struct cni_dns_job *dj)
{
	sigset_t all, old;

	*j = (struct lease_job){ .req = req, .t = t, .dj = dj, .io = cni_io_current(),
				 .env = tenv_current(), .started = true };
	(void)pthread_mutex_init(&j->mu, NULL);
	(void)pthread_cond_init(&j->cv, NULL);
	if (cni_dns_run(dj, lease_run, j))
		return;
	(void)sigfillset(&all);
	(void)pthread_sigmask(SIG_SETMASK, &all, &old);
	j->threaded = pthread_create(&j->tid, NULL, lease_main, j) == 0;
	(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!j->threaded)
		lease_run(j);	/* no thread: here, before the links */
}

/* Waits for the lease (once; 0 when none was started). Its failure becomes this thread's
 * message and code. */
static int lease_join(struct lease_job *j, int *ret_code)
{
	if (!j->started)
		return 0;
	j->started = false;
	if (j->threaded)
		(void)pthread_join(j->tid, NULL);
	(void)pthread_mutex_lock(&j->mu);
	while (!j->done)
		(void)pthread_cond_wait(&j->cv, &j->mu);
	(void)pthread_mutex_unlock(&j->mu);
	(void)pthread_cond_destroy(&j->cv);
	(void)pthread_mutex_destroy(&j->mu);
	if (j->r >= 0)
		return 0;
	*ret_code = j->code;
	return err_set(j->r, "%s", j->msg);
}

/* Host side of routed mode: fe80::1 on the host end, the container's address (or slice)
 * routed to it, and a proxy NDP entry on the uplink when asked. */
static int routed_prepare(struct nl_ctx *ctx, const struct cni_req *req, const struct lease *l,
			  int host_ifindex, const char *host_name, const struct nl_link *up)
{
	struct hostside_routed h = {
		.ifindex = host_ifindex,
		.ifname = host_name,
		.addr = l->addr,
		.route = { .addr = l->addr, .len = 128 },
		.uplink = req->cfg.ndp_proxy[0] ? up : NULL,
	};

	if (req->cfg.net.per_container_slice)
		h.route = l->slice;
	return hostside_routed_setup(ctx, &h);
}

static void proxy_remove(struct nl_ctx *ctx, const struct cni_req *req, const struct lease *l)
{
	if (l->addr_known)
		(void)hostside_proxy_remove(ctx, req->cfg.ndp_proxy, &l->addr);
}

/* CNI_IFNAME must be free in the container, unless it is the peer of this attachment's
 * own host end, left by an ADD that was killed half-way (replaced below). */
static int check_ifname_free(struct nl_ctx *ctx, struct nl_ctx *cctx, const struct cni_req *req,
			     const char *host)
{
	struct nl_link c, h;
	int r = nl_link_get(cctx, req->env.ifname, &c);

	if (r == -ENODEV)
		return 0;
	if (r < 0)
		return r;
	if (nl_link_get(ctx, host, &h) == 0 && c.peer_ifindex == h.ifindex &&
	    h.peer_ifindex == c.ifindex)
		return 0;
	return err_set(-EEXIST, "CNI_IFNAME \"%s\": %s already has an interface of that name",
		       req->env.ifname, req->env.netns);
}

static int attach_add(struct cni_req *req, int *ret_code)
{
	char host[NL_IFNAMSIZ], alias[NL_ALIAS_MAX], host_mac[STORE_MAC_MAX] = "";
	char br_mac[STORE_MAC_MAX] = "";
	struct cni_lease_txn t = { 0 };
	struct cni_dns_job dj = { 0 };
	struct nl_ctx *ctx = NULL, *cctx = NULL;
	struct nl_link br = { 0 }, hl, up = { 0 };
	struct inside in = { .req = req };
	struct lease_job lj = { 0 };
	uint8_t mac[6];
	int fd = -1, lock_fd = -1, host_ifindex = 0, r;
	bool created = false, early;

	/* DNS publishing gets ready on a thread of its own while everything below runs. */
	cni_dns_prepare(req, &dj);
	*ret_code = CNI_ERR_NETNS;
	if ((r = netns_open(req->env.netns, &fd)) < 0)
		goto fail;
	/* One socket inside the container's netns for all the container side. */
	if ((r = netns_run(fd, open_ctx, &cctx)) < 0)
		goto fail;
	*ret_code = CNI_ERR_LINK;
	if ((r = host_ifname(req->env.container_id, req->env.ifname, host)) < 0 ||
	    (r = nl_ctx_open(&ctx)) < 0)
		goto fail;
	if (req->cfg.mode == NET_MODE_ROUTED && req->cfg.ndp_proxy[0] &&
	    (r = nl_link_get(ctx, req->cfg.ndp_proxy, &up)) < 0) {
		*ret_code = CNI_ERR_CONFIG;
		if (r == -ENODEV)
			r = err_set(r, "\"ndpProxy\" \"%s\": no such link on the host",
				    req->cfg.ndp_proxy);
		else
			r = err_wrap(r, "\"ndpProxy\"");
		goto fail;
	}
	(void)snprintf(req->host_link, sizeof(req->host_link), "%s", host);
	/* The lease is taken on a thread of its own while the links are made, unless a bridge
	 * must be made first: a failed lease leaves nothing to take back but the veth then. */
	early = req->cfg.mode != NET_MODE_BRIDGE;
	if (!early) {
		r = nl_link_get(ctx, req->cfg.bridge, &br);
		if (r < 0 && r != -ENODEV)
			goto fail;
		early = r == 0;
	}
	/* Everything that can be found wrong is looked at before anything is made: a failed
	 * ADD leaves nothing behind, not even a bridge. With the bridge there already, a name
	 * taken in the container is found by the veth's creation (below). */
	if (!early && (r = check_ifname_free(ctx, cctx, req, host)) < 0)
		goto fail;
	if (early) {
		lease_start(&lj, req, &t, &dj);
	} else {
		if ((r = cni_lease_acquire(req, &t, ret_code)) < 0)
			goto fail;
		cni_dns_begin(req, &t.lease, &dj);
	}
	*ret_code = CNI_ERR_LINK;
	if (req->cfg.mode == NET_MODE_BRIDGE &&
	    ((r = early ? nl_bridge_settle(ctx, &br, req->cfg.mtu)
			: nl_bridge_ensure_link(ctx, req->cfg.bridge, req->cfg.mtu, &br)) < 0 ||
	     (r = bridge_claim(ctx, req, &br, ret_code)) < 0))
		goto fail;
	if ((r = lock_fd = host_netns_lock(LOCK_SH)) < 0)
		goto fail;
	{
		struct nl_veth v = {
			.name = host,
			.master = req->cfg.mode == NET_MODE_BRIDGE ? br.ifindex : 0,
			.mtu = req->cfg.mtu,
			.peer_name = req->env.ifname,
			.peer_netns_fd = fd,
			.peer_mac = mac,
			.peer_mtu = req->cfg.mtu,
		};

		/* the container end's MAC: the one asked for, else a random one of ours (what
		 * the kernel would pick), so it is known without asking the kernel again */
		if (!(req->mac[0] && addrgen_mac_from_string(req->mac, mac) == 0) &&
		    !random_mac(mac))
			v.peer_mac = NULL;
		/* A name taken: CNI_IFNAME in the container (an error, unless it is the peer of
		 * this attachment's host end), or the host end, left by an ADD that was killed
		 * half-way (ours, by its name: made anew). Looked at only then: in the common case
		 * both are free, and asking first costs two round trips. */
		r = nl_veth_create_link(ctx, &v, &hl);
		if (r == -EEXIST) {
			err_clear();
			if ((r = check_ifname_free(ctx, cctx, req, host)) < 0 ||
			    (r = nl_link_del_if_exists(ctx, host)) < 0)
				goto fail;
			r = nl_veth_create_link(ctx, &v, &hl);
		}
		if (r < 0)
			goto fail;
		host_ifindex = hl.ifindex;
		in.peer_ifindex = hl.peer_ifindex;
		if (v.peer_mac)
			mac_to_string(mac, in.mac);
	}
	created = true;
	host_alias(req, alias);
	if ((r = nl_link_set_alias(ctx, host_ifindex, alias)) < 0)
		goto fail;
	(void)close(lock_fd);
	lock_fd = -1;
	/* the host end as read back after its creation: an alias leaves its MAC alone */
	mac_to_string(hl.mac, host_mac);
	/* The address is known, and the DNS thread publishes it (it has the store until
	 * cni_dns_wait()), beside the netlink work. It was made in the host's netns, before
	 * netns_run(), and never leaves it. */
	if ((r = lease_join(&lj, ret_code)) < 0)
		goto fail;
	in.lease = &t.lease;
	*ret_code = CNI_ERR_LINK;
	if (req->cfg.mode == NET_MODE_BRIDGE) {
		/* the bridge's gateways for the slice, and the bridge as it is with this port: a
		 * bridge made by someone else without a MAC of its own takes the lowest MAC of
		 * its ports */
		if ((r = hostside_bridge_gateways(ctx, req->cfg.bridge, br.ifindex,
						  &t.lease.slice)) < 0 ||
		    (r = nl_link_get_by_index(ctx, br.ifindex, &br)) < 0)
			goto fail;
		mac_to_string(br.mac, br_mac);
	}
	if (req->cfg.mode == NET_MODE_ROUTED &&
	    (r = routed_prepare(ctx, req, &t.lease, host_ifindex, host, &up)) < 0)
		goto fail;
	if ((r = inside_configure(cctx, &in)) < 0 ||
	    (r = cni_dns_end(req, &dj, &t.lease, ret_code)) < 0)
		goto fail;
	{
		struct cni_iface ifs[3];
		int n = 0;

		if (req->cfg.mode == NET_MODE_BRIDGE)
			ifs[n++] = (struct cni_iface){ .name = req->cfg.bridge, .mac = br_mac,
						       .mtu = br.mtu };
		ifs[n++] = (struct cni_iface){ .name = host, .mac = host_mac, .mtu = req->cfg.mtu };
		ifs[n++] = (struct cni_iface){ .name = req->env.ifname, .mac = in.mac,
					       .sandbox = req->env.netns, .mtu = req->cfg.mtu };
		r = cni_result_print(req, ifs, n, n - 1, &t.lease, CONFIG_GATEWAY_LL,
				     CONFIG_GATEWAY_LL);
	}
	nl_ctx_free(cctx);
	nl_ctx_free(ctx);
	(void)close(fd);
	return r;
fail: {
	/* Leave nothing: the host end (its peer and routes go with it), the proxy entry, and
	 * the lease as it was before. The cleanup's own errors must not replace the message
	 * of what failed. */
	char msg[1024];

	(void)snprintf(msg, sizeof(msg), "%s", err_msg(r));
	/* the lease (and the store) are this thread's again once the lease's thread ends */
	(void)lease_join(&lj, &(int){ 0 });
	if (ctx && created) {
		(void)nl_link_del_if_exists(ctx, host);
		proxy_remove(ctx, req, &t.lease);
	}
	/* ...and the publication's */
	cni_dns_wait(&dj);
	cni_lease_undo(req, &t);
	cni_dns_undo(req, &dj, &t);
	nl_ctx_free(cctx);
	nl_ctx_free(ctx);
	if (fd >= 0)
		(void)close(fd);
	if (lock_fd >= 0)
		(void)close(lock_fd);
	return err_set(r, "%s", msg);
}
}

/* Removes what an attachment put on the host; a missing link is no error. */
static int detach(struct nl_ctx *ctx, struct cni_req *req, const char *cid, const char *ifname,
		  const struct lease *l)
{
	char host[NL_IFNAMSIZ];
	int r;

	if ((r = host_ifname(cid, ifname, host)) < 0)
		return r;
	if (l && req->cfg.mode == NET_MODE_ROUTED)
		proxy_remove(ctx, req, l);
	r = nl_link_del_if_exists(ctx, host);
	return r < 0 ? r : 0;
}

/* The attachment's lease in any state: DEL finds no active lease when an operator released
 * it (v6pdctl lease release) or a DEL came before, yet a proxy NDP entry for its address
 * may still be on the uplink. 0 or -ENOENT. */
static int lease_of_attachment(struct cni_req *req, struct lease *ret)
{
	struct lease *v = NULL;
	size_t n = 0;
	int r = store_lease_list(req->store, req->cfg.name, &v, &n);

	for (size_t i = 0; r >= 0 && i < n; i++)
		if (v[i].addr_known && strcmp(v[i].container_id, req->env.container_id) == 0 &&
		    strcmp(v[i].ifname, req->env.ifname) == 0) {
			*ret = v[i];
			free(v);
			return 0;
		}
	free(v);
	return -ENOENT;
}

static int attach_del(struct cni_req *req, int *ret_code)
{
	struct nl_ctx *ctx = NULL;
	struct lease l;
	int r, have;

	r = cni_lease_release(req, &l, ret_code);
	if (r < 0 && r != -ENOENT)
		return r;
	have = r == 0;
	if (have)
		cni_dns_withdraw(req, &l);
	if (!have && req->cfg.mode == NET_MODE_ROUTED && req->cfg.ndp_proxy[0])
		have = lease_of_attachment(req, &l) == 0;
	*ret_code = CNI_ERR_LINK;
	if ((r = nl_ctx_open(&ctx)) < 0)
		return r;
	r = detach(ctx, req, req->env.container_id, req->env.ifname, have ? &l : NULL);
	nl_ctx_free(ctx);
	return r;
}

static int attach_check(struct cni_req *req, int *ret_code)
{
	char host[NL_IFNAMSIZ];
	int r;

	*ret_code = CNI_ERR_CHECK;
	if ((r = host_ifname(req->env.container_id, req->env.ifname, host)) < 0)
		return r;
	return cni_check_attachment(req, host, ret_code);
}

/* Host ends whose alias names this network and an attachment not in the valid list: left
 * behind by a runtime that never DELs. And host ends without an alias at all: left by an
 * ADD killed between creating the veth and naming it (any network's: nothing else tells). */
static void gc_links(struct nl_ctx *ctx, struct cni_req *req)
{
	struct store_attachment *valid = NULL;
	struct nl_link *links = NULL;
	char pre[STORE_NAME_MAX + 8];
	size_t nv = 0;
	int n, lock_fd;

	if (cni_gc_valid_read(req, &valid, &nv) < 0)
		return;
	if ((lock_fd = host_netns_lock(LOCK_EX)) < 0) {
		cni_log("GC: %s", err_msg(lock_fd));
		free(valid);
		return;
	}
	(void)snprintf(pre, sizeof(pre), "v6pd:%s:", req->cfg.name);
	/* Only the listing needs the lock: links are then deleted by ifindex, and an ADD that
	 * re-creates a host end of the same name makes a new ifindex. */
	n = nl_link_list(ctx, &links);
	(void)close(lock_fd);
	for (int i = 0; i < n; i++) {
		const char *rest, *colon;
		bool keep = false;

		if (!links[i].alias[0] && strcmp(links[i].kind, "veth") == 0 &&
		    is_host_ifname(links[i].name)) {
			cni_log("GC: removing \"%s\", left by an ADD that was killed",
				links[i].name);
			(void)nl_link_del_ifindex_if_exists(ctx, links[i].ifindex);
			continue;
		}
		if (strncmp(links[i].alias, pre, strlen(pre)) != 0)
			continue;
		rest = links[i].alias + strlen(pre);
		colon = strchr(rest, ':');
		if (!colon)
			continue;
		for (size_t k = 0; k < nv && !keep; k++)
			keep = strlen(valid[k].ifname) == (size_t)(colon - rest) &&
			       strncmp(valid[k].ifname, rest, (size_t)(colon - rest)) == 0 &&
			       strcmp(valid[k].container_id, colon + 1) == 0;
		if (!keep)
			(void)nl_link_del_ifindex_if_exists(ctx, links[i].ifindex);
	}
	free(links);
	free(valid);
}

static int attach_gc(struct cni_req *req, int *ret_code)
{
	struct lease *gone = NULL;
	struct nl_ctx *ctx = NULL;
	size_t n = 0;
	int r;

	if ((r = cni_gc(req, &gone, &n, ret_code)) < 0)
		return r;
	*ret_code = CNI_ERR_LINK;
	if ((r = nl_ctx_open(&ctx)) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		int k = detach(ctx, req, gone[i].container_id, gone[i].ifname, &gone[i]);

		if (k < 0)
			cni_log("GC: %s", err_msg(k));
	}
	gc_links(ctx, req);
out:
	nl_ctx_free(ctx);
	free(gone);
	return r;
}

int cni_attach_run(struct cni_req *req, int *ret_code)
{
	switch (req->env.cmd) {
	case CNI_ADD:
		return attach_add(req, ret_code);
	case CNI_DEL:
		return attach_del(req, ret_code);
	case CNI_CHECK:
		return attach_check(req, ret_code);
	case CNI_GC:
		return attach_gc(req, ret_code);
	default:
		return 0;
	}
}
