/* The host side of one managed interface (hook.h): a v6pd bridge with its gateways, or a
 * routed tap (fe80::1 and slice::1 on it, the VM's /128 or slice routed to it, proxy NDP on
 * the uplink), and the host's v6pd dnsmasq serving either. libvirt's own networks have none:
 * libvirt owns their bridge.
 */
#include <errno.h>
#include <linux/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnsmasq.h"
#include "err.h"
#include "hook.h"
#include "hostside.h"
#include "netlink.h"
#include "sysctl.h"

int hook_open_nl(struct hook *h)
{
	if (h->nl)
		return 0;
	return nl_ctx_open(&h->nl);
}

static struct prefix routed_dst(const struct vmconf_entry *e, const struct lease *l)
{
	struct prefix p = { .addr = l->addr, .len = 128 };

	return e->cfg.net.per_container_slice ? l->slice : p;
}

/* Link-local addresses other than fe80::1: the guest must see one router, fe80::1. */
static int drop_other_ll(struct hook *h, int ifindex)
{
	struct in6_addr g = hostside_gateway_ll();
	struct nl_address *a = NULL;
	int n = nl_address_list(h->nl, ifindex, &a), r = 0;

	for (int i = 0; i < n && r >= 0; i++)
		if (IN6_IS_ADDR_LINKLOCAL(&a[i].addr) && memcmp(&a[i].addr, &g, sizeof(g)) != 0)
			r = nl_address_del(h->nl, ifindex, &a[i].addr, a[i].prefixlen);
	free(a);
	return n < 0 ? n : r < 0 ? r : 0;
}

/* Everything a tap needs that the hook cannot make: the tap itself and the ndpProxy uplink.
 * Looked at before anything is made, so a start that cannot work changes nothing. */
int host_tap_check(struct hook *h, struct work *w)
{
	const char *up = w->e->cfg.ndp_proxy;
	int r;

	if ((r = nl_link_get(h->nl, w->tap, &w->tap_link)) < 0)
		return r == -ENODEV ? err_set(r, "tap \"%s\" does not exist", w->tap) : r;
	r = up[0] ? nl_link_get(h->nl, up, &w->uplink) : 0;
	if (r == -ENODEV)
		return err_set(r, "\"ndpProxy\" \"%s\": no such link on the host", up);
	return r < 0 ? err_wrap(r, "\"ndpProxy\"") : 0;
}

/* What dnsmasq serves a tap entry's tap under: the entry's pattern when dnsmasq can match it
 * itself ("vmtap*": a name and a final '*', dnsmasq's only wildcard), so that a new VM's tap
 * is served by the running dnsmasq with no restart; otherwise the tap. A slice per VM longer
 * than /64 is served by a fixed range of its own (dnsmasq.h), which only a restart adds:
 * the tap then too. */
static const char *served_as(const struct vmconf_entry *e, const char *tap, unsigned slice_len)
{
	size_t n = strlen(e->pattern);

	if (n > 1 && strcspn(e->pattern, "*?[\\") == n - 1 && e->pattern[n - 1] == '*' &&
	    (!e->cfg.net.per_container_slice || slice_len == 64))
		return e->pattern;
	return tap;
}

/* Router advertisements and DHCPv6 on iface from the host's v6pd dnsmasq. A routed tap's
 * prefix is off-link (no L flag): the slice's other addresses are behind other taps. */
static int serve(struct hook *h, const struct work *w, const char *iface, bool off_link)
{
	struct dnsmasq_link l = {
		.network = net_of(w),
		.iface = iface,
		.prefixlen = w->lease.slice.len,
		.slice = w->lease.slice.addr,
		.off_link = off_link,
	};

	return dnsmasq_serve_link(state_dir(h), &l);
}

static int tap_setup(struct hook *h, struct work *w)
{
	struct hostside_routed hr = {
		.ifindex = w->tap_link.ifindex,
		.ifname = w->tap,
		.addr = w->lease.addr,
		.route = routed_dst(w->e, &w->lease),
		.gateway_slice = &w->lease.slice,
		.uplink = w->e->cfg.ndp_proxy[0] ? &w->uplink : NULL,
	};
	int r;

	/* No kernel link-local once it is up (addr_gen_mode 1 = none); when it is up already,
	 * drop_other_ll() removes the one the kernel made. */
	if ((r = sysctl_ipv6_conf_set(w->tap, "addr_gen_mode", 1)) < 0)
		return r;
	if (!(w->tap_link.flags & IFF_UP) && (r = nl_link_set_up(h->nl, hr.ifindex)) < 0)
		return r;
	if ((r = hostside_routed_setup(h->nl, &hr)) < 0 || (r = drop_other_ll(h, hr.ifindex)) < 0)
		return r;
	return serve(h, w, served_as(w->e, w->tap, w->lease.slice.len), true);
}

