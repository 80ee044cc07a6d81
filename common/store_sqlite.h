/* The SQLite backend's internals, shared by store_sqlite*.c only. */
#pragma once

#include <limits.h>
#include <sqlite3.h>

#include "store.h"

enum sq_stmt {
	SQ_BEGIN,
	SQ_COMMIT,
	SQ_ROLLBACK,
	SQ_META_GET,
	SQ_META_PUT,
	SQ_NET_GET,
	SQ_NET_LIST,
	SQ_NET_INSERT,
	SQ_NET_UPDATE,
	SQ_SLICES_OF_BASE,
	SQ_SLICE_INSERT,
	SQ_LEASE_GET,
	SQ_LEASE_GET_ATTACHMENT,
	SQ_LEASE_HOLDER,
	SQ_LEASE_INSERT,
	SQ_LEASE_UPDATE,
	SQ_LEASE_DELETE,
	SQ_LEASE_LIST,
	SQ_LEASE_LIST_NET,
	SQ_LEASE_BY_MAC,
	SQ_LEASE_ACTIVE_NET,
	SQ_LEASE_EXPIRE_NET,
	SQ_LEASE_EXPIRE_ALL,
	SQ_LEASE_SEQ_FREE,
	SQ_SLICES_ALL,
	SQ_NET_HOST_TOO_LONG,
	SQ_MAX
};

struct store {
	sqlite3 *db;
	char dir[PATH_MAX];
	char path[PATH_MAX];
	bool have_secret;
	struct addrgen_secret secret;
	sqlite3_stmt *stmt[SQ_MAX];
	int lock_fd;			/* state_dir/leases.lock, the writers' queue; -1: none */
	int wal_frames;			/* the WAL's length after this connection's last commit */
	dev_t db_dev;			/* leases.db as opened: a file renamed into its place */
	ino_t db_ino;			/* later (a restored backup) is another store */
};

/* Translates an SQLite result code to a negative errno plus one message naming the store
 * file and what was being done. */
int sq_fail(struct store *s, int rc, const char *what);

/* The cached, reset statement for id; NULL (with the error recorded in *ret_r) on failure. */
sqlite3_stmt *sq_stmt(struct store *s, enum sq_stmt id, int *ret_r);

/* Runs a statement that returns no rows, then resets it. */
int sq_exec(struct store *s, sqlite3_stmt *st, const char *what);

int sq_begin(struct store *s);
/* Commits when r >= 0, rolls back otherwise; returns r or the commit's error. */
int sq_end(struct store *s, int r);

void sq_bind_text(sqlite3_stmt *st, int i, const char *v);

/* SQLite's wal_hook (ctx: the store): records the WAL's length, checkpoints it inline when
 * it is long (store_sqlite_wal.c). */
int sq_wal_hook(void *ctx, sqlite3 *db, const char *name, int frames);

/* The host prefix; -ENOENT when none is set. */
int sq_host_prefix(struct store *s, struct prefix *ret);
int sq_net_get(struct store *s, const char *name, struct store_net_info *ret);
int sq_net_ensure(struct store *s, const struct store_network *cfg, int64_t now,
		  struct store_net_info *ret);
/* Deletes the network's reservations that ended by now. */
int sq_expire_net(struct store *s, const char *network, int64_t now);
int sq_secret(struct store *s, const struct addrgen_secret **ret);

/* Claims a /len slice of base for network (and, for perContainerSlice, lease_key): index
 * want, or the lowest free one when want < 0. base_text is "" for the host prefix. */
int sq_slice_claim(struct store *s, const char *base_text, const struct prefix *base,
		   unsigned len, int64_t want, const char *network, const char *lease_key,
		   uint64_t *ret);

/* Whether p can become the host prefix for the networks that follow it: none of their
 * slices (nor a perContainerSlice network's slice length) too long for it, none of their
 * slices overlapping a slice claimed from a network's own prefix. -EINVAL naming both. */
int sq_host_prefix_check(struct store *s, const struct prefix *p);

/* Leases of host-prefix networks without an attachment record (from before schema 3) get one
 * of unknown mode carrying old_text, the previous host prefix: a renumbering then moves them
 * too (store_sqlite_renum.c). */
int sq_attach_adopt(struct store *s, const char *old_text);
/* Writes the attachment record of the lease (network, key) in the current transaction;
 * base: the host prefix it carries, NULL for a network with a prefix of its own. */
int sq_attach_put(struct store *s, const char *network, const char *key,
		  const struct store_attach *a, const struct prefix *base);
