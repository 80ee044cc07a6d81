/* dnsmasq: reservations in a watched directory, and the one v6pd dnsmasq of a state directory.
 * See dnsmasq.h for what dnsmasq 2.90 was measured to do; the comments here say why. */
#include "dnsmasq.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "err.h"
#include "netlink.h"
#include "store.h"

#define SUBDIR "dnsmasq"
#define HOSTS_SUBDIR "dhcp-hosts"
#define RA_INTERVAL 10
#define RA_LIFETIME 600
#define LOG_ROTATE_SIZE (1 << 20)
#define STATE_FILE_MAX (1 << 20)
#define LEASE_FILE_MAX (64 << 20)
#define HOST_FILE_MAX 4096
#define STOP_WAIT_MS 5000
#define START_WAIT_MS 3000

static const char *const dnsmasq_paths[] = {
	"/usr/sbin/dnsmasq", "/usr/local/sbin/dnsmasq", "/sbin/dnsmasq",
};

/* ---- small helpers ---- */

struct text {
	char *buf;
	size_t len, cap;
};

static int text_addf(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int text_addf(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = t->cap - t->len;

		va_start(ap, fmt);
		n = vsnprintf(t->buf ? t->buf + t->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0)
			return err_set(-EINVAL, "formatting the dnsmasq configuration failed");
		if ((size_t)n < room) {
			t->len += (size_t)n;
			return 0;
		}
		size_t cap = t->cap ? t->cap * 2 : 1024;
		while (cap - t->len <= (size_t)n)
			cap *= 2;
		char *b = realloc(t->buf, cap);
		if (!b)
			return err_set(-ENOMEM, "out of memory");
		t->buf = b;
		t->cap = cap;
	}
}

static int pathf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int pathf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size)
		return err_set(-ENAMETOOLONG, "path \"%.60s...\": too long", buf);
	return 0;
}

/* dnsmasq's configuration syntax has no quoting we can rely on for paths: keep to a safe
 * alphabet rather than write a line dnsmasq reads differently. */
static int check_state_dir(const char *state_dir)
{
	size_t len = state_dir ? strlen(state_dir) : 0;

	if (len == 0 || state_dir[0] != '/')
		return err_set(-EINVAL, "stateDir \"%s\": must be an absolute path",
			       state_dir ? state_dir : "");
	if (strspn(state_dir, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
			      "/._+-@") != len)
		return err_set(-EINVAL, "stateDir \"%s\": dnsmasq needs a path of "
			       "[A-Za-z0-9/._+@-] only", state_dir);
	return 0;
}

static int check_iface(const char *iface)
{
	int r = nl_ifname_validate(iface);

	if (r < 0)
		return r;
	/* the kernel allows these; dnsmasq's option parser would split or cut the line there */
	if (strpbrk(iface, ",#*=\"'\\"))
		return err_set(-EINVAL, "interface name \"%s\": dnsmasq cannot serve a name with "
			       "',', '#', '*', '=', quotes or '\\'", iface);
	return 0;
}

/* aa:bb:cc:dd:ee:ff in either case, to lower case */
static int mac_normalize(const char *mac, char ret[STORE_MAC_MAX])
{
	static const char hex[] = "0123456789abcdef";
	char out[STORE_MAC_MAX];

	if (!mac || strlen(mac) != 17)
		goto bad;
	for (int i = 0; i < 17; i++) {
		char c = mac[i];

		if (i % 3 == 2) {
			if (c != ':')
				goto bad;
			out[i] = ':';
			continue;
		}
		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!strchr(hex, c) || c == '\0')
			goto bad;
		out[i] = c;
	}
	out[17] = '\0';
	memcpy(ret, out, sizeof(out));
	return 0;
bad:
	return err_set(-EINVAL, "MAC \"%s\": must be aa:bb:cc:dd:ee:ff", mac ? mac : "");
}

static bool host_label_ok(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n <= 63 && name[0] != '-' && name[n - 1] != '-' &&
	       strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") == n;
}

/* The whole file, NUL-terminated, in *ret (free()). -ENOENT without a message. */
static int read_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), r = 0;

	if (fd < 0)
		return errno == ENOENT ? -ENOENT : err_set(-errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		r = err_set(-errno, "%s: %s", path, strerror(errno));
		goto errout;
	}
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
		r = err_set(-EINVAL, "%s: not a regular file of at most %zu bytes", path, max);
		goto errout;
	}
	if (!(buf = malloc((size_t)st.st_size + 1))) {
		r = err_set(-ENOMEM, "out of memory");
		goto errout;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = err_set(-errno, "%s: %s", path, strerror(errno));
			goto errout;
		}
		if (n == 0 || (len += (size_t)n) == (size_t)st.st_size)
			break;
	}
	buf[len] = '\0';
	*ret = buf;
	if (ret_len)
		*ret_len = len;
	buf = NULL;
errout:
	free(buf);
	(void)close(fd);
	return r;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return err_set(-errno, "%s: %s", dir, strerror(errno));
	if (fsync(fd) < 0)
		r = err_set(-errno, "%s: fsync: %s", dir, strerror(errno));
	(void)close(fd);
	return r;
}

