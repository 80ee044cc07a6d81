#include "netlink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <linux/if.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/route.h>
#include <netlink/socket.h>

#include "err.h"

#define DUMP_TRIES 5

struct nl_ctx {
	struct nl_sock *sk;
	int kernel_err;		/* errno of the last NLMSG_ERROR; 0: none */
	char extack[160];	/* its NLMSGERR_ATTR_MSG; "" when none */
};

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

/* The errno behind a libnl result: the kernel's own when it sent one (libnl folds many
 * into NLE_FAILURE, ENOTCONN among them), else libnl's code mapped back. */
static int ctx_errno(const struct nl_ctx *ctx, int nle)
{
	if (ctx->kernel_err > 0)
		return ctx->kernel_err;
	return nle_to_errno(nle);
}

/* The one place a libnl failure becomes -errno plus a message: "<what>: <strerror>". */
static int ctx_fail(const struct nl_ctx *ctx, int nle, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int ctx_fail(const struct nl_ctx *ctx, int nle, const char *fmt, ...)
{
	char what[512];
	int e = ctx_errno(ctx, nle);
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

static void ctx_reset(struct nl_ctx *ctx)
{
	ctx->kernel_err = 0;
	ctx->extack[0] = '\0';
}

/* Sends msg (borrowed), waits for the ACK. 0 or -NLE_*; the kernel's errno is in ctx. */
static int ctx_call(struct nl_ctx *ctx, struct nl_msg *msg)
{
	int r;

	ctx_reset(ctx);
	r = nl_send_auto(ctx->sk, msg);
	if (r < 0)
		return r;
	return nl_wait_for_ack(ctx->sk);
}

/* Sends the dump request msg (borrowed) and hands every reply to fn. 0 or -NLE_*. */
static int ctx_dump(struct nl_ctx *ctx, struct nl_msg *msg, nl_recvmsg_msg_cb_t fn, void *arg)
{
	struct nl_cb *cb = NULL, *sk_cb = nl_socket_get_cb(ctx->sk);
	int r;

	ctx_reset(ctx);
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
		r = ctx_fail(ctx, r, "netlink socket");
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
		r = ctx_fail(ctx, r, "netlink socket");
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

	ctx_reset(ctx);
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
		return ctx_fail(ctx, r, "link \"%s\"", name);
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
		return ctx_fail(ctx, r, "link ifindex %d", ifindex);
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
	if (r < 0 && ctx_errno(ctx, r) == ENODEV)
		return 0;
	if (r < 0)
		return ctx_fail(ctx, r, "link \"%s\"", name);
	return 1;
}

int nl_link_list(struct nl_ctx *ctx, struct nl_link **ret)
{
	struct nl_cache *cache = NULL;
	struct nl_link *links = NULL;
	struct nl_object *o;
	int r, n = 0;

	for (int i = 0; i < DUMP_TRIES; i++) {
		ctx_reset(ctx);
		r = rtnl_link_alloc_cache(ctx->sk, AF_UNSPEC, &cache);
		if (r != -NLE_DUMP_INTR)
			break;
	}
	if (r < 0) {
		r = ctx_fail(ctx, r, "list links");
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
		r = ctx_call(ctx, msg);
	if (r < 0 && missing_ok && ctx_errno(ctx, r) == ENODEV)
		r = 0;
	else if (r < 0)
		r = ctx_fail(ctx, r, "%s", what);
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
		r = ctx_call(ctx, msg);
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
		r = ctx_fail(ctx, r, "link ifindex %d: set MTU %u", ifindex, mtu);
	else if (r < 0)
		r = ctx_fail(ctx, r, "link ifindex %d: %s", ifindex, what[attr]);
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
		r = ctx_call(ctx, msg);
errout:
	nlmsg_free(msg);
	nl_addr_put(mac);
	rtnl_link_put(l);
	return r;
}

int nl_bridge_ensure(struct nl_ctx *ctx, const char *name, uint32_t mtu, int *ret_ifindex)
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
		if (ctx_errno(ctx, r) != ENODEV || i == 3)
			return ctx_fail(ctx, r, "bridge \"%s\"", name);
		r = bridge_create(ctx, name, mtu);
		if (r < 0 && ctx_errno(ctx, r) != EEXIST)
			return ctx_fail(ctx, r, "create bridge \"%s\"", name);
	}
	if (strcmp(l.kind, "bridge"))
		return err_set(-EEXIST, "bridge \"%s\": exists as a link of kind \"%s\"", name,
			       l.kind);
	if (mtu && l.mtu != mtu) {
		r = nl_link_set_mtu(ctx, l.ifindex, mtu);
		if (r < 0)
			return err_wrap(r, "bridge \"%s\"", name);
	}
	if (!(l.flags & IFF_UP)) {
		r = nl_link_set_up(ctx, l.ifindex);
		if (r < 0)
			return err_wrap(r, "bridge \"%s\"", name);
	}
	if (ret_ifindex)
		*ret_ifindex = l.ifindex;
	return 0;
}

/* ---- veth ---- */

int nl_veth_create(struct nl_ctx *ctx, const struct nl_veth *v, int *ret_ifindex,
		   int *ret_peer_ifindex)
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
		r = ctx_call(ctx, msg);
	if (r < 0 && ctx_errno(ctx, r) == EEXIST) {
		/* the kernel does not say which name is taken */
		r = link_get(ctx, v->name, 0, &host) >= 0 ?
			err_set(-EEXIST, "veth \"%s\": %s", v->name, strerror(EEXIST)) :
			err_set(-EEXIST, "veth \"%s\": peer \"%s\" in the target netns: %s",
				v->name, v->peer_name, strerror(EEXIST));
		goto errout;
	}
	if (r < 0) {
		r = ctx_fail(ctx, r, "veth \"%s\" (peer \"%s\")", v->name, v->peer_name);
		goto errout;
	}
	r = link_get(ctx, v->name, 0, &host);
	if (r < 0) {
		r = ctx_fail(ctx, r, "veth \"%s\": read back", v->name);
		(void)link_del(ctx, v->name, 0, true);
		goto errout;
	}
	if (ret_ifindex)
		*ret_ifindex = host.ifindex;
	if (ret_peer_ifindex)
		*ret_peer_ifindex = host.peer_ifindex;
	r = 0;
errout:
	nlmsg_free(msg);
	nl_addr_put(mac);
	rtnl_link_put(peer);
	rtnl_link_put(link);
	return r;
}

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
		r = ctx_call(ctx, msg);
	if (r < 0)
		r = ctx_fail(ctx, r, "address %s/%u on ifindex %d", addr_str(&a->addr, s),
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
	int r, e;

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
		r = ctx_call(ctx, msg);
	e = r < 0 ? ctx_errno(ctx, r) : 0;
	if (e == EADDRNOTAVAIL || e == ENODEV)
		r = 0;
	else if (r < 0)
		r = ctx_fail(ctx, r, "delete address %s/%u on ifindex %d", addr_str(addr, s),
			     prefixlen, ifindex);
	else
		r = 1;
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

	for (int i = 0; i < DUMP_TRIES; i++) {
		ctx_reset(ctx);
		r = rtnl_addr_alloc_cache(ctx->sk, &cache);
		if (r != -NLE_DUMP_INTR)
			break;
	}
	if (r < 0) {
		r = ctx_fail(ctx, r, "list addresses of ifindex %d", ifindex);
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
	if (ret >= 0)
		ret = ctx_call(ctx, msg);
	if (ret < 0)
		ret = ctx_fail(ctx, ret, "%s", route_str(r, s, sizeof(s)));
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
	int ret = route_check(r), e;

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
		ret = ctx_call(ctx, msg);
	e = ret < 0 ? ctx_errno(ctx, ret) : 0;
	if (e == ESRCH || e == ENODEV)
		ret = 0;
	else if (ret < 0)
		ret = ctx_fail(ctx, ret, "delete %s", route_str(r, s, sizeof(s)));
	else
		ret = 1;
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

	for (int i = 0; i < DUMP_TRIES; i++) {
		ctx_reset(ctx);
		r = rtnl_route_alloc_cache(ctx->sk, AF_INET6, 0, &cache);
		if (r != -NLE_DUMP_INTR)
			break;
	}
	if (r < 0) {
		r = ctx_fail(ctx, r, "list routes");
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
	int r, e;

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
		r = ctx_call(ctx, msg);
	e = r < 0 ? ctx_errno(ctx, r) : 0;
	if (!add && (e == ENOENT || e == ENODEV))
		r = 0;
	else if (r < 0)
		r = ctx_fail(ctx, r, "%s proxy NDP entry %s on ifindex %d", add ? "add" : "delete",
			     addr_str(addr, s), ifindex);
	else
		r = add ? 0 : 1;
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

	for (int i = 0; i < DUMP_TRIES && r == -NLE_DUMP_INTR; i++) {
		nlmsg_free(msg);
		f.found = false;
		msg = nlmsg_alloc_simple(RTM_GETNEIGH, NLM_F_DUMP);
		if (!msg) {
			r = -NLE_NOMEM;
			break;
		}
		r = nlmsg_append(msg, &ndm, sizeof(ndm), NLMSG_ALIGNTO);
		if (r >= 0)
			r = ctx_dump(ctx, msg, proxy_match, &f);
	}
	if (r < 0)
		r = ctx_fail(ctx, r, "proxy NDP entry %s on ifindex %d", addr_str(addr, s), ifindex);
	else
		r = f.found;
	nlmsg_free(msg);
	return r;
}
