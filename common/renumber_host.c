/* renumber: the host side of a move (gateways, routes, proxy NDP, VM reservations), and the
 * drains. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnsmasq.h"
#include "err.h"
#include "hostside.h"
#include "renumber_int.h"

static bool addr_eq(const struct in6_addr *a, const struct in6_addr *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

static bool prefix_eq(const struct prefix *a, const struct prefix *b)
{
	return a->len == b->len && addr_eq(&a->addr, &b->addr);
}

static const struct nl_link *link_by_name(const struct rn_ctx *c, const char *name)
{
	for (int i = 0; name && name[0] && i < c->n_links; i++)
		if (strcmp(c->links[i].name, name) == 0)
			return &c->links[i];
	return NULL;
}

static const struct nl_link *link_by_index(const struct rn_ctx *c, int ifindex)
{
	for (int i = 0; i < c->n_links; i++)
		if (c->links[i].ifindex == ifindex)
			return &c->links[i];
	return NULL;
}

/* Whether gateway addr on ifindex was moved in this run already; marks it when not. */
static int gw_seen(struct rn_ctx *c, int ifindex, const struct in6_addr *addr)
{
	for (size_t i = 0; i < c->n_gws; i++)
		if (c->gws[i].ifindex == ifindex && addr_eq(&c->gws[i].addr, addr))
			return 1;
	if (c->n_gws == c->cap_gws) {
		size_t cap = c->cap_gws ? 2 * c->cap_gws : 16;
		struct rn_gw *v = realloc(c->gws, cap * sizeof(*v));

		if (!v)
			return err_set(-ENOMEM, "out of memory");
		c->gws = v;
		c->cap_gws = cap;
	}
	c->gws[c->n_gws++] = (struct rn_gw){ .ifindex = ifindex, .addr = *addr };
	return 0;
}

/* The slice's ::1 on one host link: the new one added, the old one deprecated. */
static int gateway_move(struct rn_ctx *c, const struct rn_move *m, int ifindex, unsigned plen,
			uint32_t flags)
{
	const struct nl_link *l = link_by_index(c, ifindex);
	struct nl_address a;
	int r;

	if (!l || (r = gw_seen(c, ifindex, &m->new_gw)) > 0)
		return 0;
	if (r < 0)
		return r;
	nl_address_init(&a, ifindex, &m->new_gw, plen);
	a.flags |= flags & IFA_F_NOPREFIXROUTE;
	if ((r = nl_address_add(c->nl, &a)) < 0 ||
	    (r = rn_drain(c, true, STORE_DRAIN_GATEWAY, NULL, l->name, &m->new_gw, plen, NULL,
			  0)) < 0)
		return err_wrap(r, "gateway on \"%s\"", l->name);
	for (int i = 0; i < c->n_addrs; i++) {
		const struct nl_address *old = &c->addrs[i];

		if (old->ifindex != ifindex || !addr_eq(&old->addr, &m->old_gw))
			continue;
		if ((r = rn_deprecate(c->nl, old, m->grace)) < 0 ||
		    (r = rn_drain(c, false, STORE_DRAIN_GATEWAY, NULL, l->name, &old->addr,
				  old->prefixlen, &m->it->from, c->o->now + m->grace)) < 0)
			return err_wrap(r, "old gateway on \"%s\"", l->name);
	}
	c->rep->host++;
	return 0;
}

const struct nl_link *rn_gateway_link(const struct rn_ctx *c, const struct rn_move *m)
{
	const struct store_attach *at = &m->it->attach;

	if (at->mode == STORE_ATTACH_BRIDGE || at->mode == STORE_ATTACH_VM_BRIDGE)
		return link_by_name(c, at->link);
	if (at->mode != STORE_ATTACH_IPAM)
		return NULL;
	for (int i = 0; i < c->n_addrs; i++)
		if (addr_eq(&c->addrs[i].addr, &m->old_gw))
			return link_by_index(c, c->addrs[i].ifindex);
	return NULL;
}

/* The host link a routed workload's address is routed to: the old route's, else the
 * recorded one. */
static const struct nl_link *routed_link(const struct rn_ctx *c, const struct rn_move *m,
					 const struct prefix *old_dst, struct nl_route *ret_old)
{
	for (int i = 0; i < c->n_routes; i++)
		if (prefix_eq(&c->routes[i].dst, old_dst) && c->routes[i].oif) {
			if (ret_old)
				*ret_old = c->routes[i];
			return link_by_index(c, c->routes[i].oif);
		}
	return link_by_name(c, m->it->attach.link);
}

