/* CHECK: the lease, the host side and the container side are as ADD made them, at the lease's
 * current address.
 *
 * The runtime passes the ADD result it keeps as prevResult, and keeps it for the container's
 * whole life. A renumbering (DESIGN.md decision 8) moves the attachment in place to the new
 * host prefix, same slice index and IID, so after one the runtime's prevResult lists the
 * address the attachment had before. The spec lets a runtime take a failed CHECK for a
 * container that is broken for good (and tear it down), so that prevResult passes: CHECK then
 * verifies the current address, routes and link. An address this attachment never had, at
 * any host prefix, still fails. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cni.h"
#include "err.h"
#include "netlink.h"
#include "netns.h"

/* What the container side must show. */
struct inside {
	const struct cni_req *req;
	const struct lease *lease;
	struct in6_addr gw;		/* the default route's gateway, fe80::1 */
};

/* 1 when addr/prefixlen is on ifindex, 0 when not. */
static int has_address(struct nl_ctx *ctx, int ifindex, const struct in6_addr *addr,
		       unsigned prefixlen)
{
	struct nl_address *addrs = NULL;
	int n = nl_address_list(ctx, ifindex, &addrs), found = 0;

	for (int i = 0; i < n; i++)
		if (memcmp(&addrs[i].addr, addr, sizeof(*addr)) == 0 &&
		    addrs[i].prefixlen == prefixlen)
			found = 1;
	free(addrs);
	return n < 0 ? n : found;
}

static int inside_check(void *data)
{
	char a[INET6_ADDRSTRLEN];
	struct inside *in = data;
	struct nl_ctx *ctx = NULL;
	struct nl_route rt = { .gateway = in->gw };
	struct nl_link l;
	unsigned plen = cni_result_prefixlen(in->req);
	int r;

	if ((r = nl_ctx_open(&ctx)) < 0)
		return r;
	r = nl_link_get(ctx, in->req->env.ifname, &l);
	if (r < 0) {
		r = err_set(-ENODEV, "interface \"%s\" is missing in %s", in->req->env.ifname,
			    in->req->env.netns);
		goto out;
	}
	if (!(l.flags & 1 /* IFF_UP */)) {
		r = err_set(-ENETDOWN, "interface \"%s\" is down", l.name);
		goto out;
	}
	if ((r = has_address(ctx, l.ifindex, &in->lease->addr, plen)) <= 0) {
		if (r == 0)
			r = err_set(-EADDRNOTAVAIL, "address %s/%u is missing on \"%s\"",
				    prefix_addr_to_string(&in->lease->addr, a, sizeof(a)), plen,
				    l.name);
		goto out;
	}
	rt.oif = l.ifindex;
	r = nl_route_exists(ctx, &rt);
	if (r == 0)
		r = err_set(-ENETUNREACH, "the default route via %s dev %s is missing",
			    CONFIG_GATEWAY_LL, l.name);
	if (r > 0)
		r = 0;
out:
	nl_ctx_free(ctx);
	return r;
}

/* The /len prefix holding a. */
static struct prefix prefix_holding(const struct in6_addr *a, unsigned len)
{
	struct prefix p = { .addr = *a, .len = (uint8_t)len };

	for (unsigned i = 0; i < 16; i++) {
		unsigned keep = len > i * 8 ? (len - i * 8 > 8 ? 8 : len - i * 8) : 0;

		p.addr.s6_addr[i] &= (uint8_t)(0xff00u >> keep);
	}
	return p;
}

/* Whether a is l's address under the /len host prefix that holds a: the same slice index and
 * IID, which is what a renumbering keeps. *ret gets that prefix. */
static bool lease_addr_under(const struct lease *l, const struct in6_addr *a, unsigned len,
			     struct prefix *ret)
{
	struct prefix host = prefix_holding(a, len), s;
	struct in6_addr x;

	if (len == 0 || prefix_slice(&host, l->slice.len, l->slice_index, &s) < 0)
		return false;
	prefix_addr_with_host(&s, l->iid, &x);
	*ret = host;
	return memcmp(&x, a, sizeof(x)) == 0;
}

/* Whether a was l's address before a renumbering: its place under an earlier host prefix of
 * the length the host prefix has or had (the store keeps the current and the previous one).
 * Networks with a "prefix" of their own are never renumbered. */
static bool former_address(const struct cni_req *req, const struct lease *l,
			   const struct in6_addr *a, struct prefix *ret)
{
	struct prefix now, before;
	bool had_before;

	if (req->cfg.net.has_prefix)
		return false;
	if (store_prefix_get(req->store, &now, NULL) < 0) {
		err_clear();
		return false;
	}
	had_before = store_prefix_previous(req->store, &before) == 0;
	err_clear();
	if (lease_addr_under(l, a, now.len, ret))
		return memcmp(&ret->addr, &now.addr, sizeof(now.addr)) != 0;
	return had_before && before.len != now.len && lease_addr_under(l, a, before.len, ret);
}

/* One "ips" entry of prevResult: 1 with its IPv6 address and length, 0 for an IPv4 one (a
 * chained plugin's) or one without an address. */