/* dir/name replaced by buf: temp ".name.XXXXXX" (dnsmasq skips dot files), fsync, rename,
 * fsync of dir. A reader sees the old file or the new one. */
static int write_atomic(const char *dir, const char *name, const char *buf, size_t len,
			mode_t mode)
{
	char tmp[PATH_MAX], final[PATH_MAX];
	int fd, r;

	if ((r = pathf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, name)) < 0 ||
	    (r = pathf(final, sizeof(final), "%s/%s", dir, name)) < 0)
		return r;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return err_set(-errno, "%s: creating a temp file: %s", dir, strerror(errno));
	if (fchmod(fd, mode) < 0 || (r = write_all(fd, buf, len)) < 0 || fsync(fd) < 0) {
		r = r < 0 ? r : -errno;
		(void)close(fd);
		goto fail;
	}
	if (close(fd) < 0) {
		r = -errno;
		goto fail;
	}
	if (rename(tmp, final) < 0) {
		r = -errno;
		goto fail;
	}
	return fsync_dir(dir);
fail:
	(void)unlink(tmp);
	return err_set(r, "%s: %s", final, strerror(-r));
}

/* mkdir (mode, whatever the umask) unless it exists as a directory. */
static int ensure_dir(const char *path, mode_t mode)
{
	struct stat st;

	if (mkdir(path, mode) == 0)
		return chmod(path, mode) < 0 ? err_set(-errno, "%s: chmod: %s", path,
						       strerror(errno)) : 0;
	if (errno != EEXIST)
		return err_set(-errno, "%s: %s", path, strerror(errno));
	if (stat(path, &st) < 0)
		return err_set(-errno, "%s: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return err_set(-ENOTDIR, "%s: not a directory", path);
	return 0;
}

/* The state directory (made 0700 like the store does, parents 0755) with o+x: dnsmasq drops
 * root and must reach state_dir/dhcp-hosts/. Traverse only: nothing in it becomes listable. */
static int ensure_state_dir(const char *state_dir)
{
	char tmp[PATH_MAX];
	struct stat st;
	int r;

	if ((r = pathf(tmp, sizeof(tmp), "%s", state_dir)) < 0)
		return r;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return err_set(-errno, "stateDir %s: creating %s: %s", state_dir, tmp,
				       strerror(errno));
		*p = '/';
	}
	if (mkdir(state_dir, 0700) < 0 && errno != EEXIST)
		return err_set(-errno, "stateDir %s: %s", state_dir, strerror(errno));
	if (stat(state_dir, &st) < 0)
		return err_set(-errno, "stateDir %s: %s", state_dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return err_set(-ENOTDIR, "stateDir %s: not a directory", state_dir);
	if (!(st.st_mode & S_IXOTH) && chmod(state_dir, (st.st_mode & 07777) | S_IXOTH) < 0)
		return err_set(-errno, "stateDir %s: adding o+x for dnsmasq (which runs as "
			       "nobody): %s", state_dir, strerror(errno));
	/* dnsmasq would only log "Permission denied" and serve no reservation at all */
	for (char *p = strrchr(tmp, '/'); p; p = strrchr(tmp, '/')) {
		*p = '\0';
		if (stat(tmp[0] ? tmp : "/", &st) < 0)
			return err_set(-errno, "%s: %s", tmp[0] ? tmp : "/", strerror(errno));
		if (!(st.st_mode & S_IXOTH))
			return err_set(-EACCES, "stateDir %s: dnsmasq (which runs as nobody) cannot "
				       "reach it: %s has mode %04o, needs o+x", state_dir,
				       tmp[0] ? tmp : "/", (unsigned)(st.st_mode & 07777));
	}
	return 0;
}

/* ---- the processes ---- */

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

static int paths_init(const char *state_dir, struct paths *p)
{
	int r = check_state_dir(state_dir);

	if (r < 0)
		return r;
	p->state_dir = state_dir;
	if ((r = pathf(p->dir, sizeof(p->dir), "%s/" SUBDIR, state_dir)) < 0 ||
	    (r = pathf(p->lock, sizeof(p->lock), "%s/lock", p->dir)) < 0 ||
	    (r = pathf(p->conf, sizeof(p->conf), "%s/dnsmasq.conf", p->dir)) < 0 ||
	    (r = pathf(p->set, sizeof(p->set), "%s/interfaces", p->dir)) < 0 ||
	    (r = pathf(p->pid, sizeof(p->pid), "%s/dnsmasq.pid", p->dir)) < 0 ||
	    (r = pathf(p->leases, sizeof(p->leases), "%s/leases", p->dir)) < 0 ||
	    (r = pathf(p->log, sizeof(p->log), "%s/dnsmasq.log", p->dir)) < 0 ||
	    (r = pathf(p->log_old, sizeof(p->log_old), "%s/dnsmasq.log.1", p->dir)) < 0)
		return r;
	return 0;
}

static int lock_take(const struct paths *p, int *ret_fd)
{
	int r, fd;

	if ((r = ensure_state_dir(p->state_dir)) < 0 || (r = ensure_dir(p->dir, 0755)) < 0)
		return r;
	fd = open(p->lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return err_set(-errno, "%s: %s", p->lock, strerror(errno));
	while (flock(fd, LOCK_EX) < 0) {
		if (errno == EINTR)
			continue;
		r = err_set(-errno, "%s: flock: %s", p->lock, strerror(errno));
		(void)close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

static void lock_release(int fd)
{
	if (fd >= 0)
		(void)close(fd);	/* drops the flock */
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static long now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* A /proc file: st_size is 0 there, so read to EOF. 0 bytes read on error. */
static size_t read_proc(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0;
	ssize_t n;

	if (fd < 0) {
		buf[0] = '\0';
		return 0;
	}
	while (len < size - 1 && ((n = read(fd, buf + len, size - 1 - len)) > 0 ||
				  (n < 0 && errno == EINTR)))
		if (n > 0)
			len += (size_t)n;
	(void)close(fd);
	buf[len] = '\0';
	return len;
}

/* A zombie has let go of its sockets and files; nothing reaps a daemon's zombie for us
 * (its parent is init or a subreaper), so kill(pid, 0) alone would call it alive. */
static bool proc_alive(pid_t pid)
{
	char path[64], buf[1024], *rp;

	if (pid <= 0 || (kill(pid, 0) < 0 && errno != EPERM))
		return false;
	(void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!read_proc(path, buf, sizeof(buf)))
		return false;
	rp = strrchr(buf, ')');		/* comm may hold spaces and parentheses */
	return rp && rp[1] == ' ' && rp[2] != 'Z' && rp[2] != 'X' && rp[2] != 'x';
}

/* comm "dnsmasq" and an argument "--conf-file=CONF" (conf NULL: any) */
static bool proc_is_dnsmasq(pid_t pid, const char *conf)
{
	char path[64], want[PATH_MAX + 16], args[8192];
	size_t len;

	(void)snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	if (!read_proc(path, args, sizeof(args)) || strcmp(args, "dnsmasq\n") != 0)
		return false;
	if (!conf)
		return true;
	(void)snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	len = read_proc(path, args, sizeof(args));
	(void)snprintf(want, sizeof(want), "--conf-file=%s", conf);
	for (size_t i = 0; i < len; i += strlen(args + i) + 1)
		if (strcmp(args + i, want) == 0)
			return true;
	return false;
}

static pid_t read_pid(const char *path)
{
	char *buf = NULL, *end;
	long v;

	if (read_file(path, 64, &buf, NULL) < 0) {
		err_clear();
		return 0;
	}
	errno = 0;
	v = strtol(buf, &end, 10);
	if (errno || end == buf || (*end && *end != '\n') || v <= 1 || v > INT_MAX)
		v = 0;
	free(buf);
	return (pid_t)v;
}

static pid_t running_pid(const struct paths *p)
{
	pid_t pid = read_pid(p->pid);

	return pid > 0 && proc_alive(pid) && proc_is_dnsmasq(pid, p->conf) ? pid : 0;
}

static int stop_pid(pid_t pid)
{
	long t0 = now_ms();

	if (kill(pid, SIGTERM) < 0 && errno != ESRCH)
		return err_set(-errno, "stopping dnsmasq (pid %d): %s", (int)pid, strerror(errno));
	while (proc_alive(pid)) {
		if (now_ms() - t0 > STOP_WAIT_MS) {
			(void)kill(pid, SIGKILL);
			sleep_ms(100);
			if (proc_alive(pid))
				return err_set(-ETIMEDOUT, "dnsmasq (pid %d) did not stop",
					       (int)pid);
			break;
		}
		sleep_ms(2);
	}
	return 0;
}

/* Stops pid (0: none) and any other dnsmasq running our configuration: one whose pid file
 * was lost or overwritten would otherwise serve the same links twice. */
static int stop_all(const struct paths *p, pid_t pid)
{
	DIR *d;
	struct dirent *de;
	int r = pid ? stop_pid(pid) : 0;

	if (r < 0)
		return r;
	if (!(d = opendir("/proc")))
		return err_set(-errno, "/proc: %s", strerror(errno));
	while (r == 0 && (de = readdir(d))) {
		char *end;
		long v = strtol(de->d_name, &end, 10);

		if (*end || v <= 1 || v > INT_MAX || v == getpid())
			continue;
		if (proc_alive((pid_t)v) && proc_is_dnsmasq((pid_t)v, p->conf))
			r = stop_pid((pid_t)v);
	}
	(void)closedir(d);
	return r;
}

static const char *find_dnsmasq(void)
{
	const char *env = getenv("V6PD_DNSMASQ");

	if (env && env[0])
		return env;
	for (size_t i = 0; i < sizeof(dnsmasq_paths) / sizeof(dnsmasq_paths[0]); i++)
		if (access(dnsmasq_paths[i], X_OK) == 0)
			return dnsmasq_paths[i];
	return NULL;
}

/* Keeps the log from growing without bound: one old generation, rotated at (re)start. */
static void log_rotate(const struct paths *p)
{
	struct stat st;

	if (stat(p->log, &st) == 0 && st.st_size > LOG_ROTATE_SIZE)
		(void)rename(p->log, p->log_old);
}

/* Runs `dnsmasq --conf-file=CONF`, which daemonises: its first process exits once the daemon
 * is set up (sockets, pid file), with the status and stderr of any startup error. */
static int spawn_dnsmasq(const struct paths *p)
{
	char arg[PATH_MAX + 16], errbuf[1024] = "";
	char *argv[] = { NULL, arg, NULL };
	char *envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	const char *bin = find_dnsmasq();
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int pipefd[2] = { -1, -1 }, r, st = 0;
	pid_t pid;
	long t0;

	if (!bin)
		return err_set(-ENOENT, "dnsmasq is not installed (package dnsmasq-base)");
	argv[0] = (char *)bin;
	(void)snprintf(arg, sizeof(arg), "--conf-file=%s", p->conf);
	log_rotate(p);
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return err_set(-errno, "pipe: %s", strerror(errno));
	(void)sigemptyset(&none);
	(void)sigfillset(&all);
	if ((r = posix_spawn_file_actions_init(&fa)) != 0) {
		r = -r;
		goto out_pipe;
	}
	if ((r = posix_spawnattr_init(&attr)) != 0) {
		r = -r;
		goto out_fa;
	}
	/* stdin/stdout on /dev/null, stderr to us, nothing else inherited: a hook's stdout and
	 * stderr are pipes libvirtd reads to EOF, which a daemon holding them would never give */
	if ((r = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) != 0 ||
	    (r = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0)) != 0 ||
	    (r = posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2)) != 0 ||
	    (r = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) != 0 ||
	    (r = posix_spawnattr_setsigmask(&attr, &none)) != 0 ||
	    (r = posix_spawnattr_setsigdefault(&attr, &all)) != 0 ||
	    (r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
		    != 0) {
		r = err_set(-r, "posix_spawn setup: %s", strerror(r));
		goto out_attr;
	}
	r = posix_spawn(&pid, bin, &fa, &attr, argv, envp);
	if (r != 0) {
		r = err_set(-r, "starting %s: %s", bin, strerror(r));
		goto out_attr;
	}
	(void)close(pipefd[1]);
	pipefd[1] = -1;
	while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
		;
	if (r < 0 && errno != ECHILD) {
		r = err_set(-errno, "waiting for dnsmasq: %s", strerror(errno));
		goto out_attr;
	}
	/* ECHILD: the caller ignores SIGCHLD; the pid file below still tells */
	if (fcntl(pipefd[0], F_SETFL, O_NONBLOCK) == 0) {
		ssize_t n = read(pipefd[0], errbuf, sizeof(errbuf) - 1);

		errbuf[n > 0 ? n : 0] = '\0';
		for (char *c = errbuf; *c; c++)
			if (*c == '\n')
				*c = ' ';
	}
	if (r > 0 && (!WIFEXITED(st) || WEXITSTATUS(st) != 0)) {
		r = err_set(-EIO, "dnsmasq did not start (%s %d):%s%s (config %s)",
			    WIFEXITED(st) ? "exit status" : "signal",
			    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
			    errbuf[0] == ' ' ? "" : " ", errbuf[0] ? errbuf : "no message", p->conf);
		goto out_attr;
	}
	for (t0 = now_ms(); !running_pid(p); sleep_ms(5))
		if (now_ms() - t0 > START_WAIT_MS) {
			r = err_set(-EIO, "dnsmasq exited right after starting (see %s)", p->log);
			goto out_attr;
		}
	r = 0;
out_attr:
	(void)posix_spawnattr_destroy(&attr);
out_fa:
	(void)posix_spawn_file_actions_destroy(&fa);
out_pipe:
	if (pipefd[0] >= 0)
		(void)close(pipefd[0]);
	if (pipefd[1] >= 0)
		(void)close(pipefd[1]);
	return r;
}

/* ---- the served set: state_dir/dnsmasq/interfaces ---- */

struct entry {
	char iface[NL_IFNAMSIZ];
	char network[STORE_NAME_MAX];
	unsigned prefixlen;
	bool off_link;
	struct in6_addr dns[DNSMASQ_DNS_MAX];
	size_t n_dns;
};

struct set {
	struct entry *v;
	size_t n;
};

static bool entry_eq(const struct entry *a, const struct entry *b)
{
	return strcmp(a->iface, b->iface) == 0 && strcmp(a->network, b->network) == 0 &&
	       a->prefixlen == b->prefixlen && a->off_link == b->off_link &&
	       a->n_dns == b->n_dns && memcmp(a->dns, b->dns, a->n_dns * sizeof(a->dns[0])) == 0;
}

static int entry_from_link(const struct dnsmasq_link *l, struct entry *ret)
{
	struct entry e = { 0 };
	int r;

	if (!l)
		return err_set(-EINVAL, "dnsmasq: no interface given");
	if ((r = config_check_name(l->network)) < 0)
		return err_wrap(r, "network");
	if ((r = check_iface(l->iface)) < 0)
		return r;
	if (l->prefixlen < 64 || l->prefixlen > 120)
		return err_set(-EINVAL, "interface \"%s\": prefix length %u: must be 64..120",
			       l->iface, l->prefixlen);
	if (l->n_dns > DNSMASQ_DNS_MAX || (l->n_dns && !l->dns))
		return err_set(-EINVAL, "interface \"%s\": %zu DNS servers: at most %d", l->iface,
			       l->n_dns, DNSMASQ_DNS_MAX);
	(void)snprintf(e.iface, sizeof(e.iface), "%s", l->iface);
	(void)snprintf(e.network, sizeof(e.network), "%s", l->network);
	e.prefixlen = l->prefixlen;
	e.off_link = l->off_link;
	e.n_dns = l->n_dns;
	if (l->n_dns)
		memcpy(e.dns, l->dns, l->n_dns * sizeof(e.dns[0]));
	*ret = e;
	return 0;
}

static int set_add(struct set *s, const struct entry *e)
{
	struct entry *v = realloc(s->v, (s->n + 1) * sizeof(*v));

	if (!v)
		return err_set(-ENOMEM, "out of memory");
	v[s->n++] = *e;
	s->v = v;
	return 0;
}

static int set_copy(const struct set *s, struct set *ret)
{
	struct set c = { 0 };

	if (s->n && !(c.v = malloc(s->n * sizeof(*c.v))))
		return err_set(-ENOMEM, "out of memory");
	if (s->n)
		memcpy(c.v, s->v, s->n * sizeof(*c.v));
	c.n = s->n;
	*ret = c;
	return 0;
}

static ssize_t set_find(const struct set *s, const char *iface)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].iface, iface) == 0)
			return (ssize_t)i;
	return -1;
}

