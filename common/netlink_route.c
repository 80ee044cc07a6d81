/* netlink.h's IPv6 addresses, routes and proxy NDP entries; the context, links, bridges and
 * veths are in netlink.c. */
#include "netlink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/route.h>

#include "err.h"
#include "netlink_int.h"

/* ---- addresses ---- */

static const char *addr_str(const struct in6_addr *a, char buf[INET6_ADDRSTRLEN])
{
	return inet_ntop(AF_INET6, a, buf, INET6_ADDRSTRLEN) ? buf : "?";
}

void nl_address_init(struct nl_address *a, int ifindex, const struct in6_addr *addr,
		     unsigned prefixlen)
{
	memset(a, 0, sizeof(*a));
	a->ifindex = ifindex;
	a->addr = *addr;
	a->prefixlen = (uint8_t)prefixlen;
	a->flags = IFA_F_NODAD;
	a->valid_lft = NL_LIFETIME_FOREVER;
	a->preferred_lft = NL_LIFETIME_FOREVER;
}

/* A new rtnl_addr for addr/prefixlen on ifindex, or NULL. */
static struct rtnl_addr *addr_build(int ifindex, const struct in6_addr *addr, unsigned plen)
{
	struct rtnl_addr *ra = rtnl_addr_alloc();
	struct nl_addr *local = nl_addr_build(AF_INET6, addr, sizeof(*addr));

	if (!ra || !local)
		goto errout;
	nl_addr_set_prefixlen(local, (int)plen);
	rtnl_addr_set_ifindex(ra, ifindex);
	rtnl_addr_set_family(ra, AF_INET6);
	if (rtnl_addr_set_local(ra, local) < 0)
		goto errout;
	rtnl_addr_set_prefixlen(ra, (int)plen);
	nl_addr_put(local);
	return ra;
errout:
	nl_addr_put(local);
	rtnl_addr_put(ra);
	return NULL;
}

int nl_address_add(struct nl_ctx *ctx, const struct nl_address *a)
{
	struct rtnl_addr *ra = NULL;
	struct nl_msg *msg = NULL;
	char s[INET6_ADDRSTRLEN];
	int r;

	if (a->prefixlen > 128 || a->ifindex <= 0 || a->valid_lft == 0 ||
	    a->preferred_lft > a->valid_lft)
		return err_set(-EINVAL,
			       "address %s/%u on ifindex %d: invalid (prefix length 0..128, "
			       "valid lifetime %u > 0, preferred %u <= valid)",
			       addr_str(&a->addr, s), a->prefixlen, a->ifindex, a->valid_lft,
			       a->preferred_lft);
	ra = addr_build(a->ifindex, &a->addr, a->prefixlen);
	if (!ra) {
		r = err_set(-ENOMEM, "address %s: %s", addr_str(&a->addr, s), strerror(ENOMEM));
		goto errout;
	}
	rtnl_addr_set_flags(ra, a->flags);
	rtnl_addr_set_valid_lifetime(ra, a->valid_lft);
	rtnl_addr_set_preferred_lifetime(ra, a->preferred_lft);
	r = rtnl_addr_build_add_request(ra, NLM_F_REPLACE, &msg);
	if (r >= 0)
		r = nl_ctx_call(ctx, msg);
	if (r < 0)
		r = nl_ctx_fail(ctx, r, "address %s/%u on ifindex %d", addr_str(&a->addr, s),
			     a->prefixlen, a->ifindex);
errout:
	nlmsg_free(msg);
	rtnl_addr_put(ra);
	return r;
}

int nl_address_del(struct nl_ctx *ctx, int ifindex, const struct in6_addr *addr,
		   unsigned prefixlen)
{
	struct rtnl_addr *ra = NULL;
	struct nl_msg *msg = NULL;
	char s[INET6_ADDRSTRLEN];
	int r;

	if (prefixlen > 128 || ifindex <= 0)
		return err_set(-EINVAL, "address %s/%u on ifindex %d: invalid",
			       addr_str(addr, s), prefixlen, ifindex);
	ra = addr_build(ifindex, addr, prefixlen);
	if (!ra) {
		r = err_set(-ENOMEM, "address %s: %s", addr_str(addr, s), strerror(ENOMEM));
		goto errout;
	}
	r = rtnl_addr_build_delete_request(ra, 0, &msg);
	if (r >= 0)
		r = nl_ctx_call_delete(ctx, msg, EADDRNOTAVAIL, ENODEV);
	if (r < 0)
		r = nl_ctx_fail(ctx, r, "delete address %s/%u on ifindex %d", addr_str(addr, s),
			     prefixlen, ifindex);
errout:
	nlmsg_free(msg);
	rtnl_addr_put(ra);
	return r;
}

