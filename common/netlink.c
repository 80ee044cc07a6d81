/* netlink.h's context, error translation, links, bridges and veths; addresses, routes and
 * proxy NDP entries are in netlink_route.c. */
#include "netlink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <linux/if.h>
#include <linux/netlink.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/socket.h>

#include "err.h"
#include "netlink_int.h"

/* ---- names ---- */

static char *quote(const char *s, char *buf, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (; *s && o + 5 < size; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		} else {
			buf[o++] = (char)c;
		}
	}
	if (*s && o + 3 < size) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

int nl_ifname_validate(const char *name)
{
	char q[96];
	const char *why = NULL;
	size_t len;

	if (!name)
		return err_set(-EINVAL, "interface name: missing");
	len = strnlen(name, NL_IFNAMSIZ);
	if (len == 0)
		why = "empty";
	else if (len >= NL_IFNAMSIZ)
		why = "longer than 15 bytes";
	else if (!strcmp(name, ".") || !strcmp(name, ".."))
		why = "reserved";
	for (const char *p = name; !why && *p; p++) {
		unsigned char c = (unsigned char)*p;

		/* the kernel's isspace() also counts 0xa0 */
		if (c == '/' || c == ':' || c == '%' || c == ' ' || (c >= '\t' && c <= '\r') ||
		    c == 0xa0)
			why = "must not contain '/', ':', '%' or whitespace";
	}
	if (why)
		return err_set(-EINVAL, "interface name \"%s\": %s", quote(name, q, sizeof(q)),
			       why);
	return 0;
}

/* ---- the context and the one translation of libnl errors ---- */

static int on_kernel_error(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	struct nl_ctx *ctx = arg;
	const struct nlmsghdr *h = (const struct nlmsghdr *)((const char *)e - NLMSG_HDRLEN);
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
	size_t off = NLMSG_HDRLEN + sizeof(*e);

	ctx->kernel_err = -e->error;
	ctx->extack[0] = '\0';
	if (!(h->nlmsg_flags & NLM_F_ACK_TLVS))
		return NL_STOP;
	if (!(h->nlmsg_flags & NLM_F_CAPPED)) {
		if (e->msg.nlmsg_len < NLMSG_HDRLEN)
			return NL_STOP;
		off += e->msg.nlmsg_len - NLMSG_HDRLEN;
	}
	off = NLMSG_ALIGN(off);
	if (off >= h->nlmsg_len ||
	    nla_parse(tb, NLMSGERR_ATTR_MAX, (struct nlattr *)((char *)h + off),
		      (int)(h->nlmsg_len - off), NULL) < 0)
		return NL_STOP;
	if (tb[NLMSGERR_ATTR_MSG]) {
		size_t n = strnlen(nla_data(tb[NLMSGERR_ATTR_MSG]), nla_len(tb[NLMSGERR_ATTR_MSG]));

		if (n >= sizeof(ctx->extack))
			n = sizeof(ctx->extack) - 1;
		memcpy(ctx->extack, nla_data(tb[NLMSGERR_ATTR_MSG]), n);
		ctx->extack[n] = '\0';
	}
	return NL_STOP;
}

static int nle_to_errno(int nle)
{
	switch (nle < 0 ? -nle : nle) {
	case NLE_INTR: return EINTR;
	case NLE_BAD_SOCK: return EBADF;
	case NLE_AGAIN: case NLE_DUMP_INTR: return EAGAIN;
	case NLE_NOMEM: return ENOMEM;
	case NLE_EXIST: return EEXIST;
	case NLE_INVAL: case NLE_MISSING_ATTR: case NLE_AF_MISMATCH: return EINVAL;
	case NLE_RANGE: return ERANGE;
	case NLE_MSGSIZE: case NLE_MSG_TRUNC: case NLE_ATTRSIZE: return EMSGSIZE;
	case NLE_OPNOTSUPP: case NLE_MSGTYPE_NOSUPPORT: return EOPNOTSUPP;
	case NLE_AF_NOSUPPORT: return EAFNOSUPPORT;
	case NLE_OBJ_NOTFOUND: return ENOENT;
	case NLE_MSG_OVERFLOW: return ENOBUFS;
	case NLE_NOADDR: return EADDRNOTAVAIL;
	case NLE_BUSY: return EBUSY;
	case NLE_PROTO_MISMATCH: return EPROTONOSUPPORT;
	case NLE_NOACCESS: return EACCES;
	case NLE_PERM: case NLE_IMMUTABLE: return EPERM;
	case NLE_NODEV: return ENODEV;
	case NLE_SEQ_MISMATCH: case NLE_MSG_TOOSHORT: case NLE_PARSE_ERR: return EPROTO;
	default: return EIO;
	}
}