/* One line per interface: IFACE NETWORK PREFIXLEN on-link|off-link DNS,...|- */
static int set_parse_line(char *line, struct entry *ret)
{
	char *f[5], *save = NULL, *save2 = NULL;
	struct dnsmasq_link l = { 0 };
	struct in6_addr a[DNSMASQ_DNS_MAX];
	char *end;
	long len;
	int n = 0;

	for (char *t = strtok_r(line, " ", &save); t; t = strtok_r(NULL, " ", &save))
		if (n < 5)
			f[n++] = t;
		else
			return -EINVAL;
	if (n != 5)
		return -EINVAL;
	errno = 0;
	len = strtol(f[2], &end, 10);
	if (errno || *end || len < 0 || len > 128)
		return -EINVAL;
	l.network = f[1];
	l.iface = f[0];
	l.prefixlen = (unsigned)len;
	if (strcmp(f[3], "off-link") == 0)
		l.off_link = true;
	else if (strcmp(f[3], "on-link") != 0)
		return -EINVAL;
	l.dns = a;
	if (strcmp(f[4], "-") != 0)
		for (char *t = strtok_r(f[4], ",", &save2); t; t = strtok_r(NULL, ",", &save2)) {
			if (l.n_dns == DNSMASQ_DNS_MAX || inet_pton(AF_INET6, t, &a[l.n_dns]) != 1)
				return -EINVAL;
			l.n_dns++;
		}
	return entry_from_link(&l, ret);
}