int nl_address_list(struct nl_ctx *ctx, int ifindex, struct nl_address **ret)
{
	struct nl_cache *cache = NULL;
	struct nl_address *out = NULL;
	struct nl_object *o;
	int r, n = 0;

	for (int i = 0; i < NL_DUMP_TRIES; i++) {
		nl_ctx_reset(ctx);
		r = rtnl_addr_alloc_cache(ctx->sk, &cache);
		if (r != -NLE_DUMP_INTR)
			break;
	}
	if (r < 0) {
		r = nl_ctx_fail(ctx, r, "list addresses of ifindex %d", ifindex);
		goto errout;
	}
	if (nl_cache_nitems(cache) > 0) {
		out = calloc((size_t)nl_cache_nitems(cache), sizeof(*out));
		if (!out) {
			r = err_set(-ENOMEM, "list addresses: %s", strerror(ENOMEM));
			goto errout;
		}
	}
	for (o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_addr *ra = (struct rtnl_addr *)o;
		struct nl_addr *local = rtnl_addr_get_local(ra);
		struct nl_address *a = &out[n];

		if (rtnl_addr_get_family(ra) != AF_INET6 || !local ||
		    nl_addr_get_len(local) != sizeof(a->addr) ||
		    (ifindex && rtnl_addr_get_ifindex(ra) != ifindex))
			continue;
		a->ifindex = rtnl_addr_get_ifindex(ra);
		memcpy(&a->addr, nl_addr_get_binary_addr(local), sizeof(a->addr));
		a->prefixlen = (uint8_t)rtnl_addr_get_prefixlen(ra);
		a->flags = rtnl_addr_get_flags(ra);
		a->valid_lft = rtnl_addr_get_valid_lifetime(ra);
		a->preferred_lft = rtnl_addr_get_preferred_lifetime(ra);
		a->scope = (uint8_t)rtnl_addr_get_scope(ra);
		n++;
	}
	if (n == 0) {
		free(out);
		out = NULL;
	}
	*ret = out;
	out = NULL;
	r = n;
errout:
	free(out);
	nl_cache_free(cache);
	return r;
}

/* ---- routes ---- */

static bool addr_is_zero(const struct in6_addr *a)
{
	return IN6_IS_ADDR_UNSPECIFIED(a);
}

static char *route_str(const struct nl_route *r, char *buf, size_t size)
{
	char d[INET6_ADDRSTRLEN], g[INET6_ADDRSTRLEN];
	int n = snprintf(buf, size, "route %s/%u", addr_str(&r->dst.addr, d), r->dst.len);

	if (!addr_is_zero(&r->gateway) && n > 0 && (size_t)n < size)
		n += snprintf(buf + n, size - (size_t)n, " via %s", addr_str(&r->gateway, g));
	if (r->oif && n > 0 && (size_t)n < size)
		n += snprintf(buf + n, size - (size_t)n, " oif %d", r->oif);
	if (r->metric && n > 0 && (size_t)n < size)
		(void)snprintf(buf + n, size - (size_t)n, " metric %u", r->metric);
	return buf;
}

/* A new rtnl_route for r, or NULL. */
static struct rtnl_route *route_build(const struct nl_route *r)
{
	struct rtnl_route *route = rtnl_route_alloc();
	struct rtnl_nexthop *nh = NULL;
	struct nl_addr *dst = nl_addr_build(AF_INET6, &r->dst.addr, sizeof(r->dst.addr));
	struct nl_addr *gw = NULL;

