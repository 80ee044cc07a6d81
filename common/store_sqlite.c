/* The SQLite store: opening, schema and migrations, statements, the host prefix, networks.
 * Leases are in store_sqlite_lease.c. */
#include "store_sqlite.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "err.h"
#include "store_int.h"

/* "v6pd" in PRAGMA application_id marks the file as ours (sqlite's magic.txt convention). */
#define SQ_APPLICATION_ID 0x76367064
#define SQ_BUSY_TIMEOUT_MS 30000

#define LEASE_COLS                                                                      \
	"network, key, slice_index, iid, container_id, ifname, netns, hostname, mac, state, " \
	"pinned, created, updated, released, expires"

/* migrations[v] takes a store from schema version v to v + 1. Append; never edit. */
static const char *const migrations[STORE_SCHEMA_VERSION] = {
	"CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT NOT NULL) STRICT;"
	"CREATE TABLE networks ("
	"  name TEXT PRIMARY KEY,"
	"  base TEXT NOT NULL,"			/* '' = the host's delegated prefix */
	"  slice_len INTEGER NOT NULL,"
	"  slice_index INTEGER,"		/* NULL for perContainerSlice networks */
	"  per_container INTEGER NOT NULL,"
	"  iid_mode TEXT NOT NULL,"
	"  max_leases INTEGER NOT NULL,"
	"  retention INTEGER NOT NULL,"
	"  lease_count INTEGER NOT NULL DEFAULT 0,"
	"  created INTEGER NOT NULL) STRICT;"
	"CREATE TABLE slices ("
	"  base TEXT NOT NULL, slice_len INTEGER NOT NULL, idx INTEGER NOT NULL,"
	"  network TEXT NOT NULL, lease_key TEXT,"
	"  PRIMARY KEY (base, slice_len, idx)) STRICT;"
	"CREATE TABLE leases ("
	"  network TEXT NOT NULL REFERENCES networks(name),"
	"  key TEXT NOT NULL,"
	"  slice_index INTEGER NOT NULL,"
	"  iid INTEGER NOT NULL,"		/* uint64 stored as int64 */
	"  container_id TEXT NOT NULL, ifname TEXT NOT NULL, netns TEXT NOT NULL,"
	"  hostname TEXT NOT NULL, mac TEXT NOT NULL,"
	"  state INTEGER NOT NULL,"		/* 0 active, 1 reserved */
	"  pinned INTEGER NOT NULL,"
	"  created INTEGER NOT NULL, updated INTEGER NOT NULL,"
	"  released INTEGER NOT NULL, expires INTEGER NOT NULL,"
	"  PRIMARY KEY (network, key),"
	"  UNIQUE (network, slice_index, iid)) STRICT, WITHOUT ROWID;"
	"CREATE INDEX leases_attachment ON leases (network, container_id, ifname);"
	"CREATE INDEX leases_expiry ON leases (network, expires) WHERE state = 1 AND pinned = 0;"
	"CREATE TRIGGER leases_count_insert AFTER INSERT ON leases BEGIN"
	"  UPDATE networks SET lease_count = lease_count + 1 WHERE name = NEW.network; END;"
	"CREATE TRIGGER leases_count_delete AFTER DELETE ON leases BEGIN"
	"  UPDATE networks SET lease_count = lease_count - 1 WHERE name = OLD.network;"
	"  DELETE FROM slices WHERE network = OLD.network AND lease_key = OLD.key; END;",
	/* v2: what v6pd published in DNS (dns.h), kept apart from leases: a record outlives
	 * its lease until it is removed from DNS. */
	"CREATE TABLE dns_config ("
	"  network TEXT PRIMARY KEY, config TEXT NOT NULL, updated INTEGER NOT NULL) STRICT;"
	"CREATE TABLE dns_records ("
	"  network TEXT NOT NULL, key TEXT NOT NULL, backend TEXT NOT NULL,"
	"  target TEXT NOT NULL, name TEXT NOT NULL, zone TEXT NOT NULL,"
	"  address TEXT NOT NULL, ptr_zone TEXT NOT NULL,"
	"  state INTEGER NOT NULL,"		/* 0 published, 1 pending, 2 stale */
	"  error TEXT NOT NULL, updated INTEGER NOT NULL,"
	"  PRIMARY KEY (network, key, backend, name, address)) STRICT, WITHOUT ROWID;"
	"CREATE INDEX dns_records_name ON dns_records (backend, target, name);"
	"CREATE INDEX dns_records_address ON dns_records (backend, target, address);",
	/* v3: renumbering (store_sqlite_renum.c). How each lease's workload is attached and
	 * which host prefix its live attachment carries (applied, '' for networks with a prefix
	 * of their own): a renumbering moves the leases whose applied prefix is not the
	 * current one, so one that crashed half-way is finished by the next run. What it left
	 * to drain, and the delegated prefixes DHCPv6 clients reported. */
	"CREATE TABLE attachments ("
	"  network TEXT NOT NULL, key TEXT NOT NULL,"
	"  mode TEXT NOT NULL, link TEXT NOT NULL, uplink TEXT NOT NULL,"
	"  plen INTEGER NOT NULL, grace INTEGER NOT NULL, applied TEXT NOT NULL,"
	"  PRIMARY KEY (network, key)) STRICT, WITHOUT ROWID;"
	"CREATE TRIGGER leases_attachment_delete AFTER DELETE ON leases BEGIN"
	"  DELETE FROM attachments WHERE network = OLD.network AND key = OLD.key; END;"
	"CREATE TABLE drains ("
	"  kind TEXT NOT NULL, netns TEXT NOT NULL, link TEXT NOT NULL, what TEXT NOT NULL,"
	"  origin TEXT NOT NULL, until INTEGER NOT NULL,"
	"  PRIMARY KEY (kind, netns, link, what)) STRICT, WITHOUT ROWID;"
	"CREATE TABLE pd_prefixes ("
	"  interface TEXT NOT NULL, prefix TEXT NOT NULL,"
	"  valid_until INTEGER NOT NULL, preferred_until INTEGER NOT NULL,"
	"  PRIMARY KEY (interface, prefix)) STRICT, WITHOUT ROWID;",
	/* v4: the libvirt hook looks for a re-defined domain's earlier lease by MAC. */
	"CREATE INDEX leases_mac ON leases (network, mac);",
};

