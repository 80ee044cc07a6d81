/* The store's WAL upkeep: the commit hook that watches the WAL's length and the detached
 * worker that checkpoints it after a short-lived front end (the CNI plugin, the libvirt hook)
 * has answered its caller.
 *
 * Every v6pd process opens the store, makes one or two transactions and exits. With no
 * connection left open, the next opener rebuilds the WAL index by reading the whole WAL, and
 * that rebuilt index counts no frame as checkpointed, so SQLite's own (passive)
 * auto-checkpoint never gets to restart the WAL: it would grow without bound and every call
 * would read and re-copy all of it. So the WAL is checkpointed into leases.db and truncated
 * (two fsyncs) every few dozen commits:
 *
 * - store_close_detached() (the front ends, once their output is done): once the WAL holds
 *   WAL_DETACH_FRAMES frames, a detached child does it while the caller exits. The open that
 *   follows reads a WAL of at most about that size back.
 * - sq_wal_hook(), inline in the commit, once it holds WAL_TRUNCATE_FRAMES: v6pdctl and the
 *   other long-lived users, and the fallback when no worker could be started.
 * - store_wal_checkpoint() once store_wal_due(): a process that keeps its stores open
 *   (`v6pd --serve`), after it has answered. */
#include "store_sqlite.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

#include "store_int.h"

#define WAL_DETACH_FRAMES 32
#define WAL_TRUNCATE_FRAMES 256
/* How long the worker waits for a reader's old snapshot before it leaves the WAL to the next
 * one; it holds the writers' queue meanwhile. */
#define WORKER_BUSY_MS 2000

int sq_wal_hook(void *ctx, sqlite3 *db, const char *name, int frames)
{
	struct store *s = ctx;

	s->wal_frames = frames;
	if (frames >= WAL_TRUNCATE_FRAMES &&
	    sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL) == SQLITE_OK)
		s->wal_frames = 0;
	/* SQLITE_BUSY (a reader holds an old snapshot) only defers it to a later commit. */
	return SQLITE_OK;
}

/* Nothing of the caller's stays open in the worker: a runtime reads the plugin's stdout until
 * every writer of the pipe has closed it. keep (the worker's lock) becomes fd 3. */
static void worker_detach(int keep)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	(void)setsid();
	for (int fd = 0; fd < 3 && null >= 0; fd++)
		(void)dup2(null, fd);
	if (keep != 3 && dup2(keep, 3) < 0)
		_exit(1);
	if (close_range(4, ~0U, 0) < 0)
		for (int fd = 4; fd < 1024; fd++)
			(void)close(fd);
}

/* A new connection of its own (the parent's state must not be used after fork), in the queue
 * like any writer; the checkpoint waits for SQLite's write lock besides. */
static int worker_checkpoint(const char *path, const char *lock_path)
{
	sqlite3 *db = NULL;
	int lock = open(lock_path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);

	if (rc == SQLITE_OK) {
		(void)sqlite3_busy_timeout(db, WORKER_BUSY_MS);
		(void)sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
		/* A connection finds the WAL at its first read (and rebuilds the index from it
		 * here, outside the queue): before that a checkpoint has nothing to do. */
		rc = sqlite3_exec(db, "SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL);
	}
	if (rc == SQLITE_OK) {
		while (lock >= 0 && flock(lock, LOCK_EX) < 0 && errno == EINTR)
			;
		rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	}
	(void)sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : 1;
}

void store_close_detached(struct store *s)
{
	char path[PATH_MAX], lock[PATH_MAX + 32], own[PATH_MAX + 32];
	int frames, fd;

	if (!s)
		return;
	frames = s->wal_frames;
	store_copy(path, sizeof(path), s->path);
	(void)snprintf(lock, sizeof(lock), "%s/leases.lock", s->dir);
	(void)snprintf(own, sizeof(own), "%s/checkpoint.lock", s->dir);
	/* The SQLite state of this process must be gone before the fork: the child would
	 * inherit it and believe it holds locks it does not. */
	store_close(s);
	if (frames < WAL_DETACH_FRAMES)
		return;
	/* One worker at a time: one at it already takes this call's frames too, or the next
	 * call past the threshold starts another. Its lock dies with it. */
	fd = open(own, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fork() == 0) {
		worker_detach(fd);
		/* _exit: no atexit handlers, stdio buffers or sanitizer reports of the parent's. */
		_exit(worker_checkpoint(path, lock));
	}
	/* A failed fork leaves the WAL to the inline checkpoint of a later commit. */
	(void)close(fd);
}

bool store_wal_due(const struct store *s)
{
	return s->wal_frames >= WAL_DETACH_FRAMES;
}

void store_wal_checkpoint(struct store *s)
{
	/* in the writers' queue, like the detached worker */
	while (s->lock_fd >= 0 && flock(s->lock_fd, LOCK_EX) < 0 && errno == EINTR)
		;
	if (sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL) ==
	    SQLITE_OK)
		s->wal_frames = 0;
	if (s->lock_fd >= 0)
		(void)flock(s->lock_fd, LOCK_UN);
}
