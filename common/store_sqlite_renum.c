/* The SQLite store: attachment records, renumbering progress, drains and the delegated
 * prefixes DHCPv6 clients reported (schema v3). Statements are prepared per call: these run
 * once per ADD (inside its transaction) or once per renumbering. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "store_int.h"
#include "store_sqlite.h"

static const char *const mode_names[] = {
	[STORE_ATTACH_UNKNOWN] = "",
	[STORE_ATTACH_BRIDGE] = "bridge",
	[STORE_ATTACH_ROUTED] = "routed",
	[STORE_ATTACH_IPAM] = "ipam",
	[STORE_ATTACH_VM_BRIDGE] = "vm-bridge",
	[STORE_ATTACH_VM_TAP] = "vm-tap",
	[STORE_ATTACH_VM_NETWORK] = "vm-network",
};

static const char *const drain_names[] = {
	[STORE_DRAIN_ADDRESS] = "address",
	[STORE_DRAIN_GATEWAY] = "gateway",
	[STORE_DRAIN_ROUTE] = "route",
	[STORE_DRAIN_PROXY] = "proxy",
};

#define N_MODES (sizeof(mode_names) / sizeof(mode_names[0]))
#define N_DRAINS (sizeof(drain_names) / sizeof(drain_names[0]))

const char *store_attach_mode_to_string(enum store_attach_mode m)
{
	return (size_t)m < N_MODES && m != STORE_ATTACH_UNKNOWN ? mode_names[m] : "unknown";
}

const char *store_drain_kind_to_string(enum store_drain_kind k)
{
	return (size_t)k < N_DRAINS ? drain_names[k] : "?";
}

static int name_index(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (s && strcmp(names[i], s) == 0)
			return (int)i;
	return -1;
}

static int prepare(struct store *s, const char *sql, sqlite3_stmt **ret)
{
	int rc = sqlite3_prepare_v2(s->db, sql, -1, ret, NULL);

	return rc == SQLITE_OK ? 0 : sq_fail(s, rc, "preparing a statement");
}

static const char *col_text(sqlite3_stmt *st, int i)
{
	const char *v = (const char *)sqlite3_column_text(st, i);

	return v ? v : "";
}

/* A prefix column; -EBADMSG naming the table when it is not one. */
static int col_prefix(struct store *s, sqlite3_stmt *st, int i, const char *table,
		      struct prefix *ret)
{
	int r = prefix_from_string(col_text(st, i), ret);

	return r < 0 ? err_set(-EBADMSG, "store %s: %s: a bad prefix \"%.60s\"", s->path, table,
			       col_text(st, i))
		     : 0;
}

int sq_attach_put(struct store *s, const char *network, const char *key,
		  const struct store_attach *a, const struct prefix *base)
{
	char applied[PREFIX_STRLEN] = "";
	sqlite3_stmt *st = NULL;
	int r;

	if ((size_t)a->mode >= N_MODES || a->plen > 128)
		return err_set(-EINVAL, "attachment of key \"%s\": invalid mode or prefix length",
			       key);
	if ((r = store_check_string("attachment link", a->link, sizeof(a->link), false)) < 0 ||
	    (r = store_check_string("attachment uplink", a->uplink, sizeof(a->uplink), false)) < 0)
		return r;
	if (base)
		(void)prefix_to_string(base, applied, sizeof(applied));
	r = prepare(s, "INSERT OR REPLACE INTO attachments (network, key, mode, link, uplink,"
		       " plen, grace, applied) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
		    &st);
	if (r == 0) {
		sq_bind_text(st, 1, network);
		sq_bind_text(st, 2, key);
		sq_bind_text(st, 3, mode_names[a->mode]);
		sq_bind_text(st, 4, a->link);
		sq_bind_text(st, 5, a->uplink);
		(void)sqlite3_bind_int(st, 6, a->plen);
		(void)sqlite3_bind_int64(st, 7, a->grace < 0 ? -1 : a->grace);
		sq_bind_text(st, 8, applied);
		r = sq_exec(s, st, "recording an attachment");
	}
	(void)sqlite3_finalize(st);
	return r;
}