static int set_read(const struct paths *p, struct set *ret)
{
	struct set s = { 0 };
	char *buf = NULL, *save = NULL;
	unsigned lineno = 0;
	int r = read_file(p->set, STATE_FILE_MAX, &buf, NULL);

	if (r == -ENOENT) {
		*ret = s;
		return 0;
	}
	if (r < 0)
		return r;
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct entry e;

		lineno++;
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if ((r = set_parse_line(line, &e)) < 0) {
			r = err_set(-EINVAL, "%s: line %u is damaged; fix or delete the file",
				    p->set, lineno);
			goto errout;
		}
		if (set_find(&s, e.iface) < 0 && (r = set_add(&s, &e)) < 0)
			goto errout;
	}
	*ret = s;
	s.v = NULL;
errout:
	free(s.v);
	free(buf);
	return r;
}

static int set_write(const struct paths *p, const struct set *s)
{
	struct text t = { 0 };
	int r = text_addf(&t, "# v6pd: the interfaces its dnsmasq serves\n");

	for (size_t i = 0; r == 0 && i < s->n; i++) {
		const struct entry *e = &s->v[i];
		char a[INET6_ADDRSTRLEN];

		r = text_addf(&t, "%s %s %u %s ", e->iface, e->network, e->prefixlen,
			      e->off_link ? "off-link" : "on-link");
		for (size_t k = 0; r == 0 && k < e->n_dns; k++)
			r = text_addf(&t, "%s%s", k ? "," : "",
				      inet_ntop(AF_INET6, &e->dns[k], a, sizeof(a)));
		if (r == 0)
			r = text_addf(&t, "%s\n", e->n_dns ? "" : "-");
	}
	if (r == 0)
		r = write_atomic(p->dir, "interfaces", t.buf, t.len, 0644);
	free(t.buf);
	return r;
}

