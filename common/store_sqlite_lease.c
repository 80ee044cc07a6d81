/* The SQLite store: leases. */
#include "store_sqlite.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "err.h"
#include "store_int.h"

/* Columns in the order of LEASE_COLS. */
static void lease_from_row(sqlite3_stmt *st, struct lease *l)
{
	memset(l, 0, sizeof(*l));
	store_copy(l->network, sizeof(l->network), (const char *)sqlite3_column_text(st, 0));
	store_copy(l->key, sizeof(l->key), (const char *)sqlite3_column_text(st, 1));
	l->slice_index = (uint64_t)sqlite3_column_int64(st, 2);
	l->iid = (uint64_t)sqlite3_column_int64(st, 3);
	store_copy(l->container_id, sizeof(l->container_id), (const char *)sqlite3_column_text(st, 4));
	store_copy(l->ifname, sizeof(l->ifname), (const char *)sqlite3_column_text(st, 5));
	store_copy(l->netns, sizeof(l->netns), (const char *)sqlite3_column_text(st, 6));
	store_copy(l->hostname, sizeof(l->hostname), (const char *)sqlite3_column_text(st, 7));
	store_copy(l->mac, sizeof(l->mac), (const char *)sqlite3_column_text(st, 8));
	l->state = sqlite3_column_int(st, 9) ? LEASE_RESERVED : LEASE_ACTIVE;
	l->pinned = sqlite3_column_int(st, 10) != 0;
	l->created = sqlite3_column_int64(st, 11);
	l->updated = sqlite3_column_int64(st, 12);
	l->released = sqlite3_column_int64(st, 13);
	l->expires = sqlite3_column_int64(st, 14);
}

static void lease_bind(sqlite3_stmt *st, const struct lease *l)
{
	sq_bind_text(st, 1, l->network);
	sq_bind_text(st, 2, l->key);
	(void)sqlite3_bind_int64(st, 3, (int64_t)l->slice_index);
	(void)sqlite3_bind_int64(st, 4, (int64_t)l->iid);
	sq_bind_text(st, 5, l->container_id);
	sq_bind_text(st, 6, l->ifname);
	sq_bind_text(st, 7, l->netns);
	sq_bind_text(st, 8, l->hostname);
	sq_bind_text(st, 9, l->mac);
	(void)sqlite3_bind_int(st, 10, l->state == LEASE_RESERVED);
	(void)sqlite3_bind_int(st, 11, l->pinned);
	(void)sqlite3_bind_int64(st, 12, l->created);
	(void)sqlite3_bind_int64(st, 13, l->updated);
	(void)sqlite3_bind_int64(st, 14, l->released);
	(void)sqlite3_bind_int64(st, 15, l->expires);
}

static int lease_write(struct store *s, enum sq_stmt id, const struct lease *l)
{
	int r = 0;
	sqlite3_stmt *st = sq_stmt(s, id, &r);

	if (!st)
		return r;
	lease_bind(st, l);
	return sq_exec(s, st, "writing a lease");
}

/* Runs a lease query bound to up to three strings; one row into ret, -ENOENT if none. */
static int lease_query_one(struct store *s, enum sq_stmt id, const char *a, const char *b,
			   const char *c, struct lease *ret)
{
	int r = 0, rc;
	sqlite3_stmt *st = sq_stmt(s, id, &r);

	if (!st)
		return r;
	sq_bind_text(st, 1, a);
	sq_bind_text(st, 2, b);
	if (c)
		sq_bind_text(st, 3, c);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		lease_from_row(st, ret);
	else
		r = rc == SQLITE_DONE ? -ENOENT : sq_fail(s, rc, "reading a lease");
	(void)sqlite3_reset(st);
	return r;
}

/* Fills the address of l from its network (n may be NULL: looked up). */
static int lease_fill_address(struct store *s, struct lease *l, const struct store_net_info *n)
{
	struct store_net_info tmp;
	int r;

	if (!n) {
		if ((r = sq_net_get(s, l->network, &tmp)) < 0)
			return r;
		n = &tmp;
	}
	return store_lease_address(l, n->base_known ? &n->base : NULL, n->slice_len);
}

