/* dnsmasq_int: what dnsmasq.c (the served set, the configuration), dnsmasq_hosts.c (the
 * reservations and leases), dnsmasq_file.c (files written atomically, the state directory)
 * and dnsmasq_proc.c (the lock and the dnsmasq processes) share. Not an interface: see
 * dnsmasq.h. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define DM_SUBDIR "dnsmasq"		/* state_dir/dnsmasq/ */
#define DM_HOSTS_SUBDIR "dhcp-hosts"	/* state_dir/dhcp-hosts/NETWORK/ */

/* ---- dnsmasq_file.c ---- */

/* A growing string; buf is owned (free()). */
struct text {
	char *buf;
	size_t len, cap;
};
int dm_text_addf(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* snprintf that fails with -ENAMETOOLONG (and a message) instead of cutting */
int dm_pathf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* An absolute path of characters dnsmasq's configuration parser reads back unchanged. */
int dm_check_state_dir(const char *state_dir);
/* The whole regular file (at most max bytes), NUL-terminated, in *ret (free()). -ENOENT
 * without a message. */
int dm_read_file(const char *path, size_t max, char **ret, size_t *ret_len);
/* dir/name replaced by buf (mode): temp ".name.XXXXXX" (dnsmasq skips dot files), rename. A
 * reader sees the old file or the new one. durable: fsync of the file before the rename and
 * of dir after it, so that the new file is what a power loss leaves. */
int dm_write_atomic(const char *dir, const char *name, const char *buf, size_t len,
		    mode_t mode, bool durable);
/* mkdir with mode (whatever the umask) unless it is a directory already. */
int dm_ensure_dir(const char *path, mode_t mode);
/* The state directory, made as the store makes it, with o+x for dnsmasq (nobody); its
 * parents must be traversable by others or dnsmasq could not read the reservations. */
int dm_ensure_state_dir(const char *state_dir);

/* ---- dnsmasq_proc.c ---- */

/* The files of state_dir/dnsmasq/; state_dir is borrowed. */
struct paths {
	char dir[PATH_MAX];
	char lock[PATH_MAX];
	char conf[PATH_MAX];
	char set[PATH_MAX];
	char pid[PATH_MAX];
	char leases[PATH_MAX];
	char log[PATH_MAX];
	char log_old[PATH_MAX];
	const char *state_dir;
};
int dm_paths_init(const char *state_dir, struct paths *p);
/* The flock on state_dir/dnsmasq/lock (creating the directories); *ret_fd to release. */
int dm_lock_take(const struct paths *p, int *ret_fd);
void dm_lock_release(int fd);

/* Alive: kill(pid, 0) works and /proc/PID/stat is not a zombie. */
bool dm_proc_alive(pid_t pid);
/* comm "dnsmasq" and, unless conf is NULL, an argument --conf-file=CONF. */
bool dm_proc_is_dnsmasq(pid_t pid, const char *conf);
/* The pid in a pid file, 0 when missing or not a pid. */
pid_t dm_read_pid(const char *path);
/* Our dnsmasq (pid file, alive, comm, --conf-file), 0 when none runs. */
pid_t dm_running_pid(const struct paths *p);
/* Stops pid (0: none) and any other dnsmasq running our configuration. */
int dm_stop_all(const struct paths *p, pid_t pid);
/* Starts dnsmasq on p->conf and waits until it runs; its startup error in the message. */
int dm_spawn_dnsmasq(const struct paths *p);
/* Forks a worker that outlives the caller and nobody waits for: its own session, stdin,
 * stdout and stderr on /dev/null (a hook's are pipes libvirtd reads to EOF), every other
 * descriptor closed but keep_fd. 1 in the worker, which ends with _exit(); 0 in the caller
 * once the worker is on its way; a negative errno when it could not be made. */
int dm_detach(int keep_fd);

/* ---- dnsmasq.c ---- */

/* How many interfaces the served set holds. */
int dm_served_count(const struct paths *p);