/* ---- the configuration ---- */

static int conf_write(const struct paths *p, const struct set *s)
{
	struct text t = { 0 };
	char hosts[PATH_MAX], a[INET6_ADDRSTRLEN];
	int r;

	r = text_addf(&t, "# Generated by v6pd for %s; rewritten whenever the set of served "
		      "interfaces changes.\n"
		      "port=0\nno-resolv\nno-hosts\nbind-dynamic\nenable-ra\nquiet-ra\n"
		      "pid-file=%s\ndhcp-leasefile=%s\nlog-facility=%s\n",
		      p->state_dir, p->pid, p->leases, p->log);
	for (size_t i = 0; r == 0 && i < s->n; i++) {
		bool seen = false;

		for (size_t k = 0; k < i; k++)
			seen |= strcmp(s->v[k].network, s->v[i].network) == 0;
		if (seen)
			continue;
		if ((r = dnsmasq_hosts_dir(p->state_dir, s->v[i].network, hosts,
					   sizeof(hosts))) < 0 ||
		    (r = ensure_dir(hosts, 0755)) < 0)
			break;
		r = text_addf(&t, "dhcp-hostsdir=%s\n", hosts);
	}
	for (size_t i = 0; r == 0 && i < s->n; i++) {
		const struct entry *e = &s->v[i];

		/* static: addresses nobody reserved are never handed out; the constructor
		 * follows the interface's addresses, a renumbered slice included */
		r = text_addf(&t, "interface=%s\nra-param=%s,%d,%d\n"
			      "dhcp-range=::,constructor:%s,static%s,%u,%s\n",
			      e->iface, e->iface, RA_INTERVAL, RA_LIFETIME, e->iface,
			      e->off_link ? ",off-link" : "", e->prefixlen, DNSMASQ_LEASE_TIME);
		if (r == 0 && e->n_dns) {
			r = text_addf(&t, "dhcp-option=tag:%s,option6:dns-server", e->iface);
			for (size_t k = 0; r == 0 && k < e->n_dns; k++)
				r = text_addf(&t, ",[%s]",
					      inet_ntop(AF_INET6, &e->dns[k], a, sizeof(a)));
			if (r == 0)
				r = text_addf(&t, "\n");
		}
	}
	if (r == 0)
		r = write_atomic(p->dir, "dnsmasq.conf", t.buf, t.len, 0644);
	free(t.buf);
	return r;
}