struct holder_ctx {
	struct store *s;
	const char *network;
	uint64_t slice_index;
	const char *self;	/* a key whose own lease does not count as taken */
	char holder[STORE_KEY_MAX];
};

static int holder_of(void *ctx, uint64_t iid)
{
	struct holder_ctx *h = ctx;
	int r = 0, rc;
	sqlite3_stmt *st = sq_stmt(h->s, SQ_LEASE_HOLDER, &r);

	if (!st)
		return r;
	sq_bind_text(st, 1, h->network);
	(void)sqlite3_bind_int64(st, 2, (int64_t)h->slice_index);
	(void)sqlite3_bind_int64(st, 3, (int64_t)iid);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		store_copy(h->holder, sizeof(h->holder), (const char *)sqlite3_column_text(st, 0));
		r = !h->self || strcmp(h->holder, h->self) != 0;
	} else if (rc != SQLITE_DONE) {
		r = sq_fail(h->s, rc, "looking up an address");
	}
	(void)sqlite3_reset(st);
	return r;
}

static int seq_free(struct store *s, const struct store_net_info *n, uint64_t slice_index,
		    unsigned host_bits, uint64_t *ret)
{
	int r = 0, rc;
	uint64_t iid = 0;
	sqlite3_stmt *st = sq_stmt(s, SQ_LEASE_SEQ_FREE, &r);

	if (!st)
		return r;
	sq_bind_text(st, 1, n->name);
	(void)sqlite3_bind_int64(st, 2, (int64_t)slice_index);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		iid = (uint64_t)sqlite3_column_int64(st, 0);
	else
		r = sq_fail(s, rc == SQLITE_DONE ? SQLITE_INTERNAL : rc, "finding a free IID");
	(void)sqlite3_reset(st);
	if (r < 0)
		return r;
	if ((host_bits < 64 && iid >> host_bits) || addrgen_iid_reserved(iid, host_bits))
		return err_set(-ENOSPC, "network \"%s\": no free sequential IID left", n->name);
	*ret = iid;
	return 0;
}

/* The address req->want as (slice index, IID) of network n, checked free for key. */
static int want_locate(struct store *s, const struct store_net_info *n, const char *key,
		       const struct in6_addr *want, const struct lease *cur, uint64_t *ret_slice,
		       uint64_t *ret_iid, bool *ret_new_slice)
{
	char a[INET6_ADDRSTRLEN], p[PREFIX_STRLEN];
	struct prefix slice;
	unsigned host_bits = 128 - n->slice_len;
	uint64_t idx, iid;
	int r;

	*ret_new_slice = false;
	if (n->per_container_slice) {
		if (cur) {
			slice = cur->slice;
			idx = cur->slice_index;
		} else {
			slice.addr = *want;
			slice.len = (uint8_t)n->slice_len;
			for (unsigned b = n->slice_len; b < 128; b++)
				slice.addr.s6_addr[b / 8] &= (uint8_t) ~(0x80u >> (b % 8));
			if (!prefix_contains(&n->base, want) ||
			    prefix_slice_index(&n->base, &slice, &idx) < 0)
				return err_set(-EINVAL, "address \"%s\": outside network \"%s\"'s prefix %s",
					       prefix_addr_to_string(want, a, sizeof(a)), n->name,
					       prefix_to_string(&n->base, p, sizeof(p)));
			*ret_new_slice = true;
		}
	} else {
		slice = n->slice;
		idx = n->slice_index;
	}
	if (!prefix_contains(&slice, want))
		return err_set(-EINVAL, "address \"%s\": outside %s's slice %s",
			       prefix_addr_to_string(want, a, sizeof(a)),
			       cur ? "the lease" : n->name, prefix_to_string(&slice, p, sizeof(p)));
	iid = prefix_addr_low64(want);
	if (host_bits < 64)
		iid &= (UINT64_C(1) << host_bits) - 1;
	if (addrgen_iid_reserved(iid, host_bits > 64 ? 64 : host_bits))
		return err_set(-EADDRNOTAVAIL, "address \"%s\": reserved (subnet anycast, gateway or "
					       "RFC 5453)",
			       prefix_addr_to_string(want, a, sizeof(a)));
	if (!*ret_new_slice) {
		struct holder_ctx h = { .s = s, .network = n->name, .slice_index = idx, .self = key };

		r = holder_of(&h, iid);
		if (r < 0)
			return r;
		if (r > 0)
			return err_set(-EADDRINUSE, "address \"%s\": already leased to key \"%s\"",
				       prefix_addr_to_string(want, a, sizeof(a)), h.holder);
	}
	*ret_slice = idx;
	*ret_iid = iid;
	return 0;
}

