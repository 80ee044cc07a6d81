#include "hostside.h"

#include <errno.h>

#include "addrgen.h"
#include "config.h"
#include "err.h"
#include "sysctl.h"

struct in6_addr hostside_gateway_ll(void)
{
	struct in6_addr a;

	(void)prefix_addr_from_string(CONFIG_GATEWAY_LL, &a);
	return a;
}

int hostside_bridge_gateways(struct nl_ctx *ctx, const char *bridge, int ifindex,
			     const struct prefix *slice)
{
	struct nl_address a;
	struct in6_addr g = hostside_gateway_ll(), slice_gw;
	int r;

	if ((r = sysctl_ipv6_conf_set(bridge, "accept_ra", 0)) < 0 ||
	    (r = sysctl_ipv6_conf_set(bridge, "forwarding", 1)) < 0 ||
	    (r = sysctl_ipv6_conf_set("all", "forwarding", 1)) < 0)
		return r;
	nl_address_init(&a, ifindex, &g, 64);
	if ((r = nl_address_add(ctx, &a)) < 0)
		return r;
	prefix_addr_with_host(slice, ADDRGEN_GATEWAY_IID, &slice_gw);
	nl_address_init(&a, ifindex, &slice_gw, slice->len);
	return nl_address_add(ctx, &a);
}

int hostside_routed_setup(struct nl_ctx *ctx, const struct hostside_routed *h)
{
	struct nl_address a;
	struct in6_addr g = hostside_gateway_ll();
	struct nl_route rt = { .dst = h->route, .oif = h->ifindex };
	int r;

	if ((r = sysctl_ipv6_conf_set(h->ifname, "accept_ra", 0)) < 0 ||
	    (r = sysctl_ipv6_conf_set("all", "forwarding", 1)) < 0)
		return r;
	nl_address_init(&a, h->ifindex, &g, 64);
	if ((r = nl_address_add(ctx, &a)) < 0)
		return r;
	if (h->gateway_slice) {
		struct in6_addr slice_gw;

		prefix_addr_with_host(h->gateway_slice, ADDRGEN_GATEWAY_IID, &slice_gw);
		nl_address_init(&a, h->ifindex, &slice_gw, h->gateway_slice->len);
		a.flags |= IFA_F_NOPREFIXROUTE;
		if ((r = nl_address_add(ctx, &a)) < 0)
			return r;
	}
	if ((r = nl_route_replace(ctx, &rt)) < 0 || !h->uplink)
		return r;
	if ((r = sysctl_ipv6_conf_set(h->uplink->name, "proxy_ndp", 1)) < 0)
		return r;
	return nl_neigh_proxy_add(ctx, h->uplink->ifindex, &h->addr);
}

int hostside_proxy_remove(struct nl_ctx *ctx, const char *uplink, const struct in6_addr *addr)
{
	struct nl_link up;
	int r;

	if (!uplink || !uplink[0])
		return 0;
	r = nl_link_get(ctx, uplink, &up);
	if (r == -ENODEV) {
		err_clear();
		return 0;
	}
	if (r < 0)
		return r;
	r = nl_neigh_proxy_del(ctx, up.ifindex, addr);
	return r < 0 ? r : 0;
}