static const char *const stmt_sql[SQ_MAX] = {
	[SQ_BEGIN] = "BEGIN IMMEDIATE",
	[SQ_COMMIT] = "COMMIT",
	[SQ_ROLLBACK] = "ROLLBACK",
	[SQ_META_GET] = "SELECT v FROM meta WHERE k = ?1",
	[SQ_META_PUT] = "INSERT OR REPLACE INTO meta (k, v) VALUES (?1, ?2)",
	[SQ_NET_GET] = "SELECT name, base, slice_len, slice_index, per_container, iid_mode,"
		       " max_leases, retention, lease_count, created FROM networks WHERE name = ?1",
	[SQ_NET_LIST] = "SELECT name, base, slice_len, slice_index, per_container, iid_mode,"
			" max_leases, retention, lease_count, created FROM networks ORDER BY name",
	[SQ_NET_INSERT] = "INSERT INTO networks (name, base, slice_len, slice_index, per_container,"
			  " iid_mode, max_leases, retention, created)"
			  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[SQ_NET_UPDATE] = "UPDATE networks SET iid_mode = ?2, max_leases = ?3, retention = ?4"
			  " WHERE name = ?1",
	[SQ_SLICES_OF_BASE] = "SELECT idx, slice_len, network, lease_key FROM slices WHERE base = ?1",
	[SQ_SLICE_INSERT] = "INSERT INTO slices (base, slice_len, idx, network, lease_key)"
			    " VALUES (?1, ?2, ?3, ?4, ?5)",
	[SQ_LEASE_GET] = "SELECT " LEASE_COLS " FROM leases WHERE network = ?1 AND key = ?2",
	[SQ_LEASE_GET_ATTACHMENT] = "SELECT " LEASE_COLS " FROM leases WHERE network = ?1"
				    " AND container_id = ?2 AND ifname = ?3 AND state = 0",
	[SQ_LEASE_HOLDER] = "SELECT key FROM leases WHERE network = ?1 AND slice_index = ?2"
			    " AND iid = ?3",
	[SQ_LEASE_INSERT] = "INSERT INTO leases (" LEASE_COLS ") VALUES"
			    " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
	[SQ_LEASE_UPDATE] = "UPDATE leases SET slice_index = ?3, iid = ?4, container_id = ?5,"
			    " ifname = ?6, netns = ?7, hostname = ?8, mac = ?9, state = ?10,"
			    " pinned = ?11, created = ?12, updated = ?13, released = ?14,"
			    " expires = ?15 WHERE network = ?1 AND key = ?2",
	[SQ_LEASE_DELETE] = "DELETE FROM leases WHERE network = ?1 AND key = ?2",
	[SQ_LEASE_LIST] = "SELECT " LEASE_COLS " FROM leases ORDER BY network, key",
	[SQ_LEASE_BY_MAC] = "SELECT " LEASE_COLS " FROM leases WHERE network = ?1 AND mac = ?2"
			    " ORDER BY key",
	[SQ_LEASE_LIST_NET] = "SELECT " LEASE_COLS " FROM leases WHERE network = ?1 ORDER BY key",
	[SQ_LEASE_ACTIVE_NET] = "SELECT " LEASE_COLS " FROM leases WHERE network = ?1"
				" AND state = 0",
	[SQ_LEASE_EXPIRE_NET] = "DELETE FROM leases WHERE network = ?1 AND state = 1"
				" AND pinned = 0 AND expires <= ?2",
	[SQ_LEASE_EXPIRE_ALL] = "DELETE FROM leases WHERE state = 1 AND pinned = 0"
				" AND (expires <= ?1 OR (?2 >= 0 AND released <= ?1 - ?2))",
	/* The lowest IID >= 2 that no lease of the slice holds. */
	[SQ_LEASE_SEQ_FREE] =
		"SELECT 2 WHERE NOT EXISTS (SELECT 1 FROM leases WHERE network = ?1"
		"  AND slice_index = ?2 AND iid = 2)"
		" UNION ALL SELECT * FROM (SELECT l.iid + 1 FROM leases l WHERE l.network = ?1"
		"  AND l.slice_index = ?2 AND l.iid >= 2 AND NOT EXISTS (SELECT 1 FROM leases m"
		"  WHERE m.network = ?1 AND m.slice_index = ?2 AND m.iid = l.iid + 1)"
		"  ORDER BY l.iid LIMIT 1) LIMIT 1",
	/* Slices of every base: one address space, whichever prefix a network names. */
	[SQ_SLICES_ALL] = "SELECT base, idx, slice_len, network, lease_key FROM slices",
	[SQ_NET_HOST_TOO_LONG] = "SELECT name, slice_len FROM networks WHERE base = ''"
				 " AND slice_len <= ?1 ORDER BY name LIMIT 1",
};

