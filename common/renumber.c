/* renumber: the run, the workload side (inside each container's netns), DNS, the commit.
 * The host side is in renumber_host.c. */
#include "renumber.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addrgen.h"
#include "dns.h"
#include "err.h"
#include "netns.h"
#include "renumber_int.h"

#define RN_BATCH 64		/* workload sockets open at once */

void rn_note(struct rn_ctx *c, const char *fmt, ...)
{
	va_list ap;

	if (c->rep->n_notes == RENUMBER_NOTES_MAX)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(c->rep->notes[c->rep->n_notes++], RENUMBER_NOTE_LEN, fmt, ap);
	va_end(ap);
}

static int grow(void *pv, size_t *cap, size_t n, size_t size)
{
	void **p = pv, *q;
	size_t want = *cap ? *cap * 2 : 32;

	if (n < *cap)
		return 0;
	if (!(q = realloc(*p, want * size)))
		return err_set(-ENOMEM, "out of memory");
	*p = q;
	*cap = want;
	return 0;
}

int rn_drain(struct rn_ctx *c, bool cancel, enum store_drain_kind kind, const char *netns,
	     const char *link, const struct in6_addr *a, unsigned len, const struct prefix *origin,
	     int64_t until)
{
	struct store_drain **v = cancel ? &c->cancel : &c->add;
	size_t *n = cancel ? &c->n_cancel : &c->n_add;
	struct store_drain *d;
	int r = grow(v, cancel ? &c->cap_cancel : &c->cap_add, *n, sizeof(**v));

	if (r < 0)
		return r;
	d = &(*v)[(*n)++];
	memset(d, 0, sizeof(*d));
	d->kind = kind;
	(void)snprintf(d->netns, sizeof(d->netns), "%s", netns ? netns : "");
	(void)snprintf(d->link, sizeof(d->link), "%s", link);
	d->what.addr = *a;
	d->what.len = (uint8_t)len;
	if (origin)
		d->origin = *origin;
	d->until = until;
	return 0;
}

int rn_deprecate(struct nl_ctx *nl, const struct nl_address *old, int64_t grace)
{
	struct nl_address a = *old;
	struct nl_route rt = { 0 };
	int r;

	if (old->preferred_lft == 0 || (old->flags & IFA_F_DEPRECATED))
		return 0;	/* a run before this one did it: its time keeps running */
	if (grace <= 0) {
		r = nl_address_del(nl, old->ifindex, &old->addr, old->prefixlen);
		return r < 0 ? r : 0;
	}
	a.flags = IFA_F_NODAD | (old->flags & IFA_F_NOPREFIXROUTE);
	a.preferred_lft = 0;
	a.valid_lft = grace >= (int64_t)NL_LIFETIME_FOREVER ? NL_LIFETIME_FOREVER - 1
							     : (uint32_t)grace;
	if (old->valid_lft < a.valid_lft)
		a.valid_lft = old->valid_lft;
	if ((r = nl_address_add(nl, &a)) < 0 || (a.flags & IFA_F_NOPREFIXROUTE) ||
	    a.prefixlen >= 128)
		return r;
	/* Linux 6.18 gives the prefix route of an address whose lifetimes change an expiry in
	 * the past (modify_prefix_route): lookups skip it and the old prefix is unreachable
	 * during the grace. Set it as a new address would have it. */
	rt.dst.addr = a.addr;
	rt.dst.len = a.prefixlen;
	for (unsigned b = a.prefixlen; b < 128; b++)
		rt.dst.addr.s6_addr[b / 8] &= (uint8_t)~(0x80u >> (b % 8));
	rt.oif = a.ifindex;
	rt.metric = 256;		/* IP6_RT_PRIO_ADDRCONF */
	rt.expires = a.valid_lft;
	return nl_route_replace(nl, &rt);
}

static bool attached_in_netns(const struct store_renumber_item *it)
{
	switch (it->attach.mode) {
	case STORE_ATTACH_UNKNOWN:
	case STORE_ATTACH_BRIDGE:
	case STORE_ATTACH_ROUTED:
	case STORE_ATTACH_IPAM:
		return it->lease.netns[0] && it->lease.ifname[0];
	default:
		return false;
	}
}