int sq_attach_adopt(struct store *s, const char *old_text)
{
	sqlite3_stmt *st = NULL;
	int r = prepare(s, "INSERT OR IGNORE INTO attachments (network, key, mode, link, uplink,"
			   " plen, grace, applied) SELECT l.network, l.key, '', '', '', 0, -1, ?1"
			   " FROM leases l JOIN networks n ON n.name = l.network WHERE n.base = ''",
			&st);

	if (r == 0) {
		sq_bind_text(st, 1, old_text);
		r = sq_exec(s, st, "recording attachments");
	}
	(void)sqlite3_finalize(st);
	return r;
}

/* A drain's "what": an address with its prefix length (host bits set) or a route. */
static int col_what(struct store *s, sqlite3_stmt *st, int i, struct prefix *ret)
{
	char buf[PREFIX_STRLEN];
	const char *t = col_text(st, i), *slash = strchr(t, '/');
	char *end;
	long len = slash ? strtol(slash + 1, &end, 10) : -1;

	if (!slash || (size_t)(slash - t) >= sizeof(buf) || *end || len < 0 || len > 128)
		goto bad;
	memcpy(buf, t, (size_t)(slash - t));
	buf[slash - t] = '\0';
	if (prefix_addr_from_string(buf, &ret->addr) < 0)
		goto bad;
	ret->len = (uint8_t)len;
	return 0;
bad:
	return err_set(-EBADMSG, "store %s: drains: a bad entry \"%.60s\"", s->path, t);
}

static int attach_from_row(struct store *s, sqlite3_stmt *st, struct store_renumber_item *it)
{
	int m = name_index(mode_names, N_MODES, col_text(st, 2));

	memset(it, 0, sizeof(*it));
	store_copy(it->lease.network, sizeof(it->lease.network), col_text(st, 0));
	store_copy(it->lease.key, sizeof(it->lease.key), col_text(st, 1));
	it->attach.mode = m < 0 ? STORE_ATTACH_UNKNOWN : (enum store_attach_mode)m;
	store_copy(it->attach.link, sizeof(it->attach.link), col_text(st, 3));
	store_copy(it->attach.uplink, sizeof(it->attach.uplink), col_text(st, 4));
	it->attach.plen = (uint8_t)sqlite3_column_int(st, 5);
	it->attach.grace = sqlite3_column_int64(st, 6);
	return col_prefix(s, st, 7, "attachments", &it->from);
}

static int lease_cmp(const struct lease *a, const struct lease *b)
{
	int c = strcmp(a->network, b->network);

	return c ? c : strcmp(a->key, b->key);
}

/* Fills each item's lease from the list (both sorted by network, key); items whose lease is
 * gone are dropped. */
static size_t join_leases(struct store_renumber_item *v, size_t n, const struct lease *l,
			  size_t nl)
{
	size_t k = 0, j = 0;

	for (size_t i = 0; i < n; i++) {
		while (j < nl && lease_cmp(&l[j], &v[i].lease) < 0)
			j++;
		if (j == nl || lease_cmp(&l[j], &v[i].lease) != 0)
			continue;
		v[i].lease = l[j];
		v[k++] = v[i];
	}
	return k;
}