	if (!route || !dst)
		goto errout;
	nl_addr_set_prefixlen(dst, r->dst.len);
	rtnl_route_set_family(route, AF_INET6);
	rtnl_route_set_table(route, RT_TABLE_MAIN);
	rtnl_route_set_type(route, RTN_UNICAST);
	if (rtnl_route_set_dst(route, dst) < 0)
		goto errout;
	if (r->metric)
		rtnl_route_set_priority(route, r->metric);
	if (r->oif || !addr_is_zero(&r->gateway)) {
		nh = rtnl_route_nh_alloc();
		if (!nh)
			goto errout;
		if (r->oif)
			rtnl_route_nh_set_ifindex(nh, r->oif);
		if (!addr_is_zero(&r->gateway)) {
			gw = nl_addr_build(AF_INET6, &r->gateway, sizeof(r->gateway));
			if (!gw)
				goto errout;
			rtnl_route_nh_set_gateway(nh, gw);
		}
		rtnl_route_add_nexthop(route, nh);
		nh = NULL;
	}
	nl_addr_put(gw);
	nl_addr_put(dst);
	return route;
errout:
	nl_addr_put(gw);
	nl_addr_put(dst);
	if (nh)
		rtnl_route_nh_free(nh);
	rtnl_route_put(route);
	return NULL;
}

static int route_check(const struct nl_route *r)
{
	char s[160];

	if (r->dst.len > 128)
		return err_set(-EINVAL, "%s: prefix length above 128", route_str(r, s, sizeof(s)));
	if (IN6_IS_ADDR_LINKLOCAL(&r->gateway) && !r->oif)
		return err_set(-EINVAL, "%s: a link-local gateway needs an output interface",
			       route_str(r, s, sizeof(s)));
	return 0;
}

static int route_add(struct nl_ctx *ctx, const struct nl_route *r, int flags)
{
	struct rtnl_route *route = NULL;
	struct nl_msg *msg = NULL;
	char s[160];
	int ret = route_check(r);

	if (ret < 0)
		return ret;
	route = route_build(r);
	if (!route) {
		ret = err_set(-ENOMEM, "%s: %s", route_str(r, s, sizeof(s)), strerror(ENOMEM));
		goto errout;
	}
	ret = rtnl_route_build_add_request(route, flags, &msg);
	/* libnl has no setter for it */
	if (ret >= 0 && r->expires)
		ret = nla_put_u32(msg, RTA_EXPIRES, r->expires);
	if (ret >= 0)
		ret = nl_ctx_call(ctx, msg);
	if (ret < 0)
		ret = nl_ctx_fail(ctx, ret, "%s", route_str(r, s, sizeof(s)));
errout:
	nlmsg_free(msg);
	rtnl_route_put(route);
	return ret;
}

int nl_route_add(struct nl_ctx *ctx, const struct nl_route *r)
{
	/* EXCL: without it IPv6 appends a second nexthop to an existing route */
	return route_add(ctx, r, NLM_F_EXCL);
}

int nl_route_replace(struct nl_ctx *ctx, const struct nl_route *r)
{
	return route_add(ctx, r, NLM_F_REPLACE);
}

int nl_route_del(struct nl_ctx *ctx, const struct nl_route *r)
{
	struct rtnl_route *route = NULL;
	struct nl_msg *msg = NULL;
	char s[160];
	int ret = route_check(r);

	if (ret < 0)
		return ret;
	route = route_build(r);
	if (!route) {
		ret = err_set(-ENOMEM, "%s: %s", route_str(r, s, sizeof(s)), strerror(ENOMEM));
		goto errout;
	}
	/* libnl defaults to RTPROT_STATIC, which the kernel would match; 0 matches any */
	rtnl_route_set_protocol(route, RTPROT_UNSPEC);
	ret = rtnl_route_build_del_request(route, 0, &msg);
	if (ret >= 0)
		ret = nl_ctx_call_delete(ctx, msg, ESRCH, ENODEV);
	if (ret < 0)
		ret = nl_ctx_fail(ctx, ret, "delete %s", route_str(r, s, sizeof(s)));
errout:
	nlmsg_free(msg);
	rtnl_route_put(route);
	return ret;
}

