/* The SQLite store: DNS records v6pd published and the DNS settings networks last used
 * (schema v2). Statements here are prepared per call: DNS work is a few per ADD. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "store_int.h"
#include "store_sqlite.h"

#define DNS_COLS                                                                          \
	"network, key, backend, target, name, zone, address, ptr_zone, state, error, updated"

const char *store_dns_state_to_string(enum store_dns_state st)
{
	switch (st) {
	case STORE_DNS_PUBLISHED:
		return "published";
	case STORE_DNS_PENDING:
		return "pending";
	default:
		return "stale";
	}
}

static int prepare(struct store *s, const char *sql, sqlite3_stmt **ret)
{
	int rc = sqlite3_prepare_v2(s->db, sql, -1, ret, NULL);

	return rc == SQLITE_OK ? 0 : sq_fail(s, rc, "preparing a statement");
}

int store_dns_config_put(struct store *s, const char *network, const char *config, int64_t now)
{
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = store_check_names(network, NULL)) < 0)
		return r;
	r = prepare(s, "INSERT INTO dns_config (network, config, updated) VALUES (?1, ?2, ?3)"
		       " ON CONFLICT (network) DO UPDATE SET config = excluded.config,"
		       " updated = excluded.updated WHERE config != excluded.config",
		    &st);
	if (r == 0) {
		sq_bind_text(st, 1, network);
		sq_bind_text(st, 2, config);
		(void)sqlite3_bind_int64(st, 3, now);
		r = sq_exec(s, st, "recording DNS settings");
	}
	(void)sqlite3_finalize(st);
	return r;
}

int store_dns_config_get(struct store *s, const char *network, char **ret)
{
	sqlite3_stmt *st = NULL;
	char *v;
	int r, rc;

	if ((r = store_check_names(network, NULL)) < 0)
		return r;
	if ((r = prepare(s, "SELECT config FROM dns_config WHERE network = ?1", &st)) < 0)
		return r;
	sq_bind_text(st, 1, network);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		v = strdup((const char *)sqlite3_column_text(st, 0));
		r = v ? 0 : err_set(-ENOMEM, "out of memory");
		if (v)
			*ret = v;
	} else if (rc == SQLITE_DONE) {
		r = err_set(-ENOENT, "network \"%s\": no DNS settings recorded (the first ADD with a "
				     "\"dns\" object records them)",
			    network);
	} else {
		r = sq_fail(s, rc, "reading DNS settings");
	}
	(void)sqlite3_finalize(st);
	return r;
}

int store_dns_config_list(struct store *s, struct store_name **ret, size_t *ret_n)
{
	struct store_name *v = NULL, *nv;
	sqlite3_stmt *st = NULL;
	size_t n = 0;
	int r, rc;

	if ((r = prepare(s, "SELECT network FROM dns_config ORDER BY network", &st)) < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		nv = realloc(v, (n + 1) * sizeof(*v));
		if (!nv) {
			r = err_set(-ENOMEM, "out of memory");
			break;
		}
		v = nv;
		store_copy(v[n++].name, STORE_NAME_MAX, (const char *)sqlite3_column_text(st, 0));
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = sq_fail(s, rc, "listing DNS settings");
	(void)sqlite3_finalize(st);
	if (r < 0) {
		free(v);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static int record_check(const struct store_dns_record *d)
{
	int r;

	if ((r = store_check_names(d->network, d->key)) < 0 ||
	    (r = store_check_string("DNS backend", d->backend, STORE_DNS_BACKEND_MAX, true)) < 0 ||
	    (r = store_check_string("DNS target", d->target, STORE_DNS_TARGET_MAX, false)) < 0 ||
	    (r = store_check_string("DNS name", d->name, STORE_DNS_NAME_MAX, true)) < 0 ||
	    (r = store_check_string("DNS zone", d->zone, STORE_DNS_NAME_MAX, false)) < 0 ||
	    (r = store_check_string("DNS reverse zone", d->ptr_zone, STORE_DNS_NAME_MAX, false)) < 0)
		return r;
	return 0;
}

static void record_bind(sqlite3_stmt *st, const struct store_dns_record *d, char *addr)
{
	(void)prefix_addr_to_string(&d->addr, addr, INET6_ADDRSTRLEN);
	sq_bind_text(st, 1, d->network);
	sq_bind_text(st, 2, d->key);
	sq_bind_text(st, 3, d->backend);
	sq_bind_text(st, 4, d->target);
	sq_bind_text(st, 5, d->name);
	sq_bind_text(st, 6, d->zone);
	sq_bind_text(st, 7, addr);
	sq_bind_text(st, 8, d->ptr_zone);
	(void)sqlite3_bind_int(st, 9, (int)d->state);
	/* An error is cut at a byte count, so it may end inside a UTF-8 sequence: text. */
	sq_bind_text(st, 10, d->error);
	(void)sqlite3_bind_int64(st, 11, d->updated);
}