static void lease_attach(struct lease *l, const struct lease_request *req, int64_t now)
{
	if (req->reserve_only) {
		l->pinned = true;
		if (l->state == LEASE_RESERVED)
			l->expires = 0;
		return;
	}
	l->state = LEASE_ACTIVE;
	l->released = 0;
	l->expires = 0;
	store_copy(l->container_id, sizeof(l->container_id), req->container_id);
	store_copy(l->ifname, sizeof(l->ifname), req->ifname);
	store_copy(l->netns, sizeof(l->netns), req->netns);
	store_copy(l->hostname, sizeof(l->hostname), req->hostname);
	store_copy(l->mac, sizeof(l->mac), req->mac);
}

static int acquire_existing(struct store *s, const struct store_net_info *n,
			    const struct lease_request *req, int64_t now, struct lease *l)
{
	bool new_slice;
	uint64_t idx, iid;
	int r;

	if ((r = lease_fill_address(s, l, n)) < 0)
		return r;
	if (req->want && memcmp(req->want, &l->addr, sizeof(l->addr)) != 0) {
		if ((r = want_locate(s, n, req->key, req->want, l, &idx, &iid, &new_slice)) < 0)
			return r;
		l->slice_index = idx;
		l->iid = iid;
	}
	lease_attach(l, req, now);
	l->updated = now;
	if ((r = lease_write(s, SQ_LEASE_UPDATE, l)) < 0)
		return r;
	return lease_fill_address(s, l, n);
}

static int acquire_new(struct store *s, const struct store_net_info *n,
		       const struct lease_request *req, int64_t now, struct lease *l)
{
	char p[PREFIX_STRLEN];
	struct prefix slice;
	unsigned host_bits = 128 - n->slice_len;
	bool new_slice = !req->want && n->per_container_slice;
	uint8_t mac[6];
	int r;

	if (host_bits > 64)
		host_bits = 64;
	if (n->lease_count >= n->max_leases)
		return err_set(-ENOSPC, "network \"%s\": maxLeases %u reached; release leases "
					"(v6pdctl gc) or raise maxLeases",
			       n->name, n->max_leases);
	memset(l, 0, sizeof(*l));
	store_copy(l->network, sizeof(l->network), n->name);
	store_copy(l->key, sizeof(l->key), req->key);
	l->created = l->updated = now;
	lease_attach(l, req, now);
	if (req->reserve_only)
		l->state = LEASE_RESERVED;

	if (req->want) {
		r = want_locate(s, n, req->key, req->want, NULL, &l->slice_index, &l->iid,
				&new_slice);
		if (r < 0)
			return r;
		if (new_slice) {
			uint64_t got;

			r = sq_slice_claim(s, n->has_prefix ? prefix_to_string(&n->base, p, sizeof(p))
							    : "",
					   &n->base, n->slice_len, (int64_t)l->slice_index, n->name,
					   req->key, &got);
			if (r < 0)
				return err_wrap(r, "address \"%s\"",
						prefix_addr_to_string(req->want, p, sizeof(p)));
		}
		return lease_write(s, SQ_LEASE_INSERT, l);
	}

	if (new_slice) {
		r = sq_slice_claim(s, n->has_prefix ? prefix_to_string(&n->base, p, sizeof(p)) : "",
				   &n->base, n->slice_len, -1, n->name, req->key, &l->slice_index);
		if (r < 0)
			return err_wrap(r, "network \"%s\"", n->name);
	} else {
		l->slice_index = n->slice_index;
	}
	if ((r = prefix_slice(&n->base, n->slice_len, l->slice_index, &slice)) < 0)
		return r;

	if (n->iid == IID_SEQUENTIAL) {
		r = seq_free(s, n, l->slice_index, host_bits, &l->iid);
	} else {
		struct holder_ctx h = { .s = s, .network = n->name, .slice_index = l->slice_index };
		struct alloc_iid_request ar = {
			.mode = n->iid, .network = n->name, .key = req->key, .slice = &slice,
		};

		if (n->iid == IID_EUI64) {
			if (!req->mac || !req->mac[0])
				return err_set(-EINVAL, "network \"%s\": iid \"eui64\" needs the "
							"interface's MAC address",
					       n->name);
			if ((r = addrgen_mac_from_string(req->mac, mac)) < 0)
				return r;
			ar.mac = mac;
		} else if ((r = sq_secret(s, &ar.secret)) < 0) {
			return r;
		}
		r = alloc_iid(&ar, holder_of, &h, &l->iid);
		if (r == -EADDRINUSE)
			r = err_set(r, "network \"%s\": the EUI-64 address of %s is leased to key "
				       "\"%s\"",
				    n->name, req->mac, h.holder);
		else if (r == -EINVAL || r == -EADDRNOTAVAIL)
			r = err_wrap(r, "network \"%s\"", n->name);
	}
	if (r < 0)
		return r;
	return lease_write(s, SQ_LEASE_INSERT, l);
}