int nl_route_list(struct nl_ctx *ctx, int oif, struct nl_route **ret)
{
	struct nl_cache *cache = NULL;
	struct nl_route *out = NULL;
	struct nl_object *o;
	size_t n = 0, cap = 0;
	int r;

	for (int i = 0; i < NL_DUMP_TRIES; i++) {
		nl_ctx_reset(ctx);
		r = rtnl_route_alloc_cache(ctx->sk, AF_INET6, 0, &cache);
		if (r != -NLE_DUMP_INTR)
			break;
	}
	if (r < 0) {
		r = nl_ctx_fail(ctx, r, "list routes");
		goto errout;
	}
	for (o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_route *route = (struct rtnl_route *)o;
		struct nl_addr *dst = rtnl_route_get_dst(route);
		int nnh = rtnl_route_get_nnexthops(route);

		if (rtnl_route_get_family(route) != AF_INET6 ||
		    rtnl_route_get_table(route) != RT_TABLE_MAIN ||
		    rtnl_route_get_type(route) != RTN_UNICAST || !dst)
			continue;
		for (int i = 0; i < nnh; i++) {
			struct rtnl_nexthop *nh = rtnl_route_nexthop_n(route, i);
			struct nl_addr *gw = rtnl_route_nh_get_gateway(nh);
			struct nl_route *e;

			if (oif && rtnl_route_nh_get_ifindex(nh) != oif)
				continue;
			if (n == cap) {
				size_t ncap = cap ? cap * 2 : 16;
				struct nl_route *p = reallocarray(out, ncap, sizeof(*out));

				if (!p) {
					r = err_set(-ENOMEM, "list routes: %s", strerror(ENOMEM));
					goto errout;
				}
				out = p;
				cap = ncap;
			}
			e = &out[n++];
			memset(e, 0, sizeof(*e));
			if (nl_addr_get_len(dst) == sizeof(e->dst.addr))
				memcpy(&e->dst.addr, nl_addr_get_binary_addr(dst),
				       sizeof(e->dst.addr));
			e->dst.len = (uint8_t)nl_addr_get_prefixlen(dst);
			if (gw && nl_addr_get_len(gw) == sizeof(e->gateway))
				memcpy(&e->gateway, nl_addr_get_binary_addr(gw), sizeof(e->gateway));
			e->oif = rtnl_route_nh_get_ifindex(nh);
			e->metric = rtnl_route_get_priority(route);
		}
	}
	*ret = out;
	out = NULL;
	r = (int)n;
errout:
	free(out);
	nl_cache_free(cache);
	return r;
}

int nl_route_exists(struct nl_ctx *ctx, const struct nl_route *r)
{
	struct nl_route *routes = NULL;
	int n = nl_route_list(ctx, r->oif, &routes), found = 0;

	if (n < 0)
		return n;
	for (int i = 0; i < n && !found; i++) {
		const struct nl_route *e = &routes[i];

		found = e->dst.len == r->dst.len &&
			!memcmp(&e->dst.addr, &r->dst.addr, sizeof(e->dst.addr)) &&
			(addr_is_zero(&r->gateway) ||
			 !memcmp(&e->gateway, &r->gateway, sizeof(e->gateway))) &&
			(!r->metric || e->metric == r->metric);
	}
	free(routes);
	return found;
}

/* ---- proxy NDP ---- */

static int proxy_request(struct nl_ctx *ctx, int ifindex, const struct in6_addr *addr,
			 bool add)
{
	struct rtnl_neigh *neigh = rtnl_neigh_alloc();
	struct nl_addr *dst = nl_addr_build(AF_INET6, addr, sizeof(*addr));
	struct nl_msg *msg = NULL;
	char s[INET6_ADDRSTRLEN];
	int r;

	if (!neigh || !dst) {
		r = err_set(-ENOMEM, "proxy %s: %s", addr_str(addr, s), strerror(ENOMEM));
		goto errout;
	}
	rtnl_neigh_set_ifindex(neigh, ifindex);
	rtnl_neigh_set_dst(neigh, dst);
	rtnl_neigh_set_flags(neigh, NTF_PROXY);
	rtnl_neigh_set_state(neigh, NUD_PERMANENT);
	r = add ? rtnl_neigh_build_add_request(neigh, NLM_F_CREATE | NLM_F_REPLACE, &msg) :
		  rtnl_neigh_build_delete_request(neigh, 0, &msg);
	if (r >= 0)
		r = add ? nl_ctx_call(ctx, msg) : nl_ctx_call_delete(ctx, msg, ENOENT, ENODEV);
	if (r < 0)
		r = nl_ctx_fail(ctx, r, "%s proxy NDP entry %s on ifindex %d", add ? "add" : "delete",
			     addr_str(addr, s), ifindex);
	else if (add)
		r = 0;
errout:
	nlmsg_free(msg);
	nl_addr_put(dst);
	rtnl_neigh_put(neigh);
	return r;
}