/* Whether the last failure was the file system running out of room: SQLite reports a full
 * disk as SQLITE_FULL only when the database file cannot grow, a -shm or -wal that cannot
 * as an I/O error. */
static bool sq_no_room(struct store *s)
{
	int e = s->db ? sqlite3_system_errno(s->db) : 0;

	return e == ENOSPC || e == EDQUOT;
}

int sq_fail(struct store *s, int rc, const char *what)
{
	int e;

	if (sq_no_room(s) && ((rc & 0xff) == SQLITE_IOERR || (rc & 0xff) == SQLITE_FULL ||
			      (rc & 0xff) == SQLITE_CANTOPEN))
		return err_set(-ENOSPC, "store %s: %s: the disk is full (%s)", s->path, what,
			       strerror(sqlite3_system_errno(s->db)));
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		e = -EBUSY;
		break;
	case SQLITE_FULL:
		e = -ENOSPC;
		break;
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		e = -EBADMSG;
		break;
	case SQLITE_READONLY:
		e = -EROFS;
		break;
	case SQLITE_PERM:
	case SQLITE_AUTH:
	case SQLITE_CANTOPEN:
		e = -EACCES;
		break;
	case SQLITE_NOMEM:
		e = -ENOMEM;
		break;
	case SQLITE_CONSTRAINT:
		e = -EEXIST;
		break;
	default:
		e = -EIO;
	}
	return err_set(e, "store %s: %s: %s", s->path, what,
		       s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
}