int store_lease_acquire(struct store *s, const struct store_network *cfg,
			const struct lease_request *req, int64_t now, struct lease *ret)
{
	struct store_net_info n;
	struct lease l;
	int r;

	if ((r = store_check_request(req)) < 0 || (r = store_check_network(cfg)) < 0)
		return r;
	if ((r = sq_begin(s)) < 0)
		return r;
	if ((r = sq_expire_net(s, cfg->name, now)) < 0 ||
	    (r = sq_net_ensure(s, cfg, now, &n)) < 0)
		goto out;
	if (!n.base_known) {
		r = err_set(-ENOENT, "network \"%s\" follows the host's delegated prefix and none "
				     "is set (v6pdctl prefix set PREFIX)",
			    n.name);
		goto out;
	}
	r = lease_query_one(s, SQ_LEASE_GET, n.name, req->key, NULL, &l);
	if (req->prev) {
		*req->had_prev = r == 0;
		if (r == 0) {
			*req->prev = l;
			r = lease_fill_address(s, req->prev, &n);
		}
	}
	if (r == 0)
		r = acquire_existing(s, &n, req, now, &l);
	else if (r == -ENOENT)
		r = acquire_new(s, &n, req, now, &l);
	if (r == 0)
		r = lease_fill_address(s, &l, &n);
	if (r == 0 && req->attach)
		r = sq_attach_put(s, n.name, req->key, req->attach, n.has_prefix ? NULL : &n.base);
out:
	r = sq_end(s, r);
	if (r == 0)
		*ret = l;
	return r;
}

int sq_expire_net(struct store *s, const char *network, int64_t now)
{
	int r = 0;
	sqlite3_stmt *st = sq_stmt(s, SQ_LEASE_EXPIRE_NET, &r);

	if (!st)
		return r;
	sq_bind_text(st, 1, network);
	(void)sqlite3_bind_int64(st, 2, now);
	return sq_exec(s, st, "expiring reservations");
}

static int release_locked(struct store *s, struct lease *l, int64_t now, bool unpin)
{
	struct store_net_info n;
	int r;

	if ((r = sq_net_get(s, l->network, &n)) < 0)
		return r;
	if (unpin && l->pinned) {
		l->pinned = false;
		l->state = LEASE_ACTIVE;	/* released below, as of now */
	}
	if (l->state == LEASE_ACTIVE) {
		l->state = LEASE_RESERVED;
		l->released = now;
		l->updated = now;
		l->expires = l->pinned ? 0 : now + n.retention;
		if ((r = lease_write(s, SQ_LEASE_UPDATE, l)) < 0)
			return r;
	}
	return lease_fill_address(s, l, &n);
}