static struct prefix dst_of(const struct rn_move *m, bool new)
{
	const struct store_attach *at = &m->it->attach;

	if (at->plen && at->plen != 128)
		return new ? m->new_slice : m->old_slice;
	return (struct prefix){ .addr = new ? m->new_addr : m->old_addr, .len = 128 };
}

/* A bridge floods every multicast when no MLD querier is on it (br_multicast_querier_exists),
 * so a hundred solicitations at once become thousands of frames, more than the backlog
 * holds (netdev_max_backlog): some are dropped and that neighbour waits a second for the
 * next try. What the host would solicit, it learns here instead. */
int rn_host_seed(struct rn_ctx *c, const struct rn_move *m)
{
	const struct store_attach *at = &m->it->attach;
	const struct nl_link *l = NULL;
	struct prefix dst = dst_of(m, false);

	if (!m->has_mac || m->it->lease.state != LEASE_ACTIVE)
		return 0;
	if (at->mode == STORE_ATTACH_BRIDGE || at->mode == STORE_ATTACH_IPAM)
		l = rn_gateway_link(c, m);
	else if (at->mode == STORE_ATTACH_ROUTED)
		l = routed_link(c, m, &dst, NULL);
	/* an optimisation only: a full neighbour table (gc_thresh3, shared by every netns)
	 * must not stop the renumbering */
	if (l && nl_neigh_stale_add(c->nl, l->ifindex, &m->new_addr, m->mac) < 0)
		err_clear();
	return 0;
}

/* Bridges and routed taps carry the slice's ::1 (hostside.h); so may links v6pd did not make
 * (the reference bridge plugin's isGateway in the IPAM role): wherever the old one is. */
static int gateways(struct rn_ctx *c, const struct rn_move *m)
{
	const struct store_attach *at = &m->it->attach;
	const struct nl_link *l = link_by_name(c, at->link);
	int r = 0;

	if (l && (at->mode == STORE_ATTACH_BRIDGE || at->mode == STORE_ATTACH_VM_BRIDGE))
		r = gateway_move(c, m, l->ifindex, m->new_slice.len, 0);
	else if (l && at->mode == STORE_ATTACH_VM_TAP)
		r = gateway_move(c, m, l->ifindex, m->new_slice.len, IFA_F_NOPREFIXROUTE);
	for (int i = 0; r == 0 && i < c->n_addrs; i++)
		if (addr_eq(&c->addrs[i].addr, &m->old_gw))
			r = gateway_move(c, m, c->addrs[i].ifindex, c->addrs[i].prefixlen,
					 c->addrs[i].flags);
	return r;
}

static int proxy_move(struct rn_ctx *c, const struct rn_move *m)
{
	const struct nl_link *up = link_by_name(c, m->it->attach.uplink);
	int r;

	if (!m->it->attach.uplink[0])
		return 0;
	if (!up) {
		rn_note(c, "\"ndpProxy\" \"%s\" is gone: no proxy entry for %s", m->it->attach.uplink,
			m->it->lease.key);
		return 0;
	}
	if ((r = nl_neigh_proxy_add(c->nl, up->ifindex, &m->new_addr)) < 0 ||
	    (r = rn_drain(c, true, STORE_DRAIN_PROXY, NULL, up->name, &m->new_addr, 128, NULL,
			  0)) < 0)
		return r;
	c->rep->host++;
	if (m->grace > 0)
		return rn_drain(c, false, STORE_DRAIN_PROXY, NULL, up->name, &m->old_addr, 128,
				&m->it->from, c->o->now + m->grace);
	r = nl_neigh_proxy_del(c->nl, up->ifindex, &m->old_addr);
	return r < 0 ? r : 0;
}