int store_dns_update(struct store *s, const struct store_dns_record *put, size_t n_put,
		     const struct store_dns_record *del, size_t n_del)
{
	char addr[INET6_ADDRSTRLEN];
	sqlite3_stmt *ins = NULL, *rm = NULL;
	int r = 0;

	for (size_t i = 0; i < n_put && r == 0; i++)
		r = record_check(&put[i]);
	for (size_t i = 0; i < n_del && r == 0; i++)
		r = record_check(&del[i]);
	if (r < 0)
		return r;
	if ((r = sq_begin(s)) < 0)
		return r;
	if (n_put)
		r = prepare(s, "INSERT OR REPLACE INTO dns_records (" DNS_COLS ") VALUES"
			       " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
			    &ins);
	if (r == 0 && n_del)
		r = prepare(s, "DELETE FROM dns_records WHERE network = ?1 AND key = ?2"
			       " AND backend = ?3 AND name = ?5 AND address = ?7",
			    &rm);
	for (size_t i = 0; i < n_put && r == 0; i++) {
		(void)sqlite3_reset(ins);
		record_bind(ins, &put[i], addr);
		r = sq_exec(s, ins, "writing a DNS record");
	}
	for (size_t i = 0; i < n_del && r == 0; i++) {
		(void)sqlite3_reset(rm);
		(void)sqlite3_clear_bindings(rm);
		sq_bind_text(rm, 1, del[i].network);
		sq_bind_text(rm, 2, del[i].key);
		sq_bind_text(rm, 3, del[i].backend);
		sq_bind_text(rm, 5, del[i].name);
		sq_bind_text(rm, 7, prefix_addr_to_string(&del[i].addr, addr, sizeof(addr)));
		r = sq_exec(s, rm, "deleting a DNS record");
	}
	(void)sqlite3_finalize(ins);
	(void)sqlite3_finalize(rm);
	return sq_end(s, r);
}

static int record_from_row(struct store *s, sqlite3_stmt *st, struct store_dns_record *d)
{
	const char *a = (const char *)sqlite3_column_text(st, 6);

	memset(d, 0, sizeof(*d));
	store_copy(d->network, sizeof(d->network), (const char *)sqlite3_column_text(st, 0));
	store_copy(d->key, sizeof(d->key), (const char *)sqlite3_column_text(st, 1));
	store_copy(d->backend, sizeof(d->backend), (const char *)sqlite3_column_text(st, 2));
	store_copy(d->target, sizeof(d->target), (const char *)sqlite3_column_text(st, 3));
	store_copy(d->name, sizeof(d->name), (const char *)sqlite3_column_text(st, 4));
	store_copy(d->zone, sizeof(d->zone), (const char *)sqlite3_column_text(st, 5));
	store_copy(d->ptr_zone, sizeof(d->ptr_zone), (const char *)sqlite3_column_text(st, 7));
	d->state = (enum store_dns_state)sqlite3_column_int(st, 8);
	store_copy(d->error, sizeof(d->error), (const char *)sqlite3_column_text(st, 9));
	d->updated = sqlite3_column_int64(st, 10);
	if (!a || prefix_addr_from_string(a, &d->addr) < 0 || d->state > STORE_DNS_STALE)
		return err_set(-EBADMSG, "store %s: DNS record %s/%s (%s): damaged", s->path,
			       d->network, d->key, d->backend);
	return 0;
}

static int collect(struct store *s, sqlite3_stmt *st, struct store_dns_record **ret,
		   size_t *ret_n)
{
	struct store_dns_record *v = NULL, *nv;
	size_t n = 0, cap = 0;
	int r = 0, rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? 2 * cap : 8;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				r = err_set(-ENOMEM, "out of memory");
				break;
			}
			v = nv;
		}
		if ((r = record_from_row(s, st, &v[n++])) < 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = sq_fail(s, rc, "reading DNS records");
	(void)sqlite3_finalize(st);
	if (r < 0) {
		free(v);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

int store_dns_list(struct store *s, const char *network, const char *key, const char *backend,
		   struct store_dns_record **ret, size_t *ret_n)
{
	sqlite3_stmt *st = NULL;
	int r;

	if (network && (r = store_check_names(network, key)) < 0)
		return r;
	/* one key's rows (every ADD and DEL): a search of the primary key, not a scan */
	r = prepare(s, network && key
			       ? "SELECT " DNS_COLS " FROM dns_records WHERE network = ?1 AND key = ?2"
				 " AND (?3 IS NULL OR backend = ?3) ORDER BY network, name, address, backend"
			       : "SELECT " DNS_COLS " FROM dns_records WHERE (?1 IS NULL OR network = ?1)"
				 " AND (?2 IS NULL OR key = ?2) AND (?3 IS NULL OR backend = ?3)"
				 " ORDER BY network, name, address, backend",
		    &st);
	if (r < 0)
		return r;
	if (network)
		sq_bind_text(st, 1, network);
	if (key)
		sq_bind_text(st, 2, key);
	if (backend)
		sq_bind_text(st, 3, backend);
	return collect(s, st, ret, ret_n);
}

int store_dns_find(struct store *s, const char *backend, const char *target, const char *name,
		   const struct in6_addr *addr, struct store_dns_record **ret, size_t *ret_n)
{
	char a[INET6_ADDRSTRLEN];
	sqlite3_stmt *st = NULL;
	int r;

	/* INDEXED BY: left to itself, the planner takes the other index for its ORDER BY and
	 * walks every record of the target */
	if (name)
		r = prepare(s, "SELECT " DNS_COLS " FROM dns_records INDEXED BY dns_records_name"
			       " WHERE backend = ?1 AND target = ?2 AND name = ?3 ORDER BY address",
			    &st);
	else
		r = prepare(s, "SELECT " DNS_COLS " FROM dns_records INDEXED BY dns_records_address"
			       " WHERE backend = ?1 AND target = ?2 AND address = ?3 ORDER BY name",
			    &st);
	if (r < 0)
		return r;
	sq_bind_text(st, 1, backend);
	sq_bind_text(st, 2, target);
	if (name)
		sq_bind_text(st, 3, name);
	else
		sq_bind_text(st, 3, addr ? prefix_addr_to_string(addr, a, sizeof(a)) : "");
	return collect(s, st, ret, ret_n);
}