int store_renumber_pending(struct store *s, struct store_renumber_item **ret, size_t *ret_n)
{
	char cur[PREFIX_STRLEN];
	struct store_renumber_item *v = NULL;
	struct lease *leases = NULL;
	sqlite3_stmt *st = NULL;
	struct prefix p;
	size_t n = 0, cap = 0, nl = 0;
	int r, rc;

	r = sq_host_prefix(s, &p);
	if (r == -ENOENT) {
		*ret = NULL;
		*ret_n = 0;
		return 0;
	}
	if (r < 0)
		return r;
	(void)prefix_to_string(&p, cur, sizeof(cur));
	r = prepare(s, "SELECT network, key, mode, link, uplink, plen, grace, applied"
		       " FROM attachments WHERE applied <> '' AND applied <> ?1"
		       " ORDER BY network, key",
		    &st);
	if (r < 0)
		return r;
	sq_bind_text(st, 1, cur);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((r = store_grow(&v, &cap, n, sizeof(*v))) < 0 ||
		    (r = attach_from_row(s, st, &v[n])) < 0)
			break;
		n++;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = sq_fail(s, rc, "listing attachments");
	(void)sqlite3_finalize(st);
	if (r == 0 && n > 0 && (r = store_lease_list(s, NULL, &leases, &nl)) == 0)
		n = join_leases(v, n, leases, nl);
	free(leases);
	if (r < 0) {
		free(v);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static void bind_drain_key(sqlite3_stmt *st, const struct store_drain *d, char *buf, size_t size)
{
	sq_bind_text(st, 1, drain_names[d->kind]);
	sq_bind_text(st, 2, d->netns);
	sq_bind_text(st, 3, d->link);
	(void)sqlite3_bind_text(st, 4, prefix_to_string(&d->what, buf, size), -1,
				SQLITE_TRANSIENT);
}

static int commit_locked(struct store *s, const struct prefix *to,
			 const struct store_renumber_batch *b)
{
	char t[PREFIX_STRLEN], f[PREFIX_STRLEN], w[PREFIX_STRLEN];
	sqlite3_stmt *up = NULL, *del = NULL, *ins = NULL;
	int r;

	if ((r = prepare(s, "UPDATE attachments SET applied = ?3 WHERE network = ?1 AND key = ?2"
			    " AND applied = ?4",
			 &up)) < 0 ||
	    (r = prepare(s, "DELETE FROM drains WHERE kind = ?1 AND netns = ?2 AND link = ?3"
			    " AND what = ?4",
			 &del)) < 0 ||
	    (r = prepare(s, "INSERT OR IGNORE INTO drains (kind, netns, link, what, origin, until)"
			    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
			 &ins)) < 0)
		goto out;
	(void)prefix_to_string(to, t, sizeof(t));
	for (size_t i = 0; r == 0 && i < b->n_done; i++) {
		(void)sqlite3_reset(up);
		sq_bind_text(up, 1, b->done[i].lease.network);
		sq_bind_text(up, 2, b->done[i].lease.key);
		sq_bind_text(up, 3, t);
		sq_bind_text(up, 4, prefix_to_string(&b->done[i].from, f, sizeof(f)));
		r = sq_exec(s, up, "recording renumbering progress");
	}
	for (size_t i = 0; r == 0 && i < b->n_cancel; i++) {
		(void)sqlite3_reset(del);
		bind_drain_key(del, &b->cancel[i], w, sizeof(w));
		r = sq_exec(s, del, "forgetting a drain");
	}
	for (size_t i = 0; r == 0 && i < b->n_add; i++) {
		(void)sqlite3_reset(ins);
		bind_drain_key(ins, &b->add[i], w, sizeof(w));
		sq_bind_text(ins, 5, prefix_to_string(&b->add[i].origin, f, sizeof(f)));
		(void)sqlite3_bind_int64(ins, 6, b->add[i].until);
		r = sq_exec(s, ins, "recording a drain");
	}
out:
	(void)sqlite3_finalize(up);
	(void)sqlite3_finalize(del);
	(void)sqlite3_finalize(ins);
	return r;
}

int store_renumber_commit(struct store *s, const struct prefix *to,
			  const struct store_renumber_batch *b)
{
	int r = sq_begin(s);

	if (r < 0)
		return r;
	return sq_end(s, commit_locked(s, to, b));
}

int store_drain_list(struct store *s, struct store_drain **ret, size_t *ret_n)
{
	struct store_drain *v = NULL;
	sqlite3_stmt *st = NULL;
	size_t n = 0, cap = 0;
	int r, rc;

	r = prepare(s, "SELECT kind, netns, link, what, origin, until FROM drains"
		       " ORDER BY until, kind, netns, link, what",
		    &st);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_drain *d;
		int k = name_index(drain_names, N_DRAINS, col_text(st, 0));

		if ((r = store_grow(&v, &cap, n, sizeof(*v))) < 0)
			break;
		d = &v[n];
		memset(d, 0, sizeof(*d));
		if (k < 0) {
			r = err_set(-EBADMSG, "store %s: drains: unknown kind \"%.20s\"", s->path,
				    col_text(st, 0));
			break;
		}
		d->kind = (enum store_drain_kind)k;
		store_copy(d->netns, sizeof(d->netns), col_text(st, 1));
		store_copy(d->link, sizeof(d->link), col_text(st, 2));
		if ((r = col_what(s, st, 3, &d->what)) < 0 ||
		    (r = col_prefix(s, st, 4, "drains", &d->origin)) < 0)
			break;
		d->until = sqlite3_column_int64(st, 5);
		n++;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = sq_fail(s, rc, "listing drains");
	(void)sqlite3_finalize(st);
	if (r < 0) {
		free(v);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

int store_drain_forget(struct store *s, const struct store_drain *d)
{
	char w[PREFIX_STRLEN];
	sqlite3_stmt *st = NULL;
	int r = prepare(s, "DELETE FROM drains WHERE kind = ?1 AND netns = ?2 AND link = ?3"
			   " AND what = ?4",
			&st);

	if (r == 0) {
		bind_drain_key(st, d, w, sizeof(w));
		r = sq_exec(s, st, "forgetting a drain");
	}
	(void)sqlite3_finalize(st);
	return r;
}

int store_pd_load(struct store *s, struct pdenv_known **ret, size_t *ret_n)
{
	struct pdenv_known *v = NULL;
	sqlite3_stmt *st = NULL;
	size_t n = 0, cap = 0;
	int r, rc;

	r = prepare(s, "SELECT interface, prefix, valid_until, preferred_until FROM pd_prefixes"
		       " ORDER BY interface, prefix",
		    &st);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < PDENV_KNOWN_MAX) {
		if ((r = store_grow(&v, &cap, n, sizeof(*v))) < 0)
			break;
		memset(&v[n], 0, sizeof(v[n]));
		store_copy(v[n].interface, sizeof(v[n].interface), col_text(st, 0));
		if ((r = col_prefix(s, st, 1, "pd_prefixes", &v[n].prefix)) < 0)
			break;
		v[n].valid_until = sqlite3_column_int64(st, 2);
		v[n].preferred_until = sqlite3_column_int64(st, 3);
		n++;
	}
	if (r == 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
		r = sq_fail(s, rc, "listing delegated prefixes");
	(void)sqlite3_finalize(st);
	if (r < 0) {
		free(v);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static int pd_save_locked(struct store *s, const struct pdenv_known *k, size_t n)
{
	char p[PREFIX_STRLEN];
	sqlite3_stmt *del = NULL, *ins = NULL;
	int r;

	if ((r = prepare(s, "DELETE FROM pd_prefixes", &del)) < 0 ||
	    (r = sq_exec(s, del, "forgetting delegated prefixes")) < 0 ||
	    (r = prepare(s, "INSERT OR REPLACE INTO pd_prefixes (interface, prefix, valid_until,"
			    " preferred_until) VALUES (?1, ?2, ?3, ?4)",
			 &ins)) < 0)
		goto out;
	for (size_t i = 0; r == 0 && i < n; i++) {
		(void)sqlite3_reset(ins);
		sq_bind_text(ins, 1, k[i].interface);
		sq_bind_text(ins, 2, prefix_to_string(&k[i].prefix, p, sizeof(p)));
		(void)sqlite3_bind_int64(ins, 3, k[i].valid_until);
		(void)sqlite3_bind_int64(ins, 4, k[i].preferred_until);
		r = sq_exec(s, ins, "recording a delegated prefix");
	}
out:
	(void)sqlite3_finalize(del);
	(void)sqlite3_finalize(ins);
	return r;
}

int store_pd_save(struct store *s, const struct pdenv_known *k, size_t n)
{
	int r = sq_begin(s);

	if (r < 0)
		return r;
	return sq_end(s, pd_save_locked(s, k, n));
}
