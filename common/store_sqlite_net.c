/* The SQLite store: networks and the slices they own. */
#include "store_sqlite.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "err.h"
#include "store_int.h"

static int net_from_row(struct store *s, sqlite3_stmt *st, struct store_net_info *n)
{
	const char *base = (const char *)sqlite3_column_text(st, 1);
	int r;

	memset(n, 0, sizeof(*n));
	store_copy(n->name, sizeof(n->name), (const char *)sqlite3_column_text(st, 0));
	n->has_prefix = base && base[0];
	if (n->has_prefix && (r = prefix_from_string(base, &n->base)) < 0)
		return err_wrap(r, "store %s: network \"%s\"", s->path, n->name);
	n->slice_len = (unsigned)sqlite3_column_int(st, 2);
	n->has_slice = sqlite3_column_type(st, 3) != SQLITE_NULL;
	n->slice_index = (uint64_t)sqlite3_column_int64(st, 3);
	n->per_container_slice = sqlite3_column_int(st, 4) != 0;
	if ((r = iid_mode_from_string((const char *)sqlite3_column_text(st, 5), &n->iid)) < 0)
		return err_wrap(r, "store %s: network \"%s\"", s->path, n->name);
	n->max_leases = (uint32_t)sqlite3_column_int64(st, 6);
	n->retention = sqlite3_column_int64(st, 7);
	n->lease_count = (uint32_t)sqlite3_column_int64(st, 8);
	n->created = sqlite3_column_int64(st, 9);
	return 0;
}

/* Resolves the base prefix (own or host) and the network's slice. */
static int net_resolve(struct store *s, struct store_net_info *n)
{
	int r;

	if (n->has_prefix) {
		n->base_known = true;
	} else {
		r = sq_host_prefix(s, &n->base);
		if (r < 0 && r != -ENOENT)
			return r;
		n->base_known = r == 0;
	}
	if (n->base_known && n->has_slice &&
	    (r = prefix_slice(&n->base, n->slice_len, n->slice_index, &n->slice)) < 0)
		return err_wrap(r, "network \"%s\"", n->name);
	return 0;
}

int sq_net_get(struct store *s, const char *name, struct store_net_info *ret)
{
	struct store_net_info n;
	int r = 0, rc;
	sqlite3_stmt *st = sq_stmt(s, SQ_NET_GET, &r);

	if (!st)
		return r;
	sq_bind_text(st, 1, name);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		r = net_from_row(s, st, &n);
	else if (rc == SQLITE_DONE)
		r = err_set(-ENOENT, "no network \"%s\" in the store", name);
	else
		r = sq_fail(s, rc, "reading a network");
	(void)sqlite3_reset(st);
	if (r == 0)
		r = net_resolve(s, &n);
	if (r == 0)
		*ret = n;
	return r;
}

int store_network_get(struct store *s, const char *name, struct store_net_info *ret)
{
	int r = store_check_names(name, NULL);

	return r < 0 ? r : sq_net_get(s, name, ret);
}