int nl_ctx_errno(const struct nl_ctx *ctx, int nle)
{
	if (ctx->kernel_err > 0)
		return ctx->kernel_err;
	return nle_to_errno(nle);
}

int nl_ctx_fail(const struct nl_ctx *ctx, int nle, const char *fmt, ...)
{
	char what[512];
	int e = nl_ctx_errno(ctx, nle);
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (ctx->kernel_err > 0 && ctx->extack[0])
		return err_set(-e, "%s: %s (%s)", what, strerror(e), ctx->extack);
	if (ctx->kernel_err <= 0 && e == EIO)
		return err_set(-e, "%s: %s (libnl: %s)", what, strerror(e), nl_geterror(nle));
	return err_set(-e, "%s: %s", what, strerror(e));
}

void nl_ctx_reset(struct nl_ctx *ctx)
{
	ctx->kernel_err = 0;
	ctx->extack[0] = '\0';
}

int nl_ctx_call(struct nl_ctx *ctx, struct nl_msg *msg)
{
	int r;

	nl_ctx_reset(ctx);
	r = nl_send_auto(ctx->sk, msg);
	if (r < 0)
		return r;
	return nl_wait_for_ack(ctx->sk);
}

int nl_ctx_call_delete(struct nl_ctx *ctx, struct nl_msg *msg, int absent, int absent2)
{
	int r = nl_ctx_call(ctx, msg), e;

	if (r >= 0)
		return 1;
	e = nl_ctx_errno(ctx, r);
	return e == absent || e == absent2 ? 0 : r;
}

int nl_ctx_dump(struct nl_ctx *ctx, struct nl_msg *msg, nl_recvmsg_msg_cb_t fn, void *arg)
{
	struct nl_cb *cb = NULL, *sk_cb = nl_socket_get_cb(ctx->sk);
	int r;

	nl_ctx_reset(ctx);
	if (sk_cb)
		cb = nl_cb_clone(sk_cb);
	if (!cb) {
		r = -NLE_NOMEM;
		goto errout;
	}
	r = nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, fn, arg);
	if (r < 0)
		goto errout;
	r = nl_send_auto(ctx->sk, msg);
	if (r < 0)
		goto errout;
	r = nl_recvmsgs(ctx->sk, cb);
	if (r > 0)
		r = 0;
errout:
	nl_cb_put(cb);
	nl_cb_put(sk_cb);
	return r;
}

int nl_ctx_open(struct nl_ctx **ret)
{
	struct nl_ctx *ctx = calloc(1, sizeof(*ctx));
	int one = 1, fd, r;

	if (!ctx)
		return err_set(-ENOMEM, "netlink context: %s", strerror(ENOMEM));
	ctx->sk = nl_socket_alloc();
	if (!ctx->sk) {
		r = err_set(-ENOMEM, "netlink socket: %s", strerror(ENOMEM));
		goto errout;
	}
	r = nl_connect(ctx->sk, NETLINK_ROUTE);
	if (r < 0) {
		r = nl_ctx_fail(ctx, r, "netlink socket");
		goto errout;
	}
	fd = nl_socket_get_fd(ctx->sk);
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		r = -errno;
		r = err_set(r, "netlink socket: %s", strerror(-r));
		goto errout;
	}
	/* extended acks give the kernel's reason; capped acks do not echo the request */
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	r = nl_socket_modify_err_cb(ctx->sk, NL_CB_CUSTOM, on_kernel_error, ctx);
	if (r < 0) {
		r = nl_ctx_fail(ctx, r, "netlink socket");
		goto errout;
	}
	*ret = ctx;
	ctx = NULL;
	r = 0;