/* Moves dnsmasq from serving old to serving new (pid: the running one, 0 for none). On
 * failure the old configuration is put back and started again, and the message is that of
 * the failure. */
static int apply(const struct paths *p, const struct set *old, const struct set *new, pid_t pid)
{
	int r;

	if ((r = conf_write(p, new)) < 0)
		return r;
	if ((r = stop_all(p, pid)) < 0)
		return r;
	if (new->n == 0)
		return 0;
	if ((r = spawn_dnsmasq(p)) == 0)
		return 0;
	{
		char msg[1024];

		(void)snprintf(msg, sizeof(msg), "%s", err_msg(r));
		if (old->n && conf_write(p, old) == 0)
			(void)spawn_dnsmasq(p);
		return err_set(r, "%s", msg);
	}
}

/* ---- public ---- */

int dnsmasq_hosts_dir(const char *state_dir, const char *network, char *buf, size_t size)
{
	int r;

	if ((r = check_state_dir(state_dir)) < 0)
		return r;
	if ((r = config_check_name(network)) < 0)
		return err_wrap(r, "network");
	return pathf(buf, size, "%s/" HOSTS_SUBDIR "/%s", state_dir, network);
}

static int hosts_dir_ensure(const char *state_dir, const char *network, char *buf, size_t size)
{
	char top[PATH_MAX];
	int r;

	if ((r = dnsmasq_hosts_dir(state_dir, network, buf, size)) < 0 ||
	    (r = ensure_state_dir(state_dir)) < 0 ||
	    (r = pathf(top, sizeof(top), "%s/" HOSTS_SUBDIR, state_dir)) < 0 ||
	    (r = ensure_dir(top, 0755)) < 0)
		return r;
	return ensure_dir(buf, 0755);
}

int dnsmasq_hosts_dir_ensure(const char *state_dir, const char *network, char *buf,
			     size_t size)
{
	return hosts_dir_ensure(state_dir, network, buf, size);
}

/* SIGHUP to our dnsmasq, when one runs: it drops records of changed or removed files. */
static void hup(const char *state_dir)
{
	struct paths p;
	pid_t pid;

	if (paths_init(state_dir, &p) < 0) {
		err_clear();
		return;
	}
	if ((pid = running_pid(&p)) > 0)
		(void)kill(pid, SIGHUP);
}

