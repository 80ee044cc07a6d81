/* netlink: links, bridges, veths, IPv6 addresses, routes and proxy NDP entries, through
 * libnl-route-3, in the network namespace a context was opened in.
 *
 * Every function returns 0 (or a count, or 1/0 where said) on success and a negative errno
 * on failure, after one err_set() message naming the object and value, e.g.
 * `veth "v6pd1234abcd": File exists`; the kernel's extended-ack text, when it sends one, is
 * appended in parentheses. ret_ parameters are untouched on failure. Nothing here prints.
 */
#pragma once

#include <linux/if_addr.h>	/* IFA_F_NODAD, IFA_F_NOPREFIXROUTE, ... */
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "prefix.h"

#define NL_IFNAMSIZ 16			/* IFNAMSIZ: 15 bytes and NUL */
#define NL_ALIAS_MAX 256		/* IFALIASZ: 255 bytes and NUL */
#define NL_LIFETIME_FOREVER UINT32_MAX	/* INFINITY_LIFE_TIME */

/* Checks an interface name as the kernel's dev_valid_name() does: 1..15 bytes, not "." or
 * "..", no '/', ':' or whitespace. Also refuses '%': the kernel expands a "%d" in a new
 * link's name into a number, so the link would get another name. -EINVAL with a message
 * quoting the name (control bytes escaped). */
int nl_ifname_validate(const char *name);

/* A NETLINK_ROUTE socket in the calling thread's network namespace at open time; it stays
 * there after netns_leave(). The context owns the socket; nl_ctx_free() accepts NULL. */
struct nl_ctx;
int nl_ctx_open(struct nl_ctx **ret);
void nl_ctx_free(struct nl_ctx *ctx);

/* ---- links ---- */

struct nl_link {
	int ifindex;
	char name[NL_IFNAMSIZ];
	char kind[16];			/* "veth", "bridge", ...; "" for none (lo, ...) */
	uint8_t mac[6];
	bool has_mac;
	uint32_t mtu;
	int master;			/* ifindex of its bridge; 0: none */
	int peer_ifindex;		/* veth: the peer's ifindex, in the peer's netns; 0: none */
	uint32_t flags;			/* IFF_UP, IFF_LOWER_UP, ... (<linux/if.h>) */
	uint8_t operstate;		/* IF_OPER_UP, IF_OPER_DOWN, ... (<linux/if.h>) */
	char alias[NL_ALIAS_MAX];	/* IFLA_IFALIAS; "" when none */
};

/* -ENODEV when there is no such link. */
int nl_link_get(struct nl_ctx *ctx, const char *name, struct nl_link *ret);
int nl_link_get_by_index(struct nl_ctx *ctx, int ifindex, struct nl_link *ret);
/* 1 if a link of that name exists, 0 if not. */
int nl_link_exists(struct nl_ctx *ctx, const char *name);
/* Every link of the namespace. Returns the count; *ret is a new array (NULL for none) the
 * caller frees with free(). */
int nl_link_list(struct nl_ctx *ctx, struct nl_link **ret);

/* Deletes a link; a veth's peer goes with it. -ENODEV when missing. The kernel takes
 * 15-35 ms per veth (RTM_DELLINK waits for RCU). */
int nl_link_del(struct nl_ctx *ctx, const char *name);
int nl_link_del_ifindex(struct nl_ctx *ctx, int ifindex);
/* The same with a missing link as success: 1 deleted, 0 it was already gone. */
int nl_link_del_if_exists(struct nl_ctx *ctx, const char *name);
int nl_link_del_ifindex_if_exists(struct nl_ctx *ctx, int ifindex);

int nl_link_set_up(struct nl_ctx *ctx, int ifindex);
int nl_link_set_mtu(struct nl_ctx *ctx, int ifindex, uint32_t mtu);
/* IFLA_IFALIAS, at most 255 bytes; "" clears it. */
int nl_link_set_alias(struct nl_ctx *ctx, int ifindex, const char *alias);

/* Makes sure bridge `name` exists and is up: creates it (with mtu, 0: kernel default) when
 * missing; an existing one is brought up and given mtu if it differs. Another process
 * creating it at the same time is fine. -EEXIST when name is a link of another kind.
 * *ret_ifindex (may be NULL) gets its ifindex. Note: a bridge created with an MTU still
 * follows the smallest MTU of its ports; set the ports' MTU too. */
int nl_bridge_ensure(struct nl_ctx *ctx, const char *name, uint32_t mtu, int *ret_ifindex);
/* The same, with the bridge as it is now in *ret (its alias too). */
int nl_bridge_ensure_link(struct nl_ctx *ctx, const char *name, uint32_t mtu,
			  struct nl_link *ret);
/* What nl_bridge_ensure() does to a link already read (nl_link_get()): -EEXIST unless it is
 * a bridge; mtu (0: any) and up, as needed; *l follows. */
int nl_bridge_settle(struct nl_ctx *ctx, struct nl_link *l, uint32_t mtu);

/* ---- veth pairs ---- */

struct nl_veth {
	const char *name;		/* host end: in ctx's netns, up */
	int master;			/* enslave the host end to this ifindex; 0: no */
	uint32_t mtu;			/* host end; 0: kernel default */
	const char *peer_name;		/* created directly inside peer_netns_fd, down */
	int peer_netns_fd;		/* borrowed, from netns_open(); -1: ctx's netns */
	const uint8_t *peer_mac;	/* 6 bytes; NULL: random */
	uint32_t peer_mtu;		/* 0: kernel default */
};