static int prev_ip(size_t i, json_t *ip, struct in6_addr *ret, unsigned *ret_len)
{
	char buf[PREFIX_STRLEN], q[ERR_QUOTE_BUFLEN], *slash, *end;
	const char *s = json_string_value(json_object_get(ip, "address"));
	unsigned long len = 0;

	if (!s || !strchr(s, ':'))
		return 0;
	if (strlen(s) < sizeof(buf)) {
		memcpy(buf, s, strlen(s) + 1);
		if ((slash = strchr(buf, '/')) && slash[1] >= '0' && slash[1] <= '9') {
			*slash = '\0';
			len = strtoul(slash + 1, &end, 10);
			if (!*end && len <= 128 && prefix_addr_from_string(buf, ret) == 0) {
				*ret_len = (unsigned)len;
				return 1;
			}
		}
	}
	return err_set(-EINVAL, "prevResult \"ips\"[%zu] \"address\" \"%s\": not an IPv6 "
				"address/length",
		       i, err_quote(s, q));
}

int cni_check_prev_result(const struct cni_req *req, const struct lease *l)
{
	char want[PREFIX_STRLEN + 8], a[INET6_ADDRSTRLEN], p[PREFIX_STRLEN];
	json_t *prev = json_object_get(req->conf, "prevResult"), *ip;
	unsigned plen = cni_result_prefixlen(req), len = 0, first_len = 0;
	struct in6_addr addr, first;
	struct prefix from;
	bool listed = false;
	size_t i;
	int r;

	if (!json_is_object(prev))
		return 0;
	(void)snprintf(want, sizeof(want), "%s/%u", prefix_addr_to_string(&l->addr, a, sizeof(a)),
		       plen);
	json_array_foreach(json_object_get(prev, "ips"), i, ip) {
		if ((r = prev_ip(i, ip, &addr, &len)) < 0)
			return r;
		if (r == 0)
			continue;
		if (len == plen && memcmp(&addr, &l->addr, sizeof(addr)) == 0)
			return 0;
		if (len == plen && former_address(req, l, &addr, &from)) {
			cni_log("CHECK: prevResult lists %s/%u, this attachment's address under the "
				"earlier host prefix %s: a renumbering moved it to %s, which is checked",
				prefix_addr_to_string(&addr, a, sizeof(a)), len,
				prefix_to_string(&from, p, sizeof(p)), want);
			return 0;
		}
		if (!listed) {
			first = addr;
			first_len = len;
			listed = true;
		}
	}
	if (!listed)
		return err_set(-EINVAL, "prevResult lists no IPv6 address; the lease's is %s",
			       want);
	return err_set(-EINVAL, "prevResult lists %s/%u, an address this attachment never had: "
				"its lease (network \"%s\", key \"%s\") holds %s",
		       prefix_addr_to_string(&first, a, sizeof(a)), first_len, req->cfg.name,
		       l->key, want);
}

/* The containers' default gateway: fe80::1/64 on the bridge or on the routed host end. */
static int check_gateway(struct nl_ctx *ctx, const struct nl_link *on, const struct in6_addr *g)
{
	int r = has_address(ctx, on->ifindex, g, 64);

	if (r == 0)
		r = err_set(-EADDRNOTAVAIL, "the gateway address %s/64 is missing on \"%s\"",
			    CONFIG_GATEWAY_LL, on->name);
	return r < 0 ? r : 0;
}

int cni_check_attachment(struct cni_req *req, const char *host, int *ret_code)
{
	struct inside in = { .req = req };
	struct nl_ctx *ctx = NULL;
	struct nl_link hl, br;
	struct lease l;
	int fd = -1, r;

	*ret_code = CNI_ERR_CHECK;
	if ((r = store_lease_get_attachment(req->store, req->cfg.name, req->env.container_id,
					    req->env.ifname, &l)) < 0 ||
	    (r = cni_check_prev_result(req, &l)) < 0 ||
	    (r = prefix_addr_from_string(CONFIG_GATEWAY_LL, &in.gw)) < 0)
		return r;
	in.lease = &l;
	if ((r = nl_ctx_open(&ctx)) < 0)
		return r;
	if ((r = nl_link_get(ctx, host, &hl)) < 0) {
		r = err_set(-ENODEV, "host interface \"%s\" is missing", host);
		goto out;
	}
	if (req->cfg.mode == NET_MODE_BRIDGE) {
		if ((r = nl_link_get(ctx, req->cfg.bridge, &br)) < 0) {
			r = err_set(-ENODEV, "bridge \"%s\" is missing", req->cfg.bridge);
			goto out;
		}
		if (hl.master != br.ifindex) {
			r = err_set(-EINVAL, "host interface \"%s\" is not on bridge \"%s\"", host,
				    br.name);
			goto out;
		}
		if ((r = check_gateway(ctx, &br, &in.gw)) < 0)
			goto out;
	} else {
		struct nl_route rt = { .dst = { .addr = l.addr, .len = 128 }, .oif = hl.ifindex };

		if (req->cfg.net.per_container_slice)
			rt.dst = l.slice;
		r = nl_route_exists(ctx, &rt);
		if (r == 0) {
			char a[INET6_ADDRSTRLEN];

			r = err_set(-ENETUNREACH,
				    "the host route %s/%u dev \"%s\" to the container is missing",
				    prefix_addr_to_string(&rt.dst.addr, a, sizeof(a)), rt.dst.len,
				    host);
		}
		if (r < 0 || (r = check_gateway(ctx, &hl, &in.gw)) < 0)
			goto out;
	}
	if ((r = netns_open(req->env.netns, &fd)) < 0)
		goto out;
	r = netns_run(fd, inside_check, &in);
out:
	nl_ctx_free(ctx);
	if (fd >= 0)
		(void)close(fd);
	return r < 0 ? r : 0;
}