/* Routed: the address (or, per-container slices, the slice) routed to the host end or tap. */
static int route_move(struct rn_ctx *c, const struct rn_move *m)
{
	const struct store_attach *at = &m->it->attach;
	struct nl_route old = { .dst = dst_of(m, false) }, nu = { .dst = dst_of(m, true) };
	const struct nl_link *l = NULL;
	bool found;
	int r;

	if (at->mode != STORE_ATTACH_ROUTED && at->mode != STORE_ATTACH_VM_TAP &&
	    at->mode != STORE_ATTACH_UNKNOWN)
		return 0;
	l = routed_link(c, m, &old.dst, &old);
	found = old.oif != 0;
	if (at->mode == STORE_ATTACH_UNKNOWN && !found)
		l = NULL;
	if (!l) {
		if (at->mode != STORE_ATTACH_UNKNOWN)
			c->rep->gone++;
		return 0;
	}
	nu.oif = l->ifindex;
	nu.metric = found ? old.metric : 0;
	if ((r = nl_route_replace(c->nl, &nu)) < 0 ||
	    (r = rn_drain(c, true, STORE_DRAIN_ROUTE, NULL, l->name, &nu.dst.addr, nu.dst.len,
			  NULL, 0)) < 0)
		return r;
	c->rep->host++;
	if (found && m->grace > 0) {
		old.expires = m->grace >= UINT32_MAX ? UINT32_MAX - 1 : (uint32_t)m->grace;
		if ((r = nl_route_replace(c->nl, &old)) < 0 ||
		    (r = rn_drain(c, false, STORE_DRAIN_ROUTE, NULL, l->name, &old.dst.addr,
				  old.dst.len, &m->it->from, c->o->now + m->grace)) < 0)
			return r;
	} else if (found && (r = nl_route_del(c->nl, &old)) < 0) {
		return r;
	}
	return at->mode == STORE_ATTACH_UNKNOWN ? 0 : proxy_move(c, m);
}

static bool libvirt_net_seen(struct rn_ctx *c, const char *net)
{
	for (size_t i = 0; i < c->n_libvirt_nets; i++)
		if (strcmp(c->libvirt_nets[i], net) == 0)
			return true;
	if (c->n_libvirt_nets < RENUMBER_NOTES_MAX)
		(void)snprintf(c->libvirt_nets[c->n_libvirt_nets++], STORE_NAME_MAX, "%s", net);
	return false;
}

/* VMs learn their address by DHCPv6: the reservation follows. */
static int vm_move(struct rn_ctx *c, const struct rn_move *m)
{
	const struct lease *l = &m->it->lease;
	const struct store_attach *at = &m->it->attach;
	int r;

	if ((at->mode != STORE_ATTACH_VM_BRIDGE && at->mode != STORE_ATTACH_VM_TAP &&
	     at->mode != STORE_ATTACH_VM_NETWORK) ||
	    !l->mac[0])
		return 0;
	if ((r = dnsmasq_host_put(store_state_dir(c->s), l->network, l->mac, &m->new_addr,
				  l->hostname)) < 0)
		return r;
	c->rep->host++;
	if (at->mode != STORE_ATTACH_VM_NETWORK || !at->link[0] || libvirt_net_seen(c, at->link))
		return 0;
	if ((r = dnsmasq_reload_libvirt(at->link)) < 0)
		return r;
	rn_note(c, "libvirt network \"%s\" keeps its old IPv6 <ip> until `v6pdctl libvirt network "
		   "define %s --restart`",
		at->link, at->link);
	return 0;
}

int rn_host_move(struct rn_ctx *c, const struct rn_move *m)
{
	int r = gateways(c, m);

	if (r < 0 || m->it->lease.state != LEASE_ACTIVE)
		return r;
	if ((r = route_move(c, m)) < 0)
		return err_wrap(r, "host route");
	return vm_move(c, m);
}

/* ---- drains ---- */

static int drain_one(struct nl_ctx *nl, const struct store_drain *d)
{
	struct nl_route rt = { .dst = d->what };
	struct nl_link l;
	int r;

	switch (d->kind) {
	case STORE_DRAIN_PROXY:
		return hostside_proxy_remove(nl, d->link, &d->what.addr);
	case STORE_DRAIN_ROUTE:
		/* the kernel expired it (RTA_EXPIRES); its garbage collector may not have run */
		r = nl_link_get(nl, d->link, &l);
		if (r == -ENODEV) {
			err_clear();
			return 0;
		}
		if (r < 0)
			return r;
		rt.oif = l.ifindex;
		r = nl_route_del(nl, &rt);
		return r < 0 ? r : 0;
	default:
		return 0;	/* addresses: the kernel removed them */
	}
}

int renumber_drain(struct store *s, int64_t now)
{
	struct store_drain *v = NULL;
	struct nl_ctx *nl = NULL;
	size_t n = 0;
	int r, first = 0, due = 0;

	if ((r = store_drain_list(s, &v, &n)) < 0)
		return r;
	for (size_t i = 0; i < n && v[i].until <= now; i++) {
		if (!nl && (r = nl_ctx_open(&nl)) < 0)
			break;
		if ((r = drain_one(nl, &v[i])) == 0)
			r = store_drain_forget(s, &v[i]);
		if (r < 0 && !first)
			first = r;
		due++;
	}
	nl_ctx_free(nl);
	free(v);
	if (r < 0 && !first)
		first = r;
	return first ? first : due;
}