int nl_neigh_proxy_add(struct nl_ctx *ctx, int ifindex, const struct in6_addr *addr)
{
	return proxy_request(ctx, ifindex, addr, true);
}

int nl_neigh_proxy_del(struct nl_ctx *ctx, int ifindex, const struct in6_addr *addr)
{
	return proxy_request(ctx, ifindex, addr, false);
}

int nl_neigh_stale_add(struct nl_ctx *ctx, int ifindex, const struct in6_addr *addr,
		       const uint8_t mac[6])
{
	struct rtnl_neigh *neigh = rtnl_neigh_alloc();
	struct nl_addr *dst = nl_addr_build(AF_INET6, addr, sizeof(*addr));
	struct nl_addr *ll = nl_addr_build(AF_LLC, mac, 6);
	struct nl_msg *msg = NULL;
	char s[INET6_ADDRSTRLEN];
	int r;

	if (!neigh || !dst || !ll) {
		r = err_set(-ENOMEM, "neighbour %s: %s", addr_str(addr, s), strerror(ENOMEM));
		goto errout;
	}
	rtnl_neigh_set_ifindex(neigh, ifindex);
	rtnl_neigh_set_family(neigh, AF_INET6);
	rtnl_neigh_set_dst(neigh, dst);
	rtnl_neigh_set_lladdr(neigh, ll);
	rtnl_neigh_set_state(neigh, NUD_STALE);
	r = rtnl_neigh_build_add_request(neigh, NLM_F_CREATE | NLM_F_REPLACE, &msg);
	if (r >= 0)
		r = nl_ctx_call(ctx, msg);
	if (r < 0)
		r = nl_ctx_fail(ctx, r, "neighbour %s on ifindex %d", addr_str(addr, s), ifindex);
errout:
	nlmsg_free(msg);
	nl_addr_put(ll);
	nl_addr_put(dst);
	rtnl_neigh_put(neigh);
	return r;
}

struct proxy_find {
	int ifindex;
	const struct in6_addr *addr;
	bool found;
};

static int proxy_match(struct nl_msg *msg, void *arg)
{
	struct proxy_find *f = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct nlattr *tb[NDA_MAX + 1];
	const struct ndmsg *ndm;

	if (h->nlmsg_type != RTM_NEWNEIGH || nlmsg_parse(h, sizeof(*ndm), tb, NDA_MAX, NULL) < 0)
		return NL_OK;
	ndm = nlmsg_data(h);
	if (ndm->ndm_family == AF_INET6 && (ndm->ndm_flags & NTF_PROXY) &&
	    ndm->ndm_ifindex == f->ifindex && tb[NDA_DST] &&
	    nla_len(tb[NDA_DST]) == (int)sizeof(*f->addr) &&
	    !memcmp(nla_data(tb[NDA_DST]), f->addr, sizeof(*f->addr)))
		f->found = true;
	return NL_OK;
}

int nl_neigh_proxy_exists(struct nl_ctx *ctx, int ifindex, const struct in6_addr *addr)
{
	/* libnl's neighbour cache leaves proxy entries out: dump them with NTF_PROXY */
	struct ndmsg ndm = { .ndm_family = AF_INET6, .ndm_flags = NTF_PROXY };
	struct proxy_find f = { .ifindex = ifindex, .addr = addr };
	struct nl_msg *msg = NULL;
	char s[INET6_ADDRSTRLEN];
	int r = -NLE_DUMP_INTR;

	for (int i = 0; i < NL_DUMP_TRIES && r == -NLE_DUMP_INTR; i++) {
		nlmsg_free(msg);
		f.found = false;
		msg = nlmsg_alloc_simple(RTM_GETNEIGH, NLM_F_DUMP);
		if (!msg) {
			r = -NLE_NOMEM;
			break;
		}
		r = nlmsg_append(msg, &ndm, sizeof(ndm), NLMSG_ALIGNTO);
		if (r >= 0)
			r = nl_ctx_dump(ctx, msg, proxy_match, &f);
	}
	if (r < 0)
		r = nl_ctx_fail(ctx, r, "proxy NDP entry %s on ifindex %d", addr_str(addr, s), ifindex);
	else
		r = f.found;
	nlmsg_free(msg);
	return r;
}