errout:
	nl_ctx_free(ctx);
	return r;
}

void nl_ctx_free(struct nl_ctx *ctx)
{
	if (!ctx)
		return;
	nl_socket_free(ctx->sk);
	free(ctx);
}

/* ---- links ---- */

static void link_from_rtnl(struct rtnl_link *l, struct nl_link *out)
{
	const char *s;
	struct nl_addr *a;

	memset(out, 0, sizeof(*out));
	out->ifindex = rtnl_link_get_ifindex(l);
	if ((s = rtnl_link_get_name(l)))
		(void)snprintf(out->name, sizeof(out->name), "%s", s);
	if ((s = rtnl_link_get_type(l)))
		(void)snprintf(out->kind, sizeof(out->kind), "%s", s);
	a = rtnl_link_get_addr(l);
	if (a && nl_addr_get_len(a) == sizeof(out->mac)) {
		memcpy(out->mac, nl_addr_get_binary_addr(a), sizeof(out->mac));
		out->has_mac = true;
	}
	out->mtu = rtnl_link_get_mtu(l);
	out->master = rtnl_link_get_master(l);
	/* IFLA_LINK: for a veth, the peer's ifindex in the peer's netns, which may well equal
	 * our own (both ends are often ifindex 2 in fresh namespaces). Other kinds report
	 * their own ifindex or a lower device; only veths have a peer. */
	out->peer_ifindex = strcmp(out->kind, "veth") == 0 ? rtnl_link_get_link(l) : 0;
	out->flags = rtnl_link_get_flags(l);
	out->operstate = rtnl_link_get_operstate(l);
	if ((s = rtnl_link_get_ifalias(l)))
		(void)snprintf(out->alias, sizeof(out->alias), "%s", s);
}

/* 0 or -NLE_*, no message. */
static int link_get(struct nl_ctx *ctx, const char *name, int ifindex, struct nl_link *ret)
{
	struct rtnl_link *l = NULL;
	int r;

	nl_ctx_reset(ctx);
	r = rtnl_link_get_kernel(ctx->sk, name ? 0 : ifindex, name, &l);
	if (r < 0)
		return r;
	link_from_rtnl(l, ret);
	rtnl_link_put(l);
	return 0;
}

int nl_link_get(struct nl_ctx *ctx, const char *name, struct nl_link *ret)
{
	struct nl_link l;
	int r = nl_ifname_validate(name);

	if (r < 0)
		return r;
	r = link_get(ctx, name, 0, &l);
	if (r < 0)
		return nl_ctx_fail(ctx, r, "link \"%s\"", name);
	*ret = l;
	return 0;
}

int nl_link_get_by_index(struct nl_ctx *ctx, int ifindex, struct nl_link *ret)
{
	struct nl_link l;
	int r;

	if (ifindex <= 0)
		return err_set(-EINVAL, "link ifindex %d: invalid", ifindex);
	r = link_get(ctx, NULL, ifindex, &l);
	if (r < 0)
		return nl_ctx_fail(ctx, r, "link ifindex %d", ifindex);
	*ret = l;
	return 0;
}

int nl_link_exists(struct nl_ctx *ctx, const char *name)
{
	struct nl_link l;
	int r = nl_ifname_validate(name);

	if (r < 0)
		return r;
	r = link_get(ctx, name, 0, &l);
	if (r < 0 && nl_ctx_errno(ctx, r) == ENODEV)
		return 0;
	if (r < 0)
		return nl_ctx_fail(ctx, r, "link \"%s\"", name);
	return 1;
}

int nl_link_list(struct nl_ctx *ctx, struct nl_link **ret)
{
	struct nl_cache *cache = NULL;
	struct nl_link *links = NULL;
	struct nl_object *o;
	int r, n = 0;

	for (int i = 0; i < NL_DUMP_TRIES; i++) {
		nl_ctx_reset(ctx);
		r = rtnl_link_alloc_cache(ctx->sk, AF_UNSPEC, &cache);
		if (r != -NLE_DUMP_INTR)
			break;
	}
	if (r < 0) {
		r = nl_ctx_fail(ctx, r, "list links");
		goto errout;
	}
	if (nl_cache_nitems(cache) > 0) {
		links = calloc((size_t)nl_cache_nitems(cache), sizeof(*links));
		if (!links) {
			r = err_set(-ENOMEM, "list links: %s", strerror(ENOMEM));
			goto errout;
		}
	}
	for (o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o))
		link_from_rtnl((struct rtnl_link *)o, &links[n++]);
	*ret = links;
	links = NULL;
	r = n;