/* Creates the pair in one RTM_NEWLINK. The peer cannot be brought up in that message (the
 * kernel answers ENOTCONN): bring it up with a context opened inside its netns, using
 * *ret_peer_ifindex. -EEXIST when the host name exists (message names it) or the peer name
 * exists in the target netns (message names that); on failure nothing is created.
 * ret_ifindex and ret_peer_ifindex may be NULL. */
int nl_veth_create(struct nl_ctx *ctx, const struct nl_veth *v, int *ret_ifindex,
		   int *ret_peer_ifindex);
/* The same, with the host end as it was read back in *ret_host (its peer_ifindex, MAC). */
int nl_veth_create_link(struct nl_ctx *ctx, const struct nl_veth *v, struct nl_link *ret_host);

/* ---- IPv6 addresses ---- */

struct nl_address {
	int ifindex;
	struct in6_addr addr;
	uint8_t prefixlen;
	uint32_t flags;			/* in: IFA_F_NODAD, IFA_F_NOPREFIXROUTE;
					 * out: also IFA_F_TENTATIVE, IFA_F_DEPRECATED, ... */
	uint32_t valid_lft;		/* seconds; NL_LIFETIME_FOREVER; never 0 */
	uint32_t preferred_lft;		/* seconds, <= valid_lft; 0: deprecated */
	uint8_t scope;			/* out: RT_SCOPE_UNIVERSE, RT_SCOPE_LINK, ... */
};

/* ifindex, addr/prefixlen, IFA_F_NODAD (the store guarantees uniqueness), forever. */
void nl_address_init(struct nl_address *a, int ifindex, const struct in6_addr *addr,
		     unsigned prefixlen);

/* Adds the address or, when it exists, updates its prefix length, flags and lifetimes
 * (NLM_F_REPLACE): adding twice is a no-op, and a renumbering deprecates an address by
 * adding it again with preferred_lft 0. */
int nl_address_add(struct nl_ctx *ctx, const struct nl_address *a);
/* 1 deleted, 0 it was not there (or the link is gone). prefixlen must match, as the
 * kernel requires. */
int nl_address_del(struct nl_ctx *ctx, int ifindex, const struct in6_addr *addr,
		   unsigned prefixlen);
/* The IPv6 addresses on ifindex (0: on every link). Returns the count; *ret is a new array
 * (NULL for none) the caller frees with free(). valid_lft/preferred_lft are what remains. */
int nl_address_list(struct nl_ctx *ctx, int ifindex, struct nl_address **ret);

/* ---- IPv6 routes (main table, unicast) ---- */

struct nl_route {
	struct prefix dst;		/* ::/0 for the default route */
	struct in6_addr gateway;	/* :: for none (on-link); e.g. fe80::1 */
	int oif;			/* output ifindex; 0: none (required with a link-local
					 * gateway) */
	uint32_t metric;		/* 0: the kernel's default, 1024 */
	uint32_t expires;		/* add/replace: seconds until the kernel drops it
					 * (RTA_EXPIRES, IPv6 only; its garbage collector
					 * removes it within net.ipv6.route.gc_interval after,
					 * lookups skip it at once); 0: never */
};

/* -EEXIST when a route to dst with that metric exists. The output link must be up
 * (-ENETDOWN otherwise). */
int nl_route_add(struct nl_ctx *ctx, const struct nl_route *r);
/* Adds the route or replaces the one to dst with that metric: idempotent. */
int nl_route_replace(struct nl_ctx *ctx, const struct nl_route *r);
/* 1 deleted, 0 none matched. dst must match exactly; gateway, oif and metric narrow the
 * match when non-zero. */
int nl_route_del(struct nl_ctx *ctx, const struct nl_route *r);
/* The routes through oif (0: all). Returns the count; *ret is a new array (NULL for none)
 * the caller frees with free(). A multipath route gives one entry per nexthop. */
int nl_route_list(struct nl_ctx *ctx, int oif, struct nl_route **ret);
/* 1 if a route matches r as nl_route_del() would match it, 0 if none does. */
int nl_route_exists(struct nl_ctx *ctx, const struct nl_route *r);

/* ---- proxy NDP ---- */

/* A proxy neighbour entry (NTF_PROXY) for addr on ifindex (the uplink); the kernel answers
 * solicitations for addr there only with proxy_ndp=1 on that link. add is idempotent;
 * del and exists return 1/0 as above. */
int nl_neigh_proxy_add(struct nl_ctx *ctx, int ifindex, const struct in6_addr *addr);
int nl_neigh_proxy_del(struct nl_ctx *ctx, int ifindex, const struct in6_addr *addr);
int nl_neigh_proxy_exists(struct nl_ctx *ctx, int ifindex, const struct in6_addr *addr);

/* ---- neighbours ---- */

/* A neighbour entry addr -> mac on ifindex in state STALE, as if learnt from a packet (RFC
 * 4861 7.3.3): used at once, confirmed by a unicast probe when traffic goes on (DELAY,
 * PROBE), so no multicast solicitation is needed. Replaces an existing entry. */
int nl_neigh_stale_add(struct nl_ctx *ctx, int ifindex, const struct in6_addr *addr,
		       const uint8_t mac[6]);