/* Releases (or unpins) the key's lease in one transaction. */
static int release_key(struct store *s, const char *network, const char *key, int64_t now,
		       bool unpin, struct lease *ret)
{
	struct lease l;
	int r;

	if ((r = store_check_names(network, key)) < 0)
		return r;
	if ((r = sq_begin(s)) < 0)
		return r;
	r = lease_query_one(s, SQ_LEASE_GET, network, key, NULL, &l);
	if (r == -ENOENT)
		r = err_set(r, "network \"%s\" has no lease for key \"%s\"", network, key);
	if (r == 0)
		r = release_locked(s, &l, now, unpin);
	r = sq_end(s, r);
	if (r == 0 && ret)
		*ret = l;
	return r;
}

int store_lease_release(struct store *s, const char *network, const char *key, int64_t now,
			struct lease *ret)
{
	return release_key(s, network, key, now, false, ret);
}

int store_lease_unpin(struct store *s, const char *network, const char *key, int64_t now,
		      struct lease *ret)
{
	return release_key(s, network, key, now, true, ret);
}

int store_lease_release_attachment(struct store *s, const char *network,
				   const char *container_id, const char *ifname, int64_t now,
				   struct lease *ret)
{
	struct lease l;
	int r;

	if ((r = sq_begin(s)) < 0)
		return r;
	r = lease_query_one(s, SQ_LEASE_GET_ATTACHMENT, network, container_id, ifname, &l);
	if (r == -ENOENT)
		r = err_set(r, "network \"%s\" has no active lease for container \"%s\" ifname "
			       "\"%s\"",
			    network, container_id, ifname);
	if (r == 0)
		r = release_locked(s, &l, now, false);
	r = sq_end(s, r);
	if (r == 0 && ret)
		*ret = l;
	return r;
}

int store_lease_forget(struct store *s, const char *network, const char *key)
{
	int r = 0;
	sqlite3_stmt *st;

	if ((r = store_check_names(network, key)) < 0)
		return r;
	if ((r = sq_begin(s)) < 0)
		return r;
	st = sq_stmt(s, SQ_LEASE_DELETE, &r);
	if (st) {
		sq_bind_text(st, 1, network);
		sq_bind_text(st, 2, key);
		r = sq_exec(s, st, "deleting a lease");
		if (r == 0 && sqlite3_changes(s->db) == 0)
			r = err_set(-ENOENT, "network \"%s\" has no lease for key \"%s\"", network,
				    key);
	}
	return sq_end(s, r);
}

int store_lease_get(struct store *s, const char *network, const char *key, struct lease *ret)
{
	struct lease l;
	int r = store_check_names(network, key);

	if (r < 0)
		return r;
	r = lease_query_one(s, SQ_LEASE_GET, network, key, NULL, &l);

	if (r == -ENOENT)
		return err_set(r, "network \"%s\" has no lease for key \"%s\"", network, key);
	if (r == 0)
		r = lease_fill_address(s, &l, NULL);
	if (r == 0)
		*ret = l;
	return r;
}

int store_lease_get_attachment(struct store *s, const char *network, const char *container_id,
			       const char *ifname, struct lease *ret)
{
	struct lease l;
	int r = lease_query_one(s, SQ_LEASE_GET_ATTACHMENT, network, container_id, ifname, &l);

	if (r == -ENOENT)
		return err_set(r, "network \"%s\" has no active lease for container \"%s\" ifname "
				  "\"%s\"",
			       network, container_id, ifname);
	if (r == 0)
		r = lease_fill_address(s, &l, NULL);
	if (r == 0)
		*ret = l;
	return r;
}

/* Collects the rows of a lease query (bound to network unless NULL, and to arg unless
 * NULL). */