errout:
	free(links);
	nl_cache_free(cache);
	return r;
}

/* 1 deleted, 0 missing and missing_ok, or a negative errno with a message. */
static int link_del(struct nl_ctx *ctx, const char *name, int ifindex, bool missing_ok)
{
	struct rtnl_link *l = NULL;
	struct nl_msg *msg = NULL;
	char what[64];
	int r;

	if (name) {
		r = nl_ifname_validate(name);
		if (r < 0)
			return r;
		(void)snprintf(what, sizeof(what), "delete link \"%s\"", name);
	} else {
		if (ifindex <= 0)
			return err_set(-EINVAL, "delete link ifindex %d: invalid", ifindex);
		(void)snprintf(what, sizeof(what), "delete link ifindex %d", ifindex);
	}
	l = rtnl_link_alloc();
	if (!l) {
		r = err_set(-ENOMEM, "%s: %s", what, strerror(ENOMEM));
		goto errout;
	}
	if (name)
		rtnl_link_set_name(l, name);
	else
		rtnl_link_set_ifindex(l, ifindex);
	r = rtnl_link_build_delete_request(l, &msg);
	if (r >= 0)
		r = nl_ctx_call(ctx, msg);
	if (r < 0 && missing_ok && nl_ctx_errno(ctx, r) == ENODEV)
		r = 0;
	else if (r < 0)
		r = nl_ctx_fail(ctx, r, "%s", what);
	else
		r = 1;
errout:
	nlmsg_free(msg);
	rtnl_link_put(l);
	return r;
}

int nl_link_del(struct nl_ctx *ctx, const char *name)
{
	int r = link_del(ctx, name, 0, false);

	return r < 0 ? r : 0;
}

int nl_link_del_ifindex(struct nl_ctx *ctx, int ifindex)
{
	int r = link_del(ctx, NULL, ifindex, false);

	return r < 0 ? r : 0;
}

int nl_link_del_if_exists(struct nl_ctx *ctx, const char *name)
{
	return link_del(ctx, name, 0, true);
}

int nl_link_del_ifindex_if_exists(struct nl_ctx *ctx, int ifindex)
{
	return link_del(ctx, NULL, ifindex, true);
}

/* Applies the attributes set in changes (whose ifindex names the link): 0 or -NLE_*. */
static int link_change(struct nl_ctx *ctx, struct rtnl_link *changes)
{
	struct nl_msg *msg = NULL;
	int r;

	r = rtnl_link_build_change_request(changes, changes, 0, &msg);
	if (r >= 0)
		r = nl_ctx_call(ctx, msg);
	nlmsg_free(msg);
	return r;
}

enum link_attr { LINK_UP, LINK_MTU, LINK_ALIAS };

static int link_set(struct nl_ctx *ctx, int ifindex, enum link_attr attr, uint32_t mtu,
		    const char *alias)
{
	static const char *const what[] = { "set up", "set MTU", "set alias" };
	struct rtnl_link *l;
	int r;

	if (ifindex <= 0)
		return err_set(-EINVAL, "link ifindex %d: invalid", ifindex);
	l = rtnl_link_alloc();
	if (!l)
		return err_set(-ENOMEM, "link ifindex %d: %s", ifindex, strerror(ENOMEM));
	rtnl_link_set_ifindex(l, ifindex);
	if (attr == LINK_UP)
		rtnl_link_set_flags(l, IFF_UP);
	else if (attr == LINK_MTU)
		rtnl_link_set_mtu(l, mtu);
	else
		rtnl_link_set_ifalias(l, alias);
	r = link_change(ctx, l);
	if (r < 0 && attr == LINK_MTU)
		r = nl_ctx_fail(ctx, r, "link ifindex %d: set MTU %u", ifindex, mtu);
	else if (r < 0)
		r = nl_ctx_fail(ctx, r, "link ifindex %d: %s", ifindex, what[attr]);
	rtnl_link_put(l);
	return r;
}