int store_network_list(struct store *s, struct store_net_info **ret, size_t *ret_n)
{
	struct store_net_info *v = NULL;
	size_t n = 0, cap = 0;
	int r = 0, rc;
	sqlite3_stmt *st = sq_stmt(s, SQ_NET_LIST, &r);

	if (!st)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((r = store_grow(&v, &cap, n, sizeof(*v))) < 0)
			break;
		if ((r = net_from_row(s, st, &v[n])) < 0)
			break;
		n++;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = sq_fail(s, rc, "listing networks");
	(void)sqlite3_reset(st);
	for (size_t i = 0; r == 0 && i < n; i++)
		r = net_resolve(s, &v[i]);
	if (r < 0) {
		free(v);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static bool prefix_same(const struct prefix *a, const struct prefix *b)
{
	return a->len == b->len && memcmp(&a->addr, &b->addr, sizeof(a->addr)) == 0;
}

static bool prefix_overlap(const struct prefix *a, const struct prefix *b)
{
	return prefix_contains_prefix(a, b) || prefix_contains_prefix(b, a);
}

/* Reads the rows of SQ_SLICES_ALL, resolving each row's base: "" is the host prefix (rows of
 * it are skipped while none is known), anything else a network's own prefix. */
struct slice_scan {
	struct store *s;
	sqlite3_stmt *st;
	struct prefix host;
	bool host_known;
	char text[PREFIX_STRLEN];	/* the own prefix last parsed, as stored */
	struct prefix own;
};

static int scan_begin(struct store *s, struct slice_scan *sc)
{
	int r = 0;

	memset(sc, 0, sizeof(*sc));
	sc->s = s;
	r = sq_host_prefix(s, &sc->host);
	if (r < 0 && r != -ENOENT)
		return r;
	sc->host_known = r == 0;
	sc->st = sq_stmt(s, SQ_SLICES_ALL, &r);
	return sc->st ? 0 : r;
}

/* The next row: 1 with its base, slice index and length (network and lease_key are columns
 * 3 and 4 of sc->st until the next call), 0 at the end. */
static int scan_next(struct slice_scan *sc, bool *ret_host, const struct prefix **ret_base,
		     struct alloc_slice *ret)
{
	const char *b;
	int rc, r;

	while ((rc = sqlite3_step(sc->st)) == SQLITE_ROW) {
		b = (const char *)sqlite3_column_text(sc->st, 0);
		*ret_host = !b || !b[0];
		if (*ret_host) {
			if (!sc->host_known)
				continue;
			*ret_base = &sc->host;
		} else {
			if (strcmp(b, sc->text) != 0) {
				if ((r = prefix_from_string(b, &sc->own)) < 0)
					return err_wrap(r, "store %s: a slice of network \"%s\"",
							sc->s->path,
							(const char *)sqlite3_column_text(sc->st, 3));
				store_copy(sc->text, sizeof(sc->text), b);
			}
			*ret_base = &sc->own;
		}
		ret->index = (uint64_t)sqlite3_column_int64(sc->st, 1);
		ret->len = (unsigned)sqlite3_column_int(sc->st, 2);
		return 1;
	}
	return rc == SQLITE_DONE ? 0 : sq_fail(sc->s, rc, "reading slices");
}

/* Slice u of row_base as a slice of base: 1 when it lies in base's addresses (ret set; a
 * slice holding all of base becomes (0, base->len)), 0 when it lies elsewhere. */
static int slice_in(const struct prefix *base, const struct prefix *row_base,
		    const struct alloc_slice *u, struct alloc_slice *ret)
{
	struct prefix abs;
	uint64_t idx;

	if (prefix_same(row_base, base)) {
		*ret = *u;
		return 1;
	}
	if (prefix_slice(row_base, u->len, u->index, &abs) < 0)
		return 0;
	if (prefix_contains_prefix(&abs, base)) {
		ret->index = 0;
		ret->len = base->len;
		return 1;
	}
	/* beyond 64-bit indexes of base: no candidate slice lies there */
	if (!prefix_contains_prefix(base, &abs) || prefix_slice_index(base, &abs, &idx) < 0)
		return 0;
	ret->index = idx;
	ret->len = abs.len;
	return 1;
}

/* The slice (want, len) of base must overlap no slice held in base's addresses, claimed from
 * whichever prefix. lease_key set: the request names an address, not a subnetId. */
static int slice_check_free(struct slice_scan *sc, const struct prefix *base, unsigned len,
			    int64_t want, const char *network, const char *lease_key)
{
	char buf[PREFIX_STRLEN];
	struct alloc_slice cand = { .index = (uint64_t)want, .len = len }, u, in;
	const struct prefix *row_base;
	const char *owner, *key;
	bool host;
	int k;

	while ((k = scan_next(sc, &host, &row_base, &u)) > 0) {
		if (!slice_in(base, row_base, &u, &in) || !alloc_slice_overlaps(&cand, &in))
			continue;
		owner = (const char *)sqlite3_column_text(sc->st, 3);
		key = (const char *)sqlite3_column_text(sc->st, 4);
		if (!lease_key)
			return err_set(-EADDRINUSE, "subnetId %lld: that /%u slice of %s overlaps one "
						    "held by network \"%s\"",
				       (long long)want, len, prefix_to_string(base, buf, sizeof(buf)),
				       owner);
		if (key && owner && strcmp(owner, network) == 0)
			return err_set(-EADDRINUSE, "its /%u slice is leased to key \"%s\"", len, key);
		return err_set(-EADDRINUSE, "its /%u slice overlaps network \"%s\"'s slice", len,
			       owner);
	}
	return k;
}

/* The lowest free slice of length len in base, around every slice held in its addresses. */
static int slice_lowest_free(struct slice_scan *sc, const struct prefix *base, unsigned len,
			     uint64_t count, uint64_t *ret)
{
	char buf[PREFIX_STRLEN];
	struct alloc_slice *v = NULL, *nv, u;
	const struct prefix *row_base;
	size_t n = 0, cap = 0;
	bool host;
	int k;

	while ((k = scan_next(sc, &host, &row_base, &u)) > 0) {
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			nv = reallocarray(v, cap, sizeof(*v));
			if (!nv) {
				k = err_set(-ENOMEM, "out of memory");
				break;
			}
			v = nv;
		}
		n += (size_t)slice_in(base, row_base, &u, &v[n]);
	}
	if (k == 0) {
		k = alloc_slice_lowest_free(v, n, len, count, ret);
		if (k == -ENOSPC)
			k = err_set(-ENOSPC, "prefix %s has no free /%u slice (%zu slices in use)",
				    prefix_to_string(base, buf, sizeof(buf)), len, n);
	}
	free(v);
	return k;
}

int sq_slice_claim(struct store *s, const char *base_text, const struct prefix *base,
		   unsigned len, int64_t want, const char *network, const char *lease_key,
		   uint64_t *ret)
{
	char buf[PREFIX_STRLEN];
	struct slice_scan sc;
	uint64_t count = prefix_slice_count(base, len), idx;
	int r = 0;
	sqlite3_stmt *st;

	if (count == 0)
		return err_set(-EINVAL, "sliceLength %u: must be longer than the prefix %s", len,
			       prefix_to_string(base, buf, sizeof(buf)));
	if (count > (uint64_t)INT64_MAX)
		count = (uint64_t)INT64_MAX;
	if (want >= 0 && (uint64_t)want >= count)
		return err_set(-ERANGE, "subnetId %lld: prefix %s has %llu /%u slices (0..%llu)",
			       (long long)want, prefix_to_string(base, buf, sizeof(buf)),
			       (unsigned long long)count, len, (unsigned long long)count - 1);
	if ((r = scan_begin(s, &sc)) < 0)
		return r;
	idx = (uint64_t)want;
	if (want >= 0)
		r = slice_check_free(&sc, base, len, want, network, lease_key);
	else
		r = slice_lowest_free(&sc, base, len, count, &idx);
	(void)sqlite3_reset(sc.st);
	if (r < 0)
		return r;
	st = sq_stmt(s, SQ_SLICE_INSERT, &r);
	if (!st)
		return r;
	sq_bind_text(st, 1, base_text);
	(void)sqlite3_bind_int(st, 2, (int)len);
	(void)sqlite3_bind_int64(st, 3, (int64_t)idx);
	sq_bind_text(st, 4, network);
	if (lease_key)
		sq_bind_text(st, 5, lease_key);
	if ((r = sq_exec(s, st, "claiming a slice")) < 0)
		return r;
	*ret = idx;
	return 0;
}

struct own_slice {
	struct prefix abs;
	char network[STORE_NAME_MAX];
};

/* The slices claimed from networks' own prefixes that overlap p. */
static int own_slices_in(struct slice_scan *sc, const struct prefix *p, struct own_slice **ret,
			 size_t *ret_n)
{
	struct own_slice *v = NULL, *nv;
	const struct prefix *row_base;
	struct alloc_slice u;
	struct prefix abs;
	size_t n = 0, cap = 0;
	bool host;
	int k;

	while ((k = scan_next(sc, &host, &row_base, &u)) > 0) {
		if (host || prefix_slice(row_base, u.len, u.index, &abs) < 0 ||
		    !prefix_overlap(&abs, p))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 8;
			nv = reallocarray(v, cap, sizeof(*v));
			if (!nv) {
				k = err_set(-ENOMEM, "out of memory");
				break;
			}
			v = nv;
		}
		v[n].abs = abs;
		store_copy(v[n].network, sizeof(v[n].network),
			   (const char *)sqlite3_column_text(sc->st, 3));
		n++;
	}
	(void)sqlite3_reset(sc->st);
	if (k < 0) {
		free(v);
		return k;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

int sq_host_prefix_check(struct store *s, const struct prefix *p)
{
	char a[PREFIX_STRLEN], b[PREFIX_STRLEN], c[PREFIX_STRLEN];
	struct slice_scan sc;
	struct own_slice *own = NULL;
	const struct prefix *row_base;
	struct alloc_slice u;
	struct prefix abs;
	size_t n_own = 0;
	bool host;
	int r = 0, rc, k;
	sqlite3_stmt *st = sq_stmt(s, SQ_NET_HOST_TOO_LONG, &r);

	/* perContainerSlice networks hold no slice until their first lease */
	if (!st)
		return r;
	(void)sqlite3_bind_int(st, 1, p->len);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		r = err_set(-EINVAL, "prefix \"%s\": network \"%s\" has /%d slices, which do not fit "
				     "in it",
			    prefix_to_string(p, a, sizeof(a)), (const char *)sqlite3_column_text(st, 0),
			    sqlite3_column_int(st, 1));
	else if (rc != SQLITE_DONE)
		r = sq_fail(s, rc, "reading networks");
	(void)sqlite3_reset(st);
	if (r < 0)
		return r;

	/* Under p, the host networks' slices must not land on a network's own prefix slices. */
	if ((r = scan_begin(s, &sc)) < 0)
		return r;
	sc.host = *p;
	sc.host_known = true;
	if ((r = own_slices_in(&sc, p, &own, &n_own)) < 0 || n_own == 0)
		goto out;
	while ((k = scan_next(&sc, &host, &row_base, &u)) > 0) {
		if (!host || prefix_slice(p, u.len, u.index, &abs) < 0)
			continue;
		for (size_t i = 0; i < n_own; i++)
			if (prefix_overlap(&abs, &own[i].abs)) {
				r = err_set(-EINVAL, "prefix \"%s\": network \"%s\"'s slice would be "
						     "%s, which overlaps network \"%s\"'s %s",
					    prefix_to_string(p, a, sizeof(a)),
					    (const char *)sqlite3_column_text(sc.st, 3),
					    prefix_to_string(&abs, b, sizeof(b)), own[i].network,
					    prefix_to_string(&own[i].abs, c, sizeof(c)));
				goto out;
			}
	}
	r = k;
out:
	(void)sqlite3_reset(sc.st);
	free(own);
	return r;
}

static int net_create(struct store *s, const struct store_network *cfg, int64_t now)
{
	char base_text[PREFIX_STRLEN] = "";
	struct prefix base;
	uint64_t idx = 0;
	int r;
	sqlite3_stmt *st;

	if (cfg->has_prefix) {
		base = cfg->prefix;
		(void)prefix_to_string(&base, base_text, sizeof(base_text));
	} else {
		r = sq_host_prefix(s, &base);
		if (r == -ENOENT)
			return err_set(-ENOENT, "network \"%s\": no delegated prefix is set and the "
						"netconf gives no \"prefix\" (v6pdctl prefix set PREFIX)",
				       cfg->name);
		if (r < 0)
			return r;
	}
	if (!cfg->per_container_slice) {
		r = sq_slice_claim(s, base_text, &base, cfg->slice_len, cfg->subnet_id, cfg->name,
				   NULL, &idx);
		if (r < 0)
			return err_wrap(r, "network \"%s\"", cfg->name);
	} else if (prefix_slice_count(&base, cfg->slice_len) == 0) {
		return err_set(-EINVAL, "network \"%s\": sliceLength %u must be longer than /%u",
			       cfg->name, cfg->slice_len, base.len);
	}
	st = sq_stmt(s, SQ_NET_INSERT, &r);
	if (!st)
		return r;
	sq_bind_text(st, 1, cfg->name);
	sq_bind_text(st, 2, base_text);
	(void)sqlite3_bind_int(st, 3, (int)cfg->slice_len);
	if (!cfg->per_container_slice)
		(void)sqlite3_bind_int64(st, 4, (int64_t)idx);
	(void)sqlite3_bind_int(st, 5, cfg->per_container_slice);
	sq_bind_text(st, 6, iid_mode_to_string(cfg->iid));
	(void)sqlite3_bind_int64(st, 7, cfg->max_leases);
	(void)sqlite3_bind_int64(st, 8, cfg->retention);
	(void)sqlite3_bind_int64(st, 9, now);
	return sq_exec(s, st, "creating a network");
}

/* A netconf may not move a network that exists: its leases' addresses hang on these. */
static int net_check_fixed(const struct store_network *cfg, const struct store_net_info *n)
{
	char a[PREFIX_STRLEN], b[PREFIX_STRLEN];

	if (cfg->has_prefix != n->has_prefix ||
	    (cfg->has_prefix && (cfg->prefix.len != n->base.len ||
				 memcmp(&cfg->prefix.addr, &n->base.addr, 16) != 0)))
		return err_set(-EINVAL, "network \"%s\": prefix %s, but the network was created "
					"with %s (v6pdctl lease release --forget its leases first)",
			       n->name,
			       cfg->has_prefix ? prefix_to_string(&cfg->prefix, a, sizeof(a)) : "(host)",
			       n->has_prefix ? prefix_to_string(&n->base, b, sizeof(b)) : "(host)");
	if (cfg->slice_len != n->slice_len)
		return err_set(-EINVAL, "network \"%s\": sliceLength %u, but the network was created "
					"with %u",
			       n->name, cfg->slice_len, n->slice_len);
	if (cfg->per_container_slice != n->per_container_slice)
		return err_set(-EINVAL, "network \"%s\": perContainerSlice %s, but the network was "
					"created with %s",
			       n->name, cfg->per_container_slice ? "true" : "false",
			       n->per_container_slice ? "true" : "false");
	if (cfg->subnet_id >= 0 && (uint64_t)cfg->subnet_id != n->slice_index)
		return err_set(-EINVAL, "network \"%s\": subnetId %lld, but the network holds slice "
					"%llu",
			       n->name, (long long)cfg->subnet_id,
			       (unsigned long long)n->slice_index);
	return 0;
}

int sq_net_ensure(struct store *s, const struct store_network *cfg, int64_t now,
		  struct store_net_info *ret)
{
	struct store_net_info n;
	int r = store_check_network(cfg);
	sqlite3_stmt *st;

	if (r < 0)
		return r;
	r = sq_net_get(s, cfg->name, &n);
	if (r == -ENOENT) {
		if ((r = net_create(s, cfg, now)) < 0)
			return r;
		return sq_net_get(s, cfg->name, ret);
	}
	if (r < 0)
		return r;
	if ((r = net_check_fixed(cfg, &n)) < 0)
		return r;
	if (cfg->iid != n.iid || cfg->max_leases != n.max_leases || cfg->retention != n.retention) {
		st = sq_stmt(s, SQ_NET_UPDATE, &r);
		if (!st)
			return r;
		sq_bind_text(st, 1, cfg->name);
		sq_bind_text(st, 2, iid_mode_to_string(cfg->iid));
		(void)sqlite3_bind_int64(st, 3, cfg->max_leases);
		(void)sqlite3_bind_int64(st, 4, cfg->retention);
		if ((r = sq_exec(s, st, "updating a network")) < 0)
			return r;
		n.iid = cfg->iid;
		n.max_leases = cfg->max_leases;
		n.retention = cfg->retention;
	}
	*ret = n;
	return 0;
}

int store_network_ensure(struct store *s, const struct store_network *cfg, int64_t now,
			 struct store_net_info *ret)
{
	int r = sq_begin(s);

	if (r < 0)
		return r;
	return sq_end(s, sq_net_ensure(s, cfg, now, ret));
}