sqlite3_stmt *sq_stmt(struct store *s, enum sq_stmt id, int *ret_r)
{
	int rc;

	if (s->stmt[id]) {
		(void)sqlite3_reset(s->stmt[id]);
		(void)sqlite3_clear_bindings(s->stmt[id]);
		return s->stmt[id];
	}
	rc = sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[id],
				NULL);
	if (rc != SQLITE_OK) {
		*ret_r = sq_fail(s, rc, "preparing a statement");
		return NULL;
	}
	return s->stmt[id];
}

int sq_exec(struct store *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	(void)sqlite3_reset(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return sq_fail(s, rc, what);
	return 0;
}

static int sq_exec_id(struct store *s, enum sq_stmt id, const char *what)
{
	int r = 0;
	sqlite3_stmt *st = sq_stmt(s, id, &r);

	return st ? sq_exec(s, st, what) : r;
}

/* Writers queue on flock(state_dir/leases.lock) before BEGIN IMMEDIATE. SQLite's busy
 * handler polls, sleeping 1, 2, 5, ... up to 100 ms between tries, so with dozens of
 * writers most of them sleep through the moments the lock is free; the kernel wakes a
 * flock() waiter at once. SQLite's own locks still guarantee correctness (and cover a
 * store opened without the lock file); a process that dies drops its flock with its
 * descriptor. The holder runs one short transaction, so waiting has no time limit. */
static int writer_lock(struct store *s)
{
	if (s->lock_fd < 0)
		return 0;
	while (flock(s->lock_fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return err_set(-errno, "store %s: locking %s/leases.lock: %s", s->path, s->dir,
				       strerror(errno));
	return 0;
}

static void writer_unlock(struct store *s)
{
	if (s->lock_fd >= 0)
		(void)flock(s->lock_fd, LOCK_UN);
}

int sq_begin(struct store *s)
{
	int r = writer_lock(s);

	if (r < 0)
		return r;
	r = sq_exec_id(s, SQ_BEGIN, "starting a transaction");
	if (r < 0)
		writer_unlock(s);
	return r;
}

int sq_end(struct store *s, int r)
{
	int k;

	if (r < 0) {
		if (!sqlite3_get_autocommit(s->db))
			(void)sq_exec_id(s, SQ_ROLLBACK, "rolling back");
		writer_unlock(s);
		return r;
	}
	k = sq_exec_id(s, SQ_COMMIT, "committing");
	if (k < 0 && !sqlite3_get_autocommit(s->db))
		(void)sq_exec_id(s, SQ_ROLLBACK, "rolling back");
	writer_unlock(s);
	return k < 0 ? k : r;
}

void sq_bind_text(sqlite3_stmt *st, int i, const char *v)
{
	(void)sqlite3_bind_text(st, i, v ? v : "", -1, SQLITE_STATIC);
}

/* Refuses a state dir or store file that others may write. */
static int check_mode(const char *what, const char *path, bool dir)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return err_set(-errno, "%s %s: %s", what, path, strerror(errno));
	if (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
		return err_set(dir ? -ENOTDIR : -EINVAL, "%s %s: not a %s", what, path,
			       dir ? "directory" : "regular file");
	if (st.st_mode & S_IWOTH)
		return err_set(-EPERM, "%s %s: writable by others (mode %04o); refusing to use it",
			       what, path, (unsigned)(st.st_mode & 07777));
	return 0;
}

static int make_state_dir(const char *dir)
{
	char tmp[PATH_MAX];
	size_t len = strlen(dir);

	if (len == 0 || len >= sizeof(tmp))
		return err_set(-EINVAL, "stateDir \"%s\": empty or too long", dir);
	memcpy(tmp, dir, len + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return err_set(-errno, "stateDir %s: creating %s: %s", dir, tmp,
				       strerror(errno));
		*p = '/';
	}
	if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
		return err_set(-errno, "stateDir %s: %s", dir, strerror(errno));
	return check_mode("stateDir", dir, true);
}

/* All three from one statement, so from one snapshot even outside a transaction. */
static int read_identity(struct store *s, int *ret_version, int *ret_app, int *ret_objects)
{
	static const char sql[] = "SELECT (SELECT user_version FROM pragma_user_version),"
				  " (SELECT application_id FROM pragma_application_id),"
				  " (SELECT count(*) FROM sqlite_schema)";
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);

	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			*ret_version = sqlite3_column_int(st, 0);
			*ret_app = sqlite3_column_int(st, 1);
			*ret_objects = sqlite3_column_int(st, 2);
			rc = SQLITE_OK;
		}
	}
	(void)sqlite3_finalize(st);
	return rc == SQLITE_OK ? 0 : sq_fail(s, rc, "reading the schema");
}

