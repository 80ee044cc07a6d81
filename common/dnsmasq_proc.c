/* dnsmasq_proc: the lock, and starting, finding and stopping the v6pd dnsmasq. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dnsmasq_int.h"
#include "err.h"
#include "tenv.h"

#define LOG_ROTATE_SIZE (1 << 20)
#define STOP_WAIT_MS 5000
#define START_WAIT_MS 3000

static const char *const dnsmasq_paths[] = {
	"/usr/sbin/dnsmasq", "/usr/local/sbin/dnsmasq", "/sbin/dnsmasq",
};

int dm_paths_init(const char *state_dir, struct paths *p)
{
	int r = dm_check_state_dir(state_dir);

	if (r < 0)
		return r;
	p->state_dir = state_dir;
	if ((r = dm_pathf(p->dir, sizeof(p->dir), "%s/" DM_SUBDIR, state_dir)) < 0 ||
	    (r = dm_pathf(p->lock, sizeof(p->lock), "%s/lock", p->dir)) < 0 ||
	    (r = dm_pathf(p->conf, sizeof(p->conf), "%s/dnsmasq.conf", p->dir)) < 0 ||
	    (r = dm_pathf(p->set, sizeof(p->set), "%s/interfaces", p->dir)) < 0 ||
	    (r = dm_pathf(p->pid, sizeof(p->pid), "%s/dnsmasq.pid", p->dir)) < 0 ||
	    (r = dm_pathf(p->leases, sizeof(p->leases), "%s/leases", p->dir)) < 0 ||
	    (r = dm_pathf(p->log, sizeof(p->log), "%s/dnsmasq.log", p->dir)) < 0 ||
	    (r = dm_pathf(p->log_old, sizeof(p->log_old), "%s/dnsmasq.log.1", p->dir)) < 0)
		return r;
	return 0;
}

int dm_lock_take(const struct paths *p, int *ret_fd)
{
	int r, fd;

	/* The directories exist (and the state directory's mode was checked) once the lock
	 * file does: a hook call that stops a VM looks no further than it. */
	fd = open(p->lock, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT) {
		if ((r = dm_ensure_state_dir(p->state_dir)) < 0 ||
		    (r = dm_ensure_dir(p->dir, 0755)) < 0)
			return r;
		fd = open(p->lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	}
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

void dm_lock_release(int fd)
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
bool dm_proc_alive(pid_t pid)
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
bool dm_proc_is_dnsmasq(pid_t pid, const char *conf)
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

pid_t dm_read_pid(const char *path)
{
	char *buf = NULL, *end;
	long v;

	if (dm_read_file(path, 64, &buf, NULL) < 0) {
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

pid_t dm_running_pid(const struct paths *p)
{
	pid_t pid = dm_read_pid(p->pid);

	return pid > 0 && dm_proc_alive(pid) && dm_proc_is_dnsmasq(pid, p->conf) ? pid : 0;
}

static int stop_pid(pid_t pid)
{
	long t0 = now_ms();

	if (kill(pid, SIGTERM) < 0 && errno != ESRCH)
		return err_set(-errno, "stopping dnsmasq (pid %d): %s", (int)pid, strerror(errno));
	while (dm_proc_alive(pid)) {
		if (now_ms() - t0 > STOP_WAIT_MS) {
			(void)kill(pid, SIGKILL);
			sleep_ms(100);
			if (dm_proc_alive(pid))
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
int dm_stop_all(const struct paths *p, pid_t pid)
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
		if (dm_proc_alive((pid_t)v) && dm_proc_is_dnsmasq((pid_t)v, p->conf))
			r = stop_pid((pid_t)v);
	}
	(void)closedir(d);
	return r;
}

static const char *find_dnsmasq(void)
{
	const char *env = tenv_get("V6PD_DNSMASQ");

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
int dm_spawn_dnsmasq(const struct paths *p)
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
	for (t0 = now_ms(); !dm_running_pid(p); sleep_ms(5))
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

int dm_detach(int keep_fd)
{
	pid_t pid = fork();
	int st = 0, fd;

	if (pid < 0)
		return err_set(-errno, "fork: %s", strerror(errno));
	if (pid > 0) {
		while (waitpid(pid, &st, 0) < 0) {
			if (errno == ECHILD)	/* SIGCHLD ignored: reaped already */
				return 0;
			if (errno != EINTR)
				return err_set(-errno, "waitpid: %s", strerror(errno));
		}
		return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0
							     : err_set(-ECHILD, "the worker did not start");
	}
	/* the middle process: a session of its own, then the worker, which init adopts */
	if (setsid() < 0 || (pid = fork()) < 0)
		_exit(1);
	if (pid > 0)
		_exit(0);
	if ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0 || dup2(fd, 0) < 0 ||
	    dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
		_exit(1);
	if (keep_fd > 3)
		(void)close_range(3, (unsigned)keep_fd - 1, 0);
	(void)close_range(keep_fd >= 3 ? (unsigned)keep_fd + 1 : 3, ~0U, 0);
	return 1;
}