/* nl_bridge_ensure() and its gateways. The guests' default router is whoever sends the
 * router advertisements, from a link-local address of the bridge: fe80::1 must be its only
 * one (DESIGN.md decision 6). */
static int bridge_setup(struct hook *h, const struct work *w)
{
	const char *br = w->e->cfg.bridge;
	int ifindex, r;

	if ((r = hook_open_nl(h)) < 0 ||
	    (r = nl_bridge_ensure(h->nl, br, w->e->cfg.mtu, &ifindex)) < 0 ||
	    (r = sysctl_ipv6_conf_set(br, "addr_gen_mode", 1)) < 0 ||
	    (r = hostside_bridge_gateways(h->nl, br, ifindex, &w->lease.slice)) < 0)
		return r;
	return drop_other_ll(h, ifindex);
}

/* Undoes tap_setup() for lease l: the route (found through the lease when the XML no longer
 * names the tap), the gateway addresses on the tap, the proxy entry. A tap that is gone took
 * its addresses and routes with it; dnsmasq stops serving it. */
int host_tap_teardown(struct hook *h, const struct vmconf_entry *e, const struct lease *l,
		      const char *tap)
{
	struct in6_addr g = hostside_gateway_ll(), slice_gw;
	struct nl_route rt = { .dst = routed_dst(e, l) };
	struct nl_link link = { 0 };
	int r;

	if (!l->addr_known)
		return 0;
	if ((r = hook_open_nl(h)) < 0)
		return r;
	if (tap && tap[0] && (r = nl_link_get(h->nl, tap, &link)) < 0 && r != -ENODEV)
		return r;
	if (!link.ifindex) {
		struct nl_route *v = NULL;
		int n = nl_route_list(h->nl, 0, &v);

		for (int i = 0; i < n; i++)
			if (v[i].dst.len == rt.dst.len &&
			    memcmp(&v[i].dst.addr, &rt.dst.addr, sizeof(rt.dst.addr)) == 0)
				rt.oif = v[i].oif;
		free(v);
		if (n < 0)
			return n;
		if (rt.oif && (r = nl_link_get_by_index(h->nl, rt.oif, &link)) < 0 && r != -ENODEV)
			return r;
	}
	if ((r = hostside_proxy_remove(h->nl, e->cfg.ndp_proxy, &l->addr)) < 0)
		return r;
	if (link.ifindex) {
		rt.oif = link.ifindex;
		prefix_addr_with_host(&l->slice, ADDRGEN_GATEWAY_IID, &slice_gw);
		if ((r = nl_route_del(h->nl, &rt)) < 0 ||
		    (r = nl_address_del(h->nl, link.ifindex, &slice_gw, l->slice.len)) < 0 ||
		    (r = nl_address_del(h->nl, link.ifindex, &g, 64)) < 0)
			return r;
		/* A tap that stays (managed='no') stays served: the VM comes back on it, and
		 * dnsmasq restarts whenever the set of served links changes. */
		return 0;
	}
	/* a tap served on its own (not through the entry's pattern, which stays) is gone */
	return tap && tap[0] && served_as(e, tap, l->slice.len) == tap
		       ? dnsmasq_unserve(state_dir(h), tap)
		       : 0;
}

/* prepare: a v6pd bridge must exist before libvirt attaches the tap to it. A missing one is
 * made with its gateways; one that is up is left to start, which sets it up again anyway
 * (four sysctl writes, two address requests and an address dump fewer on the path of
 * `virsh start`). */
static int bridge_prepare(struct hook *h, const struct work *w)
{
	struct nl_link l;
	int r;

	if ((r = hook_open_nl(h)) < 0)
		return r;
	r = nl_link_get(h->nl, w->e->cfg.bridge, &l);
	if (r == 0 && strcmp(l.kind, "bridge") == 0 && (l.flags & IFF_UP))
		return 0;
	if (r < 0 && r != -ENODEV)
		return r;
	err_clear();
	return bridge_setup(h, w);
}

int host_prepare(struct hook *h, struct work *w)
{
	int r;

	if (w->e->match == VMCONF_MATCH_BRIDGE)
		return bridge_prepare(h, w);
	/* A tap made beforehand (managed='no'): no kernel link-local when it comes up. */
	if (w->e->match == VMCONF_MATCH_TAP) {
		r = sysctl_ipv6_conf_set(w->tap, "addr_gen_mode", 1);
		if (r == -ENOENT)
			err_clear();
		return r == -ENOENT ? 0 : r;
	}
	return 0;
}

int host_start(struct hook *h, struct work *w)
{
	int r;

	if (w->e->match == VMCONF_MATCH_NETWORK)
		return 0;
	w->host_done = true;
	if (w->e->match == VMCONF_MATCH_TAP)
		return tap_setup(h, w);
	if ((r = bridge_setup(h, w)) < 0)
		return r;
	return serve(h, w, w->e->cfg.bridge, false);
}