static int exec_sql(struct store *s, const char *sql, const char *what)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : sq_fail(s, rc, what);
}

/* Refuses a file that is not ours (an empty one is: it is new) or a newer schema. */
static int identify(struct store *s, int *ret_version)
{
	int version = 0, app = 0, tables = 0, r;

	if ((r = read_identity(s, &version, &app, &tables)) < 0)
		return r;
	if (app != SQ_APPLICATION_ID && (app != 0 || tables > 0))
		return err_set(-EBADMSG, "store %s: not a v6pd store (application_id %#x, %d "
					 "objects); refusing to touch it",
			       s->path, (unsigned)app, tables);
	if (version > STORE_SCHEMA_VERSION)
		return err_set(-EPROTO, "store %s: schema version %d is newer than this v6pd knows "
					"(%d)",
			       s->path, version, STORE_SCHEMA_VERSION);
	if (ret_version)
		*ret_version = version;
	return 0;
}

/* Brings the schema to STORE_SCHEMA_VERSION in one transaction; a concurrent opener waits
 * on the write lock and then finds the work done. */
static int migrate(struct store *s)
{
	char sql[64];
	int version, r;

	if ((r = writer_lock(s)) < 0)
		return r;
	if ((r = exec_sql(s, "BEGIN IMMEDIATE", "starting the migration")) < 0) {
		writer_unlock(s);
		return r;
	}
	if ((r = identify(s, &version)) < 0)
		goto out;
	for (int v = version; v < STORE_SCHEMA_VERSION; v++)
		if ((r = exec_sql(s, migrations[v], "migrating the schema")) < 0)
			goto out;
	if (version != STORE_SCHEMA_VERSION) {
		(void)snprintf(sql, sizeof(sql), "PRAGMA user_version = %d; PRAGMA application_id = %d",
			       STORE_SCHEMA_VERSION, SQ_APPLICATION_ID);
		r = exec_sql(s, sql, "recording the schema version");
	}
out:
	if (r < 0)
		(void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	else
		r = exec_sql(s, "COMMIT", "committing the migration");
	writer_unlock(s);
	return r;
}

/* Switching to WAL upgrades a read lock to the write lock, which SQLite does not retry
 * through the busy handler (that could deadlock), so processes opening a new store at once
 * would fail with "database is locked": retry for as long as the busy timeout. Only the
 * first opening of a store switches; later ones find it in WAL mode. */
static int set_wal(struct store *s)
{
	const char *mode = NULL;
	sqlite3_stmt *st = NULL;
	int rc, waited = 0, pause = 1;

	for (;;) {
		rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			mode = (const char *)sqlite3_column_text(st, 0);
			if (mode && strcmp(mode, "wal") == 0) {
				(void)sqlite3_finalize(st);
				return 0;
			}
		}
		(void)sqlite3_finalize(st);
		st = NULL;
		/* A mode other than "wal" back means it could not switch yet: retry too. */
		if (rc != SQLITE_ROW && (rc & 0xff) != SQLITE_BUSY)
			return sq_fail(s, rc, "switching to WAL mode");
		if (waited >= SQ_BUSY_TIMEOUT_MS)
			return rc == SQLITE_ROW ? err_set(-EBUSY, "store %s: cannot switch it to WAL "
								 "mode", s->path)
						: sq_fail(s, rc, "switching to WAL mode");
		(void)sqlite3_sleep(pause);
		waited += pause;
		pause = pause < 16 ? 2 * pause : 16;
	}
}