static int move_init(struct rn_move *m, const struct store_renumber_item *it,
		     const struct renumber_opts *o)
{
	const struct lease *l = &it->lease;
	int r;

	memset(m, 0, sizeof(*m));
	m->it = it;
	if (!l->addr_known)
		return err_set(-ENOENT, "lease \"%s\" of network \"%s\": no address", l->key,
			       l->network);
	m->new_slice = l->slice;
	m->new_addr = l->addr;
	r = prefix_slice(&it->from, l->slice.len, l->slice_index, &m->old_slice);
	if (r < 0)
		return err_wrap(r, "lease \"%s\" of network \"%s\": its slice in the previous prefix",
				l->key, l->network);
	prefix_addr_with_host(&m->old_slice, l->iid, &m->old_addr);
	prefix_addr_with_host(&m->old_slice, ADDRGEN_GATEWAY_IID, &m->old_gw);
	prefix_addr_with_host(&m->new_slice, ADDRGEN_GATEWAY_IID, &m->new_gw);
	m->grace = it->attach.grace >= 0 ? it->attach.grace : o->grace;
	return 0;
}

/* ---- the workload's side, in its netns ---- */

static int open_ctx(void *data)
{
	return nl_ctx_open((struct nl_ctx **)data);
}

static bool addr_eq(const struct in6_addr *a, const struct in6_addr *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

/* IPAM role: the calling plugin routes via the slice's global ::1 (ipam.c). */
static int routes_move(struct nl_ctx *cctx, int ifindex, const struct rn_move *m)
{
	struct nl_route *v = NULL;
	int n = nl_route_list(cctx, ifindex, &v), r = 0;

	for (int i = 0; i < n && r >= 0; i++) {
		struct nl_route rt = v[i];

		if (!addr_eq(&rt.gateway, &m->old_gw))
			continue;
		rt.gateway = m->new_gw;
		r = nl_route_replace(cctx, &rt);
	}
	free(v);
	return n < 0 ? n : r < 0 ? r : 0;
}

/* The workload learns the slice's new ::1 at the bridge's MAC, as the host learns the
 * workload's new address (rn_host_seed()): replying to the host from the new prefix needs
 * no solicitation, which the bridge would flood to every port. */
static int gateway_seed(struct rn_ctx *c, struct nl_ctx *cctx, int ifindex,
			const struct rn_move *m)
{
	const struct nl_link *gw = rn_gateway_link(c, m);

	/* an optimisation only, as in rn_host_seed() */
	if (gw && gw->has_mac && nl_neigh_stale_add(cctx, ifindex, &m->new_gw, gw->mac) < 0)
		err_clear();
	return 0;
}

static int inside_move(struct rn_ctx *c, struct nl_ctx *cctx, struct rn_move *m,
		       int *ret_ifindex)
{
	const struct lease *l = &m->it->lease;
	struct nl_address *addrs = NULL, *old = NULL, a;
	struct nl_link link;
	unsigned plen = m->it->attach.plen;
	int n, r = nl_link_get(cctx, l->ifname, &link);

	if (r == -ENODEV) {
		err_clear();
		c->rep->gone++;
		return 0;
	}
	if (r < 0 || (r = n = nl_address_list(cctx, link.ifindex, &addrs)) < 0)
		goto out;
	for (int i = 0; i < n; i++)
		if (addr_eq(&addrs[i].addr, &m->old_addr))
			old = &addrs[i];
	if (!plen)
		plen = old ? old->prefixlen
			   : m->it->attach.mode == STORE_ATTACH_ROUTED ? 128 : l->slice.len;
	nl_address_init(&a, link.ifindex, &m->new_addr, plen);
	if ((r = nl_address_add(cctx, &a)) < 0 ||
	    (r = rn_drain(c, true, STORE_DRAIN_ADDRESS, l->netns, l->ifname, &m->new_addr, plen,
			  NULL, 0)) < 0)
		goto out;
	if (old && (r = rn_deprecate(cctx, old, m->grace)) == 0)
		r = rn_drain(c, false, STORE_DRAIN_ADDRESS, l->netns, l->ifname, &m->old_addr,
			     old->prefixlen, &m->it->from, c->o->now + m->grace);
	if (r == 0)
		r = routes_move(cctx, link.ifindex, m);
	if (r == 0)
		r = gateway_seed(c, cctx, link.ifindex, m);
	if (r == 0) {
		c->rep->interfaces++;
		*ret_ifindex = link.ifindex;
		memcpy(m->mac, link.mac, sizeof(m->mac));
		m->has_mac = link.has_mac;
	}
out:
	free(addrs);
	return r;
}

/* A workload interface given its new address, its socket kept for settle(). */
struct rn_live {
	struct nl_ctx *ctx;
	int ifindex;
};

static int container_move(struct rn_ctx *c, struct rn_move *m, struct rn_live *live)
{
	const struct lease *l = &m->it->lease;
	struct nl_ctx *cctx = NULL;
	int fd = -1, ifindex = 0, r = netns_open(l->netns, &fd);

	if (r == -ENOENT || r == -EINVAL) {
		/* the container is gone, its DEL still to come */
		err_clear();
		c->rep->gone++;
		return 0;
	}
	if (r < 0)
		return r;
	r = netns_run(fd, open_ctx, &cctx);
	(void)close(fd);
	if (r == 0)
		r = inside_move(c, cctx, m, &ifindex);
	if (r == 0 && ifindex) {
		live->ctx = cctx;
		live->ifindex = ifindex;
		return 0;
	}
	nl_ctx_free(cctx);
	return r < 0 ? err_wrap(r, "container %.12s (%s)", l->container_id, l->netns) : 0;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool tentative(struct nl_ctx *ctx, int ifindex, const struct in6_addr *a)
{
	struct nl_address *v = NULL;
	int n = nl_address_list(ctx, ifindex, &v);
	bool t = false;

	for (int i = 0; i < n; i++)
		if (addr_eq(&v[i].addr, a))
			t = (v[i].flags & IFA_F_TENTATIVE) != 0;
	free(v);
	return t;
}

/* A new address stays tentative, answering no neighbour solicitation, until the kernel's
 * addrconf work has run for it (IFA_F_NODAD only makes that work short), and that work
 * waits for the RTNL our requests keep taking. Were the host routes added first, the host's
 * first solicitation could go unanswered and the next one comes a second later
 * (RetransTimer). Waits (up to a second) until none is tentative, then closes the sockets. */
static void settle(struct rn_live *v, const struct rn_move *m, size_t n)
{
	int64_t deadline = mono_ms() + 1000;

	for (size_t i = 0; i < n; i++) {
		if (!v[i].ctx)
			continue;
		while (tentative(v[i].ctx, v[i].ifindex, &m[i].new_addr) && mono_ms() < deadline) {
			struct timespec ms = { .tv_nsec = 1000000 };

			(void)nanosleep(&ms, NULL);
		}
		nl_ctx_free(v[i].ctx);
		v[i].ctx = NULL;
	}
}

/* ---- the run ---- */

static int dumps(struct rn_ctx *c)
{
	int r;

	if ((r = nl_ctx_open(&c->nl)) < 0 || (r = c->n_links = nl_link_list(c->nl, &c->links)) < 0 ||
	    (r = c->n_addrs = nl_address_list(c->nl, 0, &c->addrs)) < 0 ||
	    (r = c->n_routes = nl_route_list(c->nl, 0, &c->routes)) < 0)
		return r;
	return 0;
}

static void move_failed(struct rn_ctx *c, const struct store_renumber_item *it, int r,
			int *first, char *msg, size_t msg_size)
{
	c->rep->failed++;
	rn_note(c, "network \"%s\" key \"%s\": %s (left for the next run)", it->lease.network,
		it->lease.key, err_msg(r));
	if (!*first) {
		*first = r;
		(void)snprintf(msg, msg_size, "%s", err_msg(r));
	}
}

/* Every workload first, then the host side: the host routes to the new prefix appear only
 * once every workload answers there, so the host never solicits a neighbour that does not
 * have its address yet (a failed resolution costs a second: RetransTimer). */
static void move_all(struct rn_ctx *c, const struct store_renumber_item *v, size_t n,
		     struct store_renumber_item *done, size_t *n_done, int *first, char *msg,
		     size_t msg_size)
{
	struct rn_move *m = calloc(n, sizeof(*m));
	struct rn_live *live = calloc(n, sizeof(*live));
	bool *ok = calloc(n, sizeof(*ok));

	if (!m || !ok || !live) {
		for (size_t i = 0; i < n; i++)
			move_failed(c, &v[i], err_set(-ENOMEM, "out of memory"), first, msg, msg_size);
		goto out;
	}
	/* in batches: a socket per workload stays open until settle() */
	for (size_t b = 0; b < n; b += RN_BATCH) {
		size_t end = b + RN_BATCH < n ? b + RN_BATCH : n;

		for (size_t i = b; i < end; i++) {
			int r = move_init(&m[i], &v[i], c->o);

			if (r == 0 && v[i].lease.state == LEASE_ACTIVE && attached_in_netns(&v[i]))
				r = container_move(c, &m[i], &live[i]);
			if (r < 0)
				move_failed(c, &v[i], r, first, msg, msg_size);
			ok[i] = r == 0;
		}
		settle(live + b, m + b, end - b);
	}
	for (size_t i = 0; i < n; i++) {
		int r;

		if (ok[i] && (r = rn_host_seed(c, &m[i])) < 0) {
			move_failed(c, &v[i], r, first, msg, msg_size);
			ok[i] = false;
		}
	}
	for (size_t i = 0; i < n; i++) {
		int r;

		if (!ok[i])
			continue;
		if ((r = rn_host_move(c, &m[i])) < 0) {
			move_failed(c, &v[i], r, first, msg, msg_size);
			continue;
		}
		if (v[i].attach.mode == STORE_ATTACH_UNKNOWN && !attached_in_netns(&v[i]) &&
		    v[i].lease.state == LEASE_ACTIVE)
			rn_note(c, "network \"%s\" key \"%s\": its lease predates v6pd's attachment "
				   "records; only its gateway and DNS followed",
				v[i].lease.network, v[i].lease.key);
		done[(*n_done)++] = v[i];
	}
out:
	free(m);
	free(live);
	free(ok);
}

static void dns_all(struct rn_ctx *c, const struct store_renumber_item *done, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int r = dns_lease_renumbered(c->s, &done[i].lease, c->o->now);

		if (r < 0) {
			c->rep->dns_failed++;
			rn_note(c, "DNS for network \"%s\" key \"%s\": %s (v6pdctl dns sync retries)",
				done[i].lease.network, done[i].lease.key, err_msg(r));
		}
	}
}

int renumber_run(struct store *s, const struct renumber_opts *o, struct renumber_report *ret)
{
	struct renumber_report rep = { 0 };
	struct rn_ctx c = { .s = s, .o = o, .rep = &rep };
	struct store_renumber_item *v = NULL, *done = NULL;
	char msg[1024] = "";
	struct prefix to;
	size_t n = 0, nd = 0;
	int first = 0, r;

	if ((r = store_prefix_get(s, &to, NULL)) < 0) {
		if (r == -ENOENT) {
			err_clear();
			r = 0;
		}
		goto out;
	}
	if ((r = store_renumber_pending(s, &v, &n)) < 0 || n == 0)
		goto out;
	rep.pending = (unsigned)n;
	if (!(done = calloc(n, sizeof(*done)))) {
		r = err_set(-ENOMEM, "out of memory");
		goto out;
	}
	if ((r = dumps(&c)) < 0)
		goto out;
	move_all(&c, v, n, done, &nd, &first, msg, sizeof(msg));
	dns_all(&c, done, nd);
	{
		struct store_renumber_batch b = { .done = done, .n_done = nd, .add = c.add,
						  .n_add = c.n_add, .cancel = c.cancel,
						  .n_cancel = c.n_cancel };

		r = store_renumber_commit(s, &to, &b);
	}
	if (r == 0)
		rep.moved = (unsigned)nd;
out:
	nl_ctx_free(c.nl);
	free(c.links);
	free(c.addrs);
	free(c.routes);
	free(c.add);
	free(c.cancel);
	free(c.gws);
	free(done);
	free(v);
	if (ret)
		*ret = rep;
	if (r == 0 && first)
		r = err_set(first, "%s", msg);
	return r;
}