int nl_link_set_up(struct nl_ctx *ctx, int ifindex)
{
	return link_set(ctx, ifindex, LINK_UP, 0, NULL);
}

int nl_link_set_mtu(struct nl_ctx *ctx, int ifindex, uint32_t mtu)
{
	return link_set(ctx, ifindex, LINK_MTU, mtu, NULL);
}

int nl_link_set_alias(struct nl_ctx *ctx, int ifindex, const char *alias)
{
	char q[96];

	if (!alias || strlen(alias) >= NL_ALIAS_MAX)
		return err_set(-EINVAL, "link ifindex %d: alias \"%s\": longer than %d bytes",
			       ifindex, alias ? quote(alias, q, sizeof(q)) : "", NL_ALIAS_MAX - 1);
	return link_set(ctx, ifindex, LINK_ALIAS, 0, alias);
}

/* 0 or -NLE_*: creates bridge name, up, with a MAC address of its own. Without one
 * (addr_assign_type != NET_ADDR_SET) the kernel gives a bridge the lowest MAC of its ports
 * and changes it as ports come and go: the MAC behind the gateway fe80::1 would change
 * whenever a container leaves, and every other container's neighbour entry for its default
 * gateway would point at a MAC nobody answers to until NUD notices (seconds). */
static int bridge_create(struct nl_ctx *ctx, const char *name, uint32_t mtu)
{
	struct rtnl_link *l = rtnl_link_alloc();
	struct nl_addr *mac = NULL;
	struct nl_msg *msg = NULL;
	uint8_t m[6];
	int r;

	if (!l)
		return -NLE_NOMEM;
	r = rtnl_link_set_type(l, "bridge");
	if (r < 0)
		goto errout;
	rtnl_link_set_name(l, name);
	if (getrandom(m, sizeof(m), 0) != (ssize_t)sizeof(m)) {
		r = -NLE_FAILURE;
		goto errout;
	}
	m[0] = (uint8_t)((m[0] & 0xfe) | 0x02); /* unicast, locally administered */
	mac = nl_addr_build(AF_LLC, m, sizeof(m));
	if (!mac) {
		r = -NLE_NOMEM;
		goto errout;
	}
	rtnl_link_set_addr(l, mac);
	if (mtu)
		rtnl_link_set_mtu(l, mtu);
	rtnl_link_set_flags(l, IFF_UP);
	r = rtnl_link_build_add_request(l, NLM_F_CREATE | NLM_F_EXCL, &msg);
	if (r >= 0)
		r = nl_ctx_call(ctx, msg);
errout:
	nlmsg_free(msg);
	nl_addr_put(mac);
	rtnl_link_put(l);
	return r;
}

int nl_bridge_ensure(struct nl_ctx *ctx, const char *name, uint32_t mtu, int *ret_ifindex)
{
	struct nl_link l;
	int r = nl_bridge_ensure_link(ctx, name, mtu, &l);

	if (r == 0 && ret_ifindex)
		*ret_ifindex = l.ifindex;
	return r;
}

int nl_bridge_ensure_link(struct nl_ctx *ctx, const char *name, uint32_t mtu,
			  struct nl_link *ret)
{
	struct nl_link l;
	int r = nl_ifname_validate(name);

	if (r < 0)
		return r;
	/* get first: the bridge usually exists; a concurrent creator or deleter makes us retry */
	for (int i = 0;; i++) {
		r = link_get(ctx, name, 0, &l);
		if (r >= 0)
			break;
		if (nl_ctx_errno(ctx, r) != ENODEV || i == 3)
			return nl_ctx_fail(ctx, r, "bridge \"%s\"", name);
		r = bridge_create(ctx, name, mtu);
		if (r < 0 && nl_ctx_errno(ctx, r) != EEXIST)
			return nl_ctx_fail(ctx, r, "create bridge \"%s\"", name);
	}
	if ((r = nl_bridge_settle(ctx, &l, mtu)) < 0)
		return r;
	*ret = l;
	return 0;
}