static int sq_connect(struct store *s, bool exclusive)
{
	int rc = sqlite3_open_v2(s->path, &s->db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
				 NULL);

	if (rc != SQLITE_OK)
		return sq_fail(s, rc, "opening");
	(void)sqlite3_busy_timeout(s->db, SQ_BUSY_TIMEOUT_MS);
	/* The last connection to close would checkpoint (two fdatasyncs) and delete the WAL,
	 * and the next opener recreate it (two more): every short-lived caller (the CNI
	 * plugin, v6pdctl) paid four syncs. Leave the WAL to store_sqlite_wal.c instead, which
	 * checkpoints and truncates it every few dozen frames. Durability is what
	 * synchronous=NORMAL promises either way: a
	 * crash of the process loses nothing committed, a power loss may roll back the
	 * newest transactions. leases.db-wal and -shm now stay between calls: a backup copies
	 * all three files or uses sqlite3 .backup. */
	(void)sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	(void)sqlite3_wal_hook(s->db, sq_wal_hook, s);
	return exclusive ? exec_sql(s, "PRAGMA locking_mode = EXCLUSIVE", "setting up") : 0;
}

int store_open(const char *state_dir, struct store **ret)
{
	struct store *s;
	char lock[PATH_MAX + 16];
	int fd, r, version = 0;

	s = calloc(1, sizeof(*s));
	if (!s)
		return err_set(-ENOMEM, "out of memory");
	s->lock_fd = -1;
	if ((r = make_state_dir(state_dir)) < 0)
		goto fail;
	store_copy(s->dir, sizeof(s->dir), state_dir);
	if ((size_t)snprintf(s->path, sizeof(s->path), "%s/%s", state_dir, STORE_DB_FILE) >=
	    sizeof(s->path)) {
		r = err_set(-ENAMETOOLONG, "stateDir \"%s\": too long", state_dir);
		goto fail;
	}
	/* Create the file ourselves so it is 0600; SQLite gives -wal and -shm the same mode. */
	fd = open(s->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		r = err_set(-errno, "store %s: %s", s->path, strerror(errno));
		goto fail;
	}
	{
		struct stat st;

		if (fstat(fd, &st) == 0) {
			s->db_dev = st.st_dev;
			s->db_ino = st.st_ino;
		}
	}
	(void)close(fd);
	if ((r = check_mode("store", s->path, false)) < 0)
		goto fail;
	/* The writers' queue only speeds things up: without it (a full disk has no inode
	 * for it) SQLite's busy handler queues writers as before. */
	(void)snprintf(lock, sizeof(lock), "%s/leases.lock", state_dir);
	s->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if ((r = sq_connect(s, false)) < 0)
		goto fail;
	/* Look before touching anything: switching a foreign database to WAL would rewrite its
	 * header. migrate() checks again under the write lock. */
	r = identify(s, &version);
	if (r == -ENOSPC) {
		/* Readers of a WAL database share an index in the -shm file; on a full disk
		 * there may be no room for it. In exclusive locking mode SQLite keeps that
		 * index in memory, so the store still opens (other processes wait until this
		 * one closes it). */
		(void)sqlite3_close(s->db);
		s->db = NULL;
		if ((r = sq_connect(s, true)) < 0)
			goto fail;
		r = identify(s, &version);
	}
	if (r < 0)
		goto fail;
	/* WAL: readers never block the writer. synchronous=NORMAL: a committed transaction
	 * survives a crash of the process; a power loss may roll back the newest ones but never
	 * corrupts the file. */
	if ((r = set_wal(s)) < 0 ||
	    (r = exec_sql(s, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
			  "setting up")) < 0)
		goto fail;
	/* A store at our version (every open but the first) needs no write transaction: one
	 * fewer turn on the write lock for every CNI call. migrate() looks again under the
	 * lock, so a store another process is creating right now is safe either way. */
	if (version != STORE_SCHEMA_VERSION && (r = migrate(s)) < 0)
		goto fail;
	*ret = s;
	return 0;
fail:
	store_close(s);
	return r;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	for (int i = 0; i < SQ_MAX; i++)
		(void)sqlite3_finalize(s->stmt[i]);
	(void)sqlite3_close(s->db);
	if (s->lock_fd >= 0)
		(void)close(s->lock_fd);
	explicit_bzero(&s->secret, sizeof(s->secret));
	free(s);
}