static int lease_collect(struct store *s, enum sq_stmt id, const char *network,
			 const char *arg, struct lease **ret, size_t *ret_n)
{
	struct lease *v = NULL;
	size_t n = 0, cap = 0;
	int r = 0, rc;
	sqlite3_stmt *st = sq_stmt(s, id, &r);

	if (!st)
		return r;
	if (network)
		sq_bind_text(st, 1, network);
	if (arg)
		sq_bind_text(st, 2, arg);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((r = store_grow(&v, &cap, n, sizeof(*v))) < 0)
			break;
		lease_from_row(st, &v[n++]);
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = sq_fail(s, rc, "listing leases");
	(void)sqlite3_reset(st);
	if (r < 0) {
		free(v);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

int store_lease_list(struct store *s, const char *network, struct lease **ret, size_t *ret_n)
{
	struct store_net_info *nets = NULL;
	struct lease *v = NULL;
	size_t n = 0, nn = 0;
	int r;

	if (network && (r = store_check_names(network, NULL)) < 0)
		return r;
	if ((r = sq_begin(s)) < 0)
		return r;
	r = lease_collect(s, network ? SQ_LEASE_LIST_NET : SQ_LEASE_LIST, network, NULL, &v,
			  &n);
	if (r == 0)
		r = store_network_list(s, &nets, &nn);
	for (size_t i = 0; r == 0 && i < n; i++) {
		const struct store_net_info *net = NULL;

		for (size_t k = 0; k < nn && !net; k++)
			if (strcmp(nets[k].name, v[i].network) == 0)
				net = &nets[k];
		r = net ? store_lease_address(&v[i], net->base_known ? &net->base : NULL,
					      net->slice_len)
			: err_set(-EBADMSG, "lease %s/%s: its network is missing", v[i].network,
				  v[i].key);
	}
	free(nets);
	r = sq_end(s, r);
	if (r < 0) {
		free(v);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

int store_lease_find_mac(struct store *s, const char *network, const char *mac,
			 struct lease **ret, size_t *ret_n)
{
	struct store_net_info net;
	struct lease *v = NULL;
	size_t n = 0;
	int r;

	if ((r = store_check_names(network, NULL)) < 0 ||
	    (r = store_check_string("mac", mac, STORE_MAC_MAX, true)) < 0)
		return r;
	/* One statement: one snapshot, no transaction (and no turn on the write lock). */
	if ((r = lease_collect(s, SQ_LEASE_BY_MAC, network, mac, &v, &n)) < 0)
		return r;
	if (n > 0)
		r = sq_net_get(s, network, &net);
	for (size_t i = 0; r == 0 && i < n; i++)
		r = lease_fill_address(s, &v[i], &net);
	if (r < 0) {
		free(v);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static bool attachment_valid(const struct lease *l, const struct store_attachment *valid,
			     size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(valid[i].container_id, l->container_id) == 0 &&
		    strcmp(valid[i].ifname, l->ifname) == 0)
			return true;
	return false;
}

int store_gc_attachments(struct store *s, const char *network,
			 const struct store_attachment *valid, size_t n_valid, int64_t now,
			 struct lease **ret, size_t *ret_n)
{
	struct lease *v = NULL;
	size_t n = 0, kept = 0;
	int r;

	if ((r = sq_begin(s)) < 0)
		return r;
	r = lease_collect(s, SQ_LEASE_ACTIVE_NET, network, NULL, &v, &n);
	for (size_t i = 0; r == 0 && i < n; i++) {
		if (attachment_valid(&v[i], valid, n_valid))
			continue;
		r = release_locked(s, &v[i], now, false);
		v[kept++] = v[i];
	}
	if (r == 0)
		r = sq_expire_net(s, network, now);
	r = sq_end(s, r);
	if (r < 0 || !ret) {
		free(v);
		return r < 0 ? r : (int)kept;
	}
	*ret = v;
	*ret_n = kept;
	return (int)kept;
}

int store_gc_expired(struct store *s, int64_t now, int64_t older_than)
{
	int r = 0, n = 0;
	sqlite3_stmt *st;

	if ((r = sq_begin(s)) < 0)
		return r;
	st = sq_stmt(s, SQ_LEASE_EXPIRE_ALL, &r);
	if (st) {
		(void)sqlite3_bind_int64(st, 1, now);
		(void)sqlite3_bind_int64(st, 2, older_than);
		r = sq_exec(s, st, "expiring reservations");
		n = sqlite3_changes(s->db);
	}
	r = sq_end(s, r);
	return r < 0 ? r : n;
}

int store_lease_restore(struct store *s, const struct lease *prev)
{
	int r = sq_begin(s);

	if (r < 0)
		return r;
	r = lease_write(s, SQ_LEASE_UPDATE, prev);
	if (r == 0 && sqlite3_changes(s->db) == 0)
		r = lease_write(s, SQ_LEASE_INSERT, prev);
	return sq_end(s, r);
}