int nl_bridge_settle(struct nl_ctx *ctx, struct nl_link *l, uint32_t mtu)
{
	int r;

	if (strcmp(l->kind, "bridge"))
		return err_set(-EEXIST, "bridge \"%s\": exists as a link of kind \"%s\"", l->name,
			       l->kind);
	if (mtu && l->mtu != mtu) {
		r = nl_link_set_mtu(ctx, l->ifindex, mtu);
		if (r < 0)
			return err_wrap(r, "bridge \"%s\"", l->name);
		l->mtu = mtu;
	}
	if (!(l->flags & IFF_UP)) {
		r = nl_link_set_up(ctx, l->ifindex);
		if (r < 0)
			return err_wrap(r, "bridge \"%s\"", l->name);
		l->flags |= IFF_UP;
	}
	return 0;
}

/* ---- veth ---- */

int nl_veth_create(struct nl_ctx *ctx, const struct nl_veth *v, int *ret_ifindex,
		   int *ret_peer_ifindex)
{
	struct nl_link host;
	int r = nl_veth_create_link(ctx, v, &host);

	if (r < 0)
		return r;
	if (ret_ifindex)
		*ret_ifindex = host.ifindex;
	if (ret_peer_ifindex)
		*ret_peer_ifindex = host.peer_ifindex;
	return 0;
}

int nl_veth_create_link(struct nl_ctx *ctx, const struct nl_veth *v, struct nl_link *ret_host)
{
	struct rtnl_link *link = NULL, *peer = NULL;
	struct nl_addr *mac = NULL;
	struct nl_msg *msg = NULL;
	struct nl_link host;
	int r;

	r = nl_ifname_validate(v->name);
	if (r >= 0)
		r = nl_ifname_validate(v->peer_name);
	if (r < 0)
		return err_wrap(r, "veth");
	link = rtnl_link_veth_alloc();
	if (!link) {
		r = err_set(-ENOMEM, "veth \"%s\": %s", v->name, strerror(ENOMEM));
		goto errout;
	}
	peer = rtnl_link_veth_get_peer(link);
	rtnl_link_set_name(link, v->name);
	if (v->master > 0)
		rtnl_link_set_master(link, v->master);
	if (v->mtu)
		rtnl_link_set_mtu(link, v->mtu);
	rtnl_link_set_flags(link, IFF_UP);
	rtnl_link_set_name(peer, v->peer_name);
	if (v->peer_netns_fd >= 0)
		rtnl_link_set_ns_fd(peer, v->peer_netns_fd);
	if (v->peer_mtu)
		rtnl_link_set_mtu(peer, v->peer_mtu);
	if (v->peer_mac) {
		mac = nl_addr_build(AF_LLC, v->peer_mac, 6);
		if (!mac) {
			r = err_set(-ENOMEM, "veth \"%s\": %s", v->name, strerror(ENOMEM));
			goto errout;
		}
		rtnl_link_set_addr(peer, mac);
	}
	r = rtnl_link_build_add_request(link, NLM_F_CREATE | NLM_F_EXCL, &msg);
	if (r >= 0)
		r = nl_ctx_call(ctx, msg);
	if (r < 0 && nl_ctx_errno(ctx, r) == EEXIST) {
		/* the kernel does not say which name is taken */
		r = link_get(ctx, v->name, 0, &host) >= 0 ?
			err_set(-EEXIST, "veth \"%s\": %s", v->name, strerror(EEXIST)) :
			err_set(-EEXIST, "veth \"%s\": peer \"%s\" in the target netns: %s",
				v->name, v->peer_name, strerror(EEXIST));
		goto errout;
	}
	if (r < 0) {
		r = nl_ctx_fail(ctx, r, "veth \"%s\" (peer \"%s\")", v->name, v->peer_name);
		goto errout;
	}
	r = link_get(ctx, v->name, 0, &host);
	if (r < 0) {
		r = nl_ctx_fail(ctx, r, "veth \"%s\": read back", v->name);
		(void)link_del(ctx, v->name, 0, true);
		goto errout;
	}
	*ret_host = host;
	r = 0;
errout:
	nlmsg_free(msg);
	nl_addr_put(mac);
	rtnl_link_put(peer);
	rtnl_link_put(link);
	return r;
}