int store_check(struct store *s)
{
	char what[160];
	const char *row;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(s->db, "PRAGMA quick_check(1)", -1, &st, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		(void)sqlite3_finalize(st);
		return sq_fail(s, rc, "checking the file");
	}
	row = (const char *)sqlite3_column_text(st, 0);
	if (row && strcmp(row, "ok") == 0) {
		(void)sqlite3_finalize(st);
		return 0;
	}
	/* SQLite's report may start with "*** in database main ***\n": keep one line. */
	if (row && strncmp(row, "*** ", 4) == 0 && strchr(row, '\n'))
		row = strchr(row, '\n') + 1;
	(void)snprintf(what, sizeof(what), "%s", row ? row : "?");
	(void)sqlite3_finalize(st);
	for (char *p = what; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return err_set(-EBADMSG, "store %s: damaged (%s); restore it from a backup or move it "
				 "away to start afresh",
		       s->path, what);
}

const char *store_state_dir(const struct store *s)
{
	return s->dir;
}

int sq_secret(struct store *s, const struct addrgen_secret **ret)
{
	int r;

	if (!s->have_secret) {
		r = addrgen_secret_load(s->dir, &s->secret);
		if (r < 0)
			return r;
		s->have_secret = true;
	}
	*ret = &s->secret;
	return 0;
}

static int meta_get(struct store *s, const char *k, char *buf, size_t size)
{
	int r = 0, rc;
	sqlite3_stmt *st = sq_stmt(s, SQ_META_GET, &r);

	if (!st)
		return r;
	sq_bind_text(st, 1, k);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		store_copy(buf, size, (const char *)sqlite3_column_text(st, 0));
	else
		r = rc == SQLITE_DONE ? -ENOENT : sq_fail(s, rc, "reading meta");
	(void)sqlite3_reset(st);
	return r;
}

static int meta_put(struct store *s, const char *k, const char *v)
{
	int r = 0;
	sqlite3_stmt *st = sq_stmt(s, SQ_META_PUT, &r);

	if (!st)
		return r;
	sq_bind_text(st, 1, k);
	sq_bind_text(st, 2, v);
	return sq_exec(s, st, "writing meta");
}

int sq_host_prefix(struct store *s, struct prefix *ret)
{
	char buf[PREFIX_STRLEN];
	int r = meta_get(s, "prefix", buf, sizeof(buf));

	if (r < 0)
		return r;
	r = prefix_from_string(buf, ret);
	return r < 0 ? err_wrap(r, "store %s: the stored host prefix", s->path) : 0;
}

int store_prefix_get(struct store *s, struct prefix *ret, int64_t *ret_since)
{
	char buf[32];
	struct prefix p;
	int r = sq_host_prefix(s, &p);

	if (r == -ENOENT)
		return err_set(-ENOENT, "no delegated prefix is set (v6pdctl prefix set PREFIX)");
	if (r < 0)
		return r;
	if (ret_since) {
		*ret_since = 0;
		if (meta_get(s, "prefix_since", buf, sizeof(buf)) == 0)
			*ret_since = strtoll(buf, NULL, 10);
	}
	*ret = p;
	return 0;
}

int store_prefix_previous(struct store *s, struct prefix *ret)
{
	char buf[PREFIX_STRLEN];
	int r = meta_get(s, "prefix_previous", buf, sizeof(buf));

	if (r < 0)
		return r;
	r = prefix_from_string(buf, ret);
	return r < 0 ? err_wrap(r, "store %s: the stored previous prefix", s->path) : 0;
}

static bool prefix_equal(const struct prefix *a, const struct prefix *b)
{
	return a->len == b->len && memcmp(&a->addr, &b->addr, sizeof(a->addr)) == 0;
}

/* Every slice that follows the host prefix must fit in p. */
static int check_slices_fit(struct store *s, const struct prefix *p)
{
	char buf[PREFIX_STRLEN];
	int r = 0, rc;
	sqlite3_stmt *st = sq_stmt(s, SQ_SLICES_OF_BASE, &r);

	if (!st)
		return r;
	sq_bind_text(st, 1, "");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint64_t idx = (uint64_t)sqlite3_column_int64(st, 0);
		unsigned len = (unsigned)sqlite3_column_int(st, 1);

		if (len <= p->len || idx >= prefix_slice_count(p, len)) {
			r = err_set(-EINVAL, "prefix \"%s\": network \"%s\" holds /%u slice %llu, which "
					     "does not fit in it",
				    prefix_to_string(p, buf, sizeof(buf)),
				    (const char *)sqlite3_column_text(st, 2), len,
				    (unsigned long long)idx);
			break;
		}
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = sq_fail(s, rc, "reading slices");
	(void)sqlite3_reset(st);
	return r;
}

int store_prefix_set(struct store *s, const struct prefix *p, int64_t now, bool *ret_changed,
		     struct prefix *ret_old, bool *ret_had_old)
{
	char buf[PREFIX_STRLEN], since[32];
	struct prefix old;
	bool had_old = false, changed = true;
	int r;

	if (p->len > PREFIX_SLICE_MAX - 1)
		return err_set(-EINVAL, "prefix \"%s\": too long to hold a slice (at most /%d)",
			       prefix_to_string(p, buf, sizeof(buf)), PREFIX_SLICE_MAX - 1);
	if ((r = sq_begin(s)) < 0)
		return r;
	r = sq_host_prefix(s, &old);
	if (r == 0) {
		had_old = true;
		changed = !prefix_equal(&old, p);
	} else if (r != -ENOENT) {
		goto out;
	}
	r = 0;
	if (!changed)
		goto out;
	if ((r = check_slices_fit(s, p)) < 0 || (r = sq_host_prefix_check(s, p)) < 0)
		goto out;
	(void)snprintf(since, sizeof(since), "%lld", (long long)now);
	if ((r = meta_put(s, "prefix", prefix_to_string(p, buf, sizeof(buf)))) < 0 ||
	    (r = meta_put(s, "prefix_since", since)) < 0)
		goto out;
	if (had_old && (r = meta_put(s, "prefix_previous",
				     prefix_to_string(&old, buf, sizeof(buf)))) == 0)
		r = sq_attach_adopt(s, buf);
out:
	r = sq_end(s, r);
	if (r < 0)
		return r;
	if (ret_changed)
		*ret_changed = changed;
	if (ret_had_old)
		*ret_had_old = had_old;
	if (ret_old && had_old)
		*ret_old = old;
	return 0;
}