int dnsmasq_host_put(const char *state_dir, const char *network, const char *mac,
		     const struct in6_addr *addr, const char *name)
{
	char dir[PATH_MAX], path[PATH_MAX], m[STORE_MAC_MAX], a[INET6_ADDRSTRLEN], line[400];
	char *old = NULL;
	bool existed;
	int r;

	if ((r = mac_normalize(mac, m)) < 0)
		return r;
	if (!addr)
		return err_set(-EINVAL, "reservation for %s: no address", m);
	if ((r = hosts_dir_ensure(state_dir, network, dir, sizeof(dir))) < 0 ||
	    (r = pathf(path, sizeof(path), "%s/%s", dir, m)) < 0)
		return r;
	(void)inet_ntop(AF_INET6, addr, a, sizeof(a));
	(void)snprintf(line, sizeof(line), "%s,[%s]%s%s\n", m, a, name && host_label_ok(name) ?
		       "," : "", name && host_label_ok(name) ? name : "");
	r = read_file(path, HOST_FILE_MAX, &old, NULL);
	if (r < 0 && r != -ENOENT)
		return r;
	existed = r == 0;
	if (existed && strcmp(old, line) == 0) {
		free(old);
		return 0;
	}
	free(old);
	if ((r = write_atomic(dir, m, line, strlen(line), 0644)) < 0)
		return r;
	if (existed)
		hup(state_dir);
	return 0;
}

/* The address of a reservation line "mac,[addr]..." */
static int host_line_addr(const char *line, struct in6_addr *ret)
{
	const char *b = strchr(line, '['), *e = b ? strchr(b, ']') : NULL;
	char a[INET6_ADDRSTRLEN];

	if (!b || !e || (size_t)(e - b - 1) >= sizeof(a))
		return -EINVAL;
	memcpy(a, b + 1, (size_t)(e - b - 1));
	a[e - b - 1] = '\0';
	return inet_pton(AF_INET6, a, ret) == 1 ? 0 : -EINVAL;
}

/* Counts (dry) or drops the DHCPv6 leases on addr in dnsmasq's lease file: lines
 * "EXPIRY IAID ADDR NAME CLIENT-ID" after "duid SERVER-DUID"; IPv4 lines have a MAC in the
 * second field and never parse as an IPv6 address in the third. */
static int leases_drop(const struct paths *p, const struct in6_addr *addr, bool dry)
{
	struct text t = { 0 };
	char *buf = NULL, *save = NULL;
	int r = read_file(p->leases, LEASE_FILE_MAX, &buf, NULL), found = 0;

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	for (char *line = strtok_r(buf, "\n", &save); line && r == 0;
	     line = strtok_r(NULL, "\n", &save)) {
		char copy[512], *f[3] = { 0 }, *s2 = NULL;
		struct in6_addr a;
		int n = 0;

		(void)snprintf(copy, sizeof(copy), "%s", line);
		for (char *tok = strtok_r(copy, " ", &s2); tok && n < 3; tok = strtok_r(NULL, " ", &s2))
			f[n++] = tok;
		if (n == 3 && inet_pton(AF_INET6, f[2], &a) == 1 &&
		    memcmp(&a, addr, sizeof(a)) == 0) {
			found++;
			continue;
		}
		if (!dry)
			r = text_addf(&t, "%s\n", line);
	}
	if (r == 0 && !dry && found)
		r = write_atomic(p->dir, "leases", t.buf ? t.buf : "", t.len, 0644);
	free(t.buf);
	free(buf);
	return r < 0 ? r : found;
}

int dnsmasq_host_remove(const char *state_dir, const char *network, const char *mac)
{
	char dir[PATH_MAX], path[PATH_MAX], m[STORE_MAC_MAX];
	struct in6_addr addr;
	struct paths p;
	struct set s = { 0 };
	char *line = NULL;
	bool have_addr;
	int r, fd = -1;
	pid_t pid;

	if ((r = mac_normalize(mac, m)) < 0 ||
	    (r = dnsmasq_hosts_dir(state_dir, network, dir, sizeof(dir))) < 0 ||
	    (r = pathf(path, sizeof(path), "%s/%s", dir, m)) < 0 || (r = paths_init(state_dir, &p)) < 0)
		return r;
	r = read_file(path, HOST_FILE_MAX, &line, NULL);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	have_addr = host_line_addr(line, &addr) == 0;
	free(line);
	if (unlink(path) < 0)
		return errno == ENOENT ? 0 : err_set(-errno, "%s: %s", path, strerror(errno));
	if ((r = fsync_dir(dir)) < 0)
		return r;
	if (!have_addr) {
		hup(state_dir);
		return 1;
	}
	if ((r = lock_take(&p, &fd)) < 0)
		return r;
	pid = running_pid(&p);
	if ((r = leases_drop(&p, &addr, true)) <= 0) {
		if (r == 0 && pid)
			(void)kill(pid, SIGHUP);
		goto out;
	}
	/* dnsmasq keeps its leases in memory and rewrites the file from them: stop it first */
	if ((r = stop_all(&p, pid)) < 0 || (r = leases_drop(&p, &addr, false)) < 0 ||
	    (r = set_read(&p, &s)) < 0)
		goto out;
	if (s.n && (r = spawn_dnsmasq(&p)) < 0)
		goto out;
	r = 0;
out:
	free(s.v);
	lock_release(fd);
	return r < 0 ? r : 1;
}

