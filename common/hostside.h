/* hostside: the host end of an attachment, shared by the CNI plugin (veth host ends) and the
 * libvirt hook (bridges and routed taps). The workload's default router is fe80::1 on the
 * bridge or on the routed link, never a global address, so a renumbering never breaks the
 * default route (DESIGN.md decision 6); the slice's ::1 is the host's global address there.
 *
 * Everything works on ctx's netns through netlink, and on the calling thread's netns through
 * /proc/sys (the same one for both front ends). Every function is idempotent and returns 0 or
 * a negative errno after one err_set() message, as netlink.h does. Nothing here prints.
 */
#pragma once

#include <netinet/in.h>
#include <stdint.h>

#include "netlink.h"
#include "prefix.h"

/* fe80::1, CONFIG_GATEWAY_LL. */
struct in6_addr hostside_gateway_ll(void);

/* Bridge mode, on a bridge the caller made sure of (nl_bridge_ensure(), ifindex): it
 * carries fe80::1/64 and slice::1/slice.len, ignores router advertisements, and forwards
 * (on the bridge and in "all"). */
int hostside_bridge_gateways(struct nl_ctx *ctx, const char *bridge, int ifindex,
			     const struct prefix *slice);

/* Routed mode: one workload behind one host link (a veth host end, a tap). */
struct hostside_routed {
	int ifindex;			/* the host link; must be up */
	const char *ifname;
	struct in6_addr addr;		/* the workload's address */
	struct prefix route;		/* routed to the link: addr/128, or the workload's slice */
	const struct prefix *gateway_slice; /* non-NULL: slice::1 on the link too, with
					     * IFA_F_NOPREFIXROUTE so several links carry it
					     * (a router advertising the slice needs a global
					     * address on the link) */
	const struct nl_link *uplink;	/* answers NS for addr (ndpProxy), looked up by the
					 * caller before anything was made; NULL: none */
};

/* fe80::1/64 (and slice::1) on the link, accept_ra 0 on it, forwarding in "all", the route
 * (replaced when it exists), and the proxy entry with proxy_ndp=1 on the uplink. */
int hostside_routed_setup(struct nl_ctx *ctx, const struct hostside_routed *h);

/* Removes the proxy entry for addr on the link named uplink; "" or NULL, a missing uplink or
 * a missing entry is no error. */
int hostside_proxy_remove(struct nl_ctx *ctx, const char *uplink, const struct in6_addr *addr);
