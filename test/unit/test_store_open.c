/* The lease store (SQLite backend) through store.h: opening fresh, damaged and foreign
 * files. Reads PRAGMA user_version and forges damaged stores with SQLite directly.
 * Fixture and helpers: store_fixture.h. */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_fixture.h"

static int64_t sqlite_pragma(const char *path, const char *pragma)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int64_t v = -1;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, pragma, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	(void)sqlite3_finalize(st);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
	return v;
}

static void sqlite_run(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	char *msg = NULL;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
					 NULL),
			 SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/* The whole file; *ret_n its size. */
static uint8_t *slurp(const char *path, size_t *ret_n)
{
	struct stat st;
	uint8_t *b;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	b = malloc((size_t)st.st_size + 1);
	assert_non_null(b);
	assert_int_equal(read(fd, b, (size_t)st.st_size), st.st_size);
	(void)close(fd);
	*ret_n = (size_t)st.st_size;
	return b;
}

static void spit(const char *path, const void *b, size_t n, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, b, n), (ssize_t)n);
	assert_int_equal(close(fd), 0);
}

/* --- opening --- */

static void test_open_fresh(void **state)
{
	struct fx *f = *state;
	char wal[160];

	fx_open(f);
	assert_string_equal(store_state_dir(f->s), f->dir);
	assert_int_equal(mode_of(f->dir), 0700);
	assert_int_equal(mode_of(f->db), 0600);
	(void)snprintf(wal, sizeof(wal), "%s-wal", f->db);
	if (access(wal, F_OK) == 0)
		assert_int_equal(mode_of(wal), 0600);
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(sqlite_pragma(f->db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(sqlite_pragma(f->db, "PRAGMA application_id"), 0x76367064);
	/* and again: nothing to migrate */
	fx_open(f);
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(sqlite_pragma(f->db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);

	/* nested, missing parents */
	{
		struct store *s2 = NULL;
		char dir[160];

		(void)snprintf(dir, sizeof(dir), "%s/a/b/c", f->root);
		assert_ok(store_open(dir, &s2));
		assert_int_equal(mode_of(dir), 0700);
		store_close(s2);
	}
	/* a state dir that is a file */
	{
		struct store *s2 = NULL;
		char path[160], msg[256];

		(void)snprintf(path, sizeof(path), "%s/file", f->root);
		spit(path, "x", 1, 0600);
		(void)snprintf(msg, sizeof(msg), "stateDir %s: not a directory", path);
		assert_err(store_open(path, &s2), -ENOTDIR, msg);
		assert_null(s2);
	}
}

/* store_open(dir) must fail with want, leave *ret alone, and say what contains. */
static void assert_open_refused_at(const char *dir, int want, const char *contains)
{
	struct store *s2 = NULL;
	int r;

	err_clear();
	r = store_open(dir, &s2);
	if (r != want)
		fail_msg("store_open: %d (want %d): %s", r, want, r < 0 ? err_msg(r) : "opened");
	assert_null(s2);
	if (!strstr(err_msg(r), contains))
		fail_msg("message \"%s\" lacks \"%s\"", err_msg(r), contains);
}

static void assert_open_refused(struct fx *f, int want, const char *contains)
{
	assert_open_refused_at(f->dir, want, contains);
}

static void test_open_newer_schema(void **state)
{
	struct fx *f = *state;
	char msg[256], sql[64];
	uint8_t *before, *after;
	size_t nb, na;

	fx_open(f);
	store_close(f->s);
	f->s = NULL;
	(void)snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", STORE_SCHEMA_VERSION + 1);
	sqlite_run(f->db, sql);
	before = slurp(f->db, &nb);
	(void)snprintf(msg, sizeof(msg), "store %s: schema version %d is newer than this v6pd knows (%d)",
		       f->db, STORE_SCHEMA_VERSION + 1, STORE_SCHEMA_VERSION);
	assert_open_refused(f, -EPROTO, msg);
	assert_string_equal(err_msg(-EPROTO), msg);
	after = slurp(f->db, &na);
	assert_int_equal(na, nb);
	assert_memory_equal(after, before, nb);
	free(before);
	free(after);
}

static void test_open_foreign(void **state)
{
	struct fx *f = *state;
	char msg[256];
	uint8_t *before, *after;
	size_t nb, na;

	assert_int_equal(mkdir(f->dir, 0700), 0);
	sqlite_run(f->db, "CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT);"
			  "INSERT INTO moz_places (url) VALUES ('https://example.org/')");
	before = slurp(f->db, &nb);
	(void)snprintf(msg, sizeof(msg), "store %s: not a v6pd store (application_id 0, 1 objects); "
		       "refusing to touch it",
		       f->db);
	assert_open_refused(f, -EBADMSG, msg);
	assert_string_equal(err_msg(-EBADMSG), msg);
	/* refused untouched: still the other application's file, not switched to WAL */
	after = slurp(f->db, &na);
	assert_int_equal(na, nb);
	assert_memory_equal(after, before, nb);
	free(before);
	free(after);
	assert_int_equal(sqlite_pragma(f->db, "SELECT count(*) FROM moz_places"), 1);

	/* another application's id, no tables */
	assert_int_equal(unlink(f->db), 0);
	sqlite_run(f->db, "PRAGMA application_id = 1234");
	(void)snprintf(msg, sizeof(msg),
		       "store %s: not a v6pd store (application_id 0x4d2, 0 objects); "
		       "refusing to touch it", f->db);
	assert_open_refused(f, -EBADMSG, msg);
}

static void test_open_garbage(void **state)
{
	struct fx *f = *state;
	uint8_t junk[8192], *after;
	uint64_t x = 0x243f6a8885a308d3;
	size_t na;
	char head[200];

	for (size_t i = 0; i < sizeof(junk); i++) {
		x = x * 6364136223846793005u + 1442695040888963407u;
		junk[i] = (uint8_t)(x >> 56);
	}
	assert_int_equal(mkdir(f->dir, 0700), 0);
	spit(f->db, junk, sizeof(junk), 0600);
	(void)snprintf(head, sizeof(head), "store %s: ", f->db);
	assert_open_refused(f, -EBADMSG, head);
	assert_non_null(strstr(err_msg(-EBADMSG), "file is not a database"));
	after = slurp(f->db, &na);
	assert_int_equal(na, sizeof(junk));
	assert_memory_equal(after, junk, sizeof(junk));
	free(after);

	/* a valid SQLite header on garbage pages */
	memcpy(junk, "SQLite format 3", 16);
	spit(f->db, junk, sizeof(junk), 0600);
	assert_open_refused(f, -EBADMSG, head);
}

/* A copy of a real store cut to half its size (no -wal beside it). */
static void test_open_truncated(void **state)
{
	struct fx *f = *state;
	struct store_network w = netcfg("web");
	struct lease l;
	char key[32], wal[160], copy_dir[128], copy[160], head[220];
	size_t n;
	uint8_t *b;

	fx_host(state, HOST56);
	for (int i = 0; i < 300; i++) {
		(void)snprintf(key, sizeof(key), "key-%d", i);
		assert_ok(acquire(f->s, &w, key, key, T0, &l));
	}
	store_close(f->s);
	f->s = NULL;
	/* The store leaves its WAL in place (no checkpoint on close); a plain SQLite connection
	 * checkpoints it into the file and removes it when it closes. */
	sqlite_run(f->db, "PRAGMA wal_checkpoint(TRUNCATE)");
	(void)snprintf(wal, sizeof(wal), "%s-wal", f->db);
	assert_int_equal(access(wal, F_OK), -1);
	b = slurp(f->db, &n);
	assert_true(n >= 8 * 4096);
	(void)snprintf(copy_dir, sizeof(copy_dir), "%s/copy", f->root);
	(void)snprintf(copy, sizeof(copy), "%s/%s", copy_dir, STORE_DB_FILE);
	assert_int_equal(mkdir(copy_dir, 0700), 0);
	spit(copy, b, n / 2, 0600);
	free(b);
	(void)snprintf(head, sizeof(head), "store %s: ", copy);
	assert_open_refused_at(copy_dir, -EBADMSG, head);
	assert_non_null(strstr(err_msg(-EBADMSG), "malformed"));
	/* the original is whole */
	fx_open(f);
	assert_ok(store_lease_get(f->s, "web", "key-299", &l));
}

/* A 0-byte file is an empty database to SQLite: it becomes a new store. */
static void test_open_empty_file(void **state)
{
	struct fx *f = *state;
	struct store_network w = netcfg("web");
	struct lease l;

	assert_int_equal(mkdir(f->dir, 0700), 0);
	spit(f->db, "", 0, 0600);
	fx_host(state, HOST56);
	assert_ok(acquire(f->s, &w, "k1", "c1", T0, &l));
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(sqlite_pragma(f->db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(mode_of(f->db), 0600);
	fx_open(f);
	assert_ok(store_lease_get(f->s, "web", "k1", &l));
}

static void test_open_not_a_file(void **state)
{
	struct fx *f = *state;
	char msg[256], target[160];

	/* a directory in place of the file */
	assert_int_equal(mkdir(f->dir, 0700), 0);
	assert_int_equal(mkdir(f->db, 0700), 0);
	(void)snprintf(msg, sizeof(msg), "store %s: Is a directory", f->db);
	assert_open_refused(f, -EISDIR, msg);
	assert_string_equal(err_msg(-EISDIR), msg);
	assert_int_equal(rmdir(f->db), 0);
	/* a symlink in place of the file */
	(void)snprintf(target, sizeof(target), "%s/elsewhere.db", f->root);
	assert_int_equal(symlink(target, f->db), 0);
	(void)snprintf(msg, sizeof(msg), "store %s: Too many levels of symbolic links", f->db);
	assert_open_refused(f, -ELOOP, msg);
	assert_int_equal(access(target, F_OK), -1);
	assert_int_equal(unlink(f->db), 0);
	/* a FIFO */
	assert_int_equal(mkfifo(f->db, 0600), 0);
	(void)snprintf(msg, sizeof(msg), "store %s: not a regular file", f->db);
	assert_open_refused(f, -EINVAL, msg);
}

static void test_open_world_writable(void **state)
{
	struct fx *f = *state;
	char msg[256];

	fx_open(f);
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(chmod(f->dir, 0777), 0);
	(void)snprintf(msg, sizeof(msg),
		       "stateDir %s: writable by others (mode 0777); refusing to use it", f->dir);
	assert_open_refused(f, -EPERM, msg);
	assert_string_equal(err_msg(-EPERM), msg);
	assert_int_equal(chmod(f->dir, 0755), 0);
	assert_int_equal(chmod(f->db, 0666), 0);
	(void)snprintf(msg, sizeof(msg),
		       "store %s: writable by others (mode 0666); refusing to use it", f->db);
	assert_open_refused(f, -EPERM, msg);
	assert_string_equal(err_msg(-EPERM), msg);
	/* group-writable is the operator's choice */
	assert_int_equal(chmod(f->db, 0660), 0);
	fx_open(f);
}

/* A store of schema v3 (leases, no index by MAC) migrates to v4 on open and keeps its
 * leases; the index is what the lookup by MAC uses. */
static void test_open_migrates_v3(void **state)
{
	struct fx *f = fx_host(state, HOST56);
	struct store_network w = netcfg("web");
	struct lease l, *v = NULL;
	size_t n = 0;

	assert_ok(acquire(f->s, &w, "k1", "c1", T0, &l));
	store_close(f->s);
	f->s = NULL;
	sqlite_run(f->db, "DROP INDEX leases_mac; PRAGMA user_version = 3");
	assert_int_equal(sqlite_pragma(f->db, "SELECT count(*) FROM sqlite_schema WHERE name = "
					      "'leases_mac'"),
			 0);
	fx_open(f);
	assert_int_equal(sqlite_pragma(f->db, "PRAGMA user_version"), 4);
	assert_int_equal(sqlite_pragma(f->db, "SELECT count(*) FROM sqlite_schema WHERE name = "
					      "'leases_mac'"),
			 1);
	assert_int_equal(sqlite_pragma(f->db, "SELECT count(*) FROM leases"), 1);
	assert_ok(store_lease_list(f->s, "web", &v, &n));
	assert_int_equal(n, 1);
	assert_memory_equal(&v[0].addr, &l.addr, sizeof(l.addr));
	free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_open_fresh),
		T(test_open_newer_schema),
		T(test_open_foreign),
		T(test_open_garbage),
		T(test_open_truncated),
		T(test_open_empty_file),
		T(test_open_not_a_file),
		T(test_open_world_writable),
		T(test_open_migrates_v3),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