int dnsmasq_serve_link(const char *state_dir, const struct dnsmasq_link *l)
{
	struct set old = { 0 }, new = { 0 };
	struct entry e;
	struct paths p;
	char hosts[PATH_MAX];
	ssize_t i;
	pid_t pid;
	int r, fd = -1;

	if ((r = entry_from_link(l, &e)) < 0 || (r = paths_init(state_dir, &p)) < 0 ||
	    (r = hosts_dir_ensure(state_dir, e.network, hosts, sizeof(hosts))) < 0 ||
	    (r = lock_take(&p, &fd)) < 0)
		return r;
	if ((r = set_read(&p, &old)) < 0)
		goto out;
	pid = running_pid(&p);
	i = set_find(&old, e.iface);
	if (i >= 0 && entry_eq(&old.v[i], &e) && pid)
		goto out;
	if ((r = set_copy(&old, &new)) < 0)
		goto out;
	if (i >= 0)
		new.v[i] = e;
	else if ((r = set_add(&new, &e)) < 0)
		goto out;
	if ((r = apply(&p, &old, &new, pid)) < 0)
		goto out;
	r = set_write(&p, &new);
out:
	free(old.v);
	free(new.v);
	lock_release(fd);
	return r;
}

/* prefixlen of the first global address on iface; 0 when it has none (or does not exist) */
static int iface_prefixlen(const char *iface, unsigned *ret)
{
	struct ifaddrs *ifa = NULL;
	unsigned len = 0;

	if (getifaddrs(&ifa) < 0)
		return err_set(-errno, "getifaddrs: %s", strerror(errno));
	for (struct ifaddrs *i = ifa; i && !len; i = i->ifa_next) {
		const struct in6_addr *a, *m;

		if (!i->ifa_addr || !i->ifa_netmask || i->ifa_addr->sa_family != AF_INET6 ||
		    strcmp(i->ifa_name, iface) != 0)
			continue;
		a = &((const struct sockaddr_in6 *)(const void *)i->ifa_addr)->sin6_addr;
		m = &((const struct sockaddr_in6 *)(const void *)i->ifa_netmask)->sin6_addr;
		if (IN6_IS_ADDR_LINKLOCAL(a) || IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_MULTICAST(a))
			continue;
		for (int b = 0; b < 128; b++)
			if (m->s6_addr[b / 8] & (0x80 >> (b % 8)))
				len++;
	}
	freeifaddrs(ifa);
	*ret = len;
	return 0;
}

int dnsmasq_serve(const char *state_dir, const char *network, const char *iface)
{
	struct dnsmasq_link l = { .network = network, .iface = iface, .prefixlen = 64 };
	char path[64 + NL_IFNAMSIZ];
	struct stat st;
	unsigned len = 0;
	int r;

	if ((r = check_iface(iface)) < 0 || (r = iface_prefixlen(iface, &len)) < 0)
		return r;
	if (len)
		l.prefixlen = len;
	(void)snprintf(path, sizeof(path), "/sys/class/net/%s/bridge", iface);
	l.off_link = stat(path, &st) < 0;
	return dnsmasq_serve_link(state_dir, &l);
}

int dnsmasq_unserve(const char *state_dir, const char *iface)
{
	struct set old = { 0 }, new = { 0 };
	struct paths p;
	ssize_t i;
	pid_t pid;
	int r, fd = -1;

	if ((r = check_iface(iface)) < 0 || (r = paths_init(state_dir, &p)) < 0 ||
	    (r = lock_take(&p, &fd)) < 0)
		return r;
	if ((r = set_read(&p, &old)) < 0 || (i = set_find(&old, iface)) < 0)
		goto out;
	if ((r = set_copy(&old, &new)) < 0)
		goto out;
	new.v[i] = new.v[--new.n];
	pid = running_pid(&p);
	if ((r = apply(&p, &old, &new, pid)) < 0)
		goto out;
	r = set_write(&p, &new);
out:
	free(old.v);
	free(new.v);
	lock_release(fd);
	return r;
}

int dnsmasq_pid(const char *state_dir)
{
	struct paths p;
	int r = paths_init(state_dir, &p);

	return r < 0 ? r : (int)running_pid(&p);
}

int dnsmasq_stop(const char *state_dir)
{
	struct set none = { 0 };
	struct paths p;
	pid_t pid;
	int r, fd = -1;

	if ((r = paths_init(state_dir, &p)) < 0)
		return r;
	if (access(p.dir, F_OK) < 0)
		return 0;
	if ((r = lock_take(&p, &fd)) < 0)
		return r;
	pid = running_pid(&p);
	if ((r = stop_all(&p, pid)) == 0 && (r = set_write(&p, &none)) == 0)
		r = pid ? 1 : 0;
	lock_release(fd);
	return r;
}

int dnsmasq_reload(const char *pid_file)
{
	pid_t pid = pid_file ? read_pid(pid_file) : 0;

	if (!pid || !proc_alive(pid) || !proc_is_dnsmasq(pid, NULL))
		return 0;
	if (kill(pid, SIGHUP) < 0)
		return errno == ESRCH ? 0 : err_set(-errno, "SIGHUP to dnsmasq (pid %d): %s",
						    (int)pid, strerror(errno));
	return 1;
}
