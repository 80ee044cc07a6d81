/* Running the PowerDNS backend's HTTP exchanges in the helper v6pd-dns-http (dns.h,
 * dns_http.h). First choice: the lingering helper of the store's state directory, connected
 * to over its socket, and started when none answers there (it takes a few ms to load
 * libcurl, once per burst of calls). Else, or when that one cannot be had, a helper for this
 * call alone, over a socketpair that is its stdin and stdout. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "dns.h"
#include "dns_http.h"
#include "err.h"
#include "tenv.h"


/* The helper's loading (libcurl and its libraries) on top of the exchanges' own timeout. */
#define START_SLACK_MS 2000
/* How long a call looks for the lingering helper (its socket appears ~1 ms after its start)
 * before it runs a helper of its own. */
#define CONNECT_MS 1000
#define SPAWNS_MAX 3
#define ANSWER_MAX (1u << 20)

/* What dns_pdns_helper_prestart() got ready for the next call. */
static struct {
	int fd;			/* connected to the lingering helper at path, or to helper pid */
	pid_t pid;		/* a helper for one call, ours to reap */
	pid_t daemon;		/* a lingering helper this process started (reaped if it ends) */
	char path[DNS_HTTP_SOCKET_MAX];
} pre = { -1, -1, -1, "" };
static pthread_mutex_t pre_mu = PTHREAD_MUTEX_INITIALIZER;	/* pre.daemon */

/* The helper beside this binary (a build tree), else where the install target puts it. */
static int find_helper(char *buf, size_t size)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n > 0) {
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			if ((size_t)snprintf(buf, size, "%s/%s", self, DNS_HTTP_HELPER) < size &&
			    access(buf, X_OK) == 0)
				return 0;
		}
	}
	(void)snprintf(buf, size, "%s/%s", V6PD_HELPER_DIR, DNS_HTTP_HELPER);
	if (access(buf, X_OK) == 0)
		return 0;
	return err_set(-ENOENT, "powerdns: %s is neither beside this program nor in %s",
		       DNS_HTTP_HELPER, V6PD_HELPER_DIR);
}

/* Runs the helper with stdin and stdout on io (-1: /dev/null), stderr on /dev/null, every
 * signal at its default and unblocked (the DNS thread that calls this blocks them all), in a
 * session of its own when setsid. */
static int spawn(char *const argv[], int io, bool setsid, pid_t *ret_pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int r;

	if ((r = posix_spawn_file_actions_init(&fa)) != 0)
		return err_set(-r, "powerdns: %s", strerror(r));
	if ((r = posix_spawnattr_init(&attr)) != 0) {
		(void)posix_spawn_file_actions_destroy(&fa);
		return err_set(-r, "powerdns: %s", strerror(r));
	}
	(void)sigemptyset(&none);
	(void)sigfillset(&all);
	(void)posix_spawnattr_setsigmask(&attr, &none);
	(void)posix_spawnattr_setsigdefault(&attr, &all);
	(void)posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
					      (setsid ? POSIX_SPAWN_SETSID : 0));
	if (io >= 0) {
		(void)posix_spawn_file_actions_adddup2(&fa, io, STDIN_FILENO);
		(void)posix_spawn_file_actions_adddup2(&fa, io, STDOUT_FILENO);
	} else {
		(void)posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
		(void)posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	}
	(void)posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
	r = posix_spawn(ret_pid, argv[0], &fa, &attr, argv, (char **)tenv_environ());
	(void)posix_spawnattr_destroy(&attr);
	(void)posix_spawn_file_actions_destroy(&fa);
	if (r != 0)
		return err_set(-r, "powerdns: running %s: %s", argv[0], strerror(r));
	return 0;
}

/* ---- a helper for one call ---- */

static int helper_start(int *ret_fd, pid_t *ret_pid)
{
	char path[PATH_MAX];
	char *argv[] = { path, NULL };
	int sv[2], r;

	if ((r = find_helper(path, sizeof(path))) < 0)
		return r;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return err_set(-errno, "powerdns: socketpair: %s", strerror(errno));
	r = spawn(argv, sv[1], false, ret_pid);
	(void)close(sv[1]);
	if (r < 0) {
		(void)close(sv[0]);
		return r;
	}
	*ret_fd = sv[0];
	return 0;
}

/* Ends a helper of one call: kill (when it may still run), reap. Returns its wait status. */
static int helper_end(pid_t pid, bool kill_it)
{
	int status = 0;

	if (pid <= 0)
		return 0;
	if (kill_it)
		(void)kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return status;
}

/* ---- the lingering helper ---- */

/* Whether calls for state_dir go to a lingering helper, and its socket. */
static bool lingering(const char *state_dir, char path[DNS_HTTP_SOCKET_MAX])
{
	return state_dir && dns_http_idle_seconds() > 0 &&
	       dns_http_socket_path(state_dir, path, DNS_HTTP_SOCKET_MAX) == 0;
}

/* Connects to path: 0 and *ret_fd, or -ENOENT / -ECONNREFUSED (nobody there: a helper may
 * be started), -EAGAIN (its queue is full), another negative errno (not to be used). The
 * helper must run as root or as us. No message. */
static int daemon_connect(const char *path, int *ret_fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ucred cr;
	socklen_t len = sizeof(cr);
	int fd, r;

	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		(void)close(fd);
		return r;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 ||
	    (cr.uid != 0 && cr.uid != geteuid())) {
		(void)close(fd);
		return -EPERM;
	}
	*ret_fd = fd;
	return 0;
}

/* Starts a lingering helper for path (it makes itself at home: session, descriptors). */
static int daemon_spawn(const char *path, pid_t *ret_pid)
{
	char helper[PATH_MAX], sock[DNS_HTTP_SOCKET_MAX];
	char *argv[] = { helper, "--serve", sock, NULL };
	int r;

	if ((r = find_helper(helper, sizeof(helper))) < 0)
		return r;
	(void)snprintf(sock, sizeof(sock), "%s", path);
	return spawn(argv, -1, true, ret_pid);
}

/* Whether a lingering helper this process started has ended (reaped now). One that lost
 * the race for the socket to another ends at once. */
static bool daemon_ended(pid_t pid)
{
	return pid <= 0 || waitpid(pid, NULL, WNOHANG) != 0;
}

static bool nobody_there(int r)
{
	return r == -ENOENT || r == -ECONNREFUSED || r == -EAGAIN;
}

/* A connection to the lingering helper at path, starting one when nobody answers there,
 * before deadline. */
static int daemon_open(const char *path, int64_t deadline, int *ret_fd)
{
	struct timespec pause = { 0, 200000 };
	int spawns = 0, r;

	while ((r = daemon_connect(path, ret_fd)) < 0 && nobody_there(r)) {
		bool stop = false;

		/* pre.daemon is the process's: the DNS threads of the requests a plugin server
		 * runs at once share it */
		(void)pthread_mutex_lock(&pre_mu);
		if (r != -EAGAIN && daemon_ended(pre.daemon)) {
			pre.daemon = -1;
			stop = spawns++ == SPAWNS_MAX || daemon_spawn(path, &pre.daemon) < 0;
		}
		(void)pthread_mutex_unlock(&pre_mu);
		if (stop)
			break;
		if (linger_now_ms() >= deadline)
			return -ETIMEDOUT;
		(void)nanosleep(&pause, NULL);
		if (pause.tv_nsec < 4000000)
			pause.tv_nsec *= 2;
	}
	return r;
}

/* ---- the exchange ---- */

static char *request_text(struct dns_http_req *reqs, size_t n, const char *api_key,
			  unsigned timeout_ms)
{
	json_t *list = json_array(), *o;
	char *text;

	for (size_t i = 0; list && i < n; i++)
		if (json_array_append_new(list, json_pack("{s:s, s:s}", "url", reqs[i].url, "body",
							  reqs[i].body)) < 0) {
			json_decref(list);
			return NULL;
		}
	o = list ? json_pack("{s:s, s:I, s:o}", "apiKey", api_key, "timeoutMs",
			     (json_int_t)timeout_ms, "requests", list)
		 : NULL;
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return text;
}

/* Sends the request, then reads the answer to EOF: *ret (free()), "" when none came. */
static int exchange(int fd, const char *req, int64_t deadline, char **ret)
{
	size_t len;
	int r = linger_send_all(fd, req, strlen(req), deadline);

	/* a helper that could not start up may have answered and gone already */
	if (r == 0 || r == -EPIPE || r == -ECONNRESET) {
		(void)shutdown(fd, SHUT_WR);
		r = linger_recv_all(fd, ANSWER_MAX, deadline, ret, &len);
	}
	if (r == -ECONNRESET && (*ret = strdup("")))
		r = 0;
	return r;
}

static void copy_text(char *dst, size_t size, const json_t *v)
{
	const char *s = json_string_value(v);

	(void)snprintf(dst, size, "%s", s ? s : "");
}

static int read_answer(const char *text, int status, struct dns_http_req *reqs, size_t n)
{
	json_t *j = json_loads(text, 0, NULL), *res, *e;
	const char *msg;
	size_t i;
	int r = 0;

	if (!j && WIFSIGNALED(status))
		return err_set(-EIO, "powerdns: %s was killed by signal %d", DNS_HTTP_HELPER,
			       WTERMSIG(status));
	if (!j)
		return err_set(-EBADMSG, "powerdns: %s exited %d without an answer (%s)",
			       DNS_HTTP_HELPER, WEXITSTATUS(status), text[0] ? "not JSON" : "nothing");
	if ((msg = json_string_value(json_object_get(j, "error")))) {
		r = err_set(-EIO, "%s", msg);
		goto out;
	}
	res = json_object_get(j, "results");
	if (json_array_size(res) != n) {
		r = err_set(-EBADMSG, "powerdns: %s answered %zu results for %zu requests",
			    DNS_HTTP_HELPER, json_array_size(res), n);
		goto out;
	}
	json_array_foreach(res, i, e) {
		reqs[i].err = (int)json_integer_value(json_object_get(e, "err"));
		reqs[i].status = (long)json_integer_value(json_object_get(e, "status"));
		copy_text(reqs[i].err_text, sizeof(reqs[i].err_text), json_object_get(e, "errText"));
		copy_text(reqs[i].reply, sizeof(reqs[i].reply), json_object_get(e, "reply"));
	}
out:
	json_decref(j);
	return r;
}

static int timed_out(unsigned timeout_ms)
{
	return err_set(-ETIMEDOUT, "powerdns: %s did not answer within %u ms", DNS_HTTP_HELPER,
		       timeout_ms + START_SLACK_MS);
}

/* The lingering helper's answer in *ret: 0; -ETIMEDOUT (message set): no time is left;
 * another negative errno: none to be had, or it went without answering. */
static int via_daemon(const char *path, const char *req, int64_t deadline, unsigned timeout_ms,
		      char **ret)
{
	int64_t connect_by = linger_now_ms() + CONNECT_MS;
	int fd = -1, r;

	if (pre.fd >= 0 && pre.pid < 0 && strcmp(pre.path, path) == 0) {
		fd = pre.fd;
		pre.fd = -1;
	} else if (daemon_open(path, connect_by < deadline ? connect_by : deadline, &fd) < 0) {
		return -ENOENT;
	}
	r = exchange(fd, req, deadline, ret);
	(void)close(fd);
	if (r == -ETIMEDOUT)
		return timed_out(timeout_ms);
	if (r == 0 && !(*ret)[0]) {
		free(*ret);
		*ret = NULL;
		r = -ECONNRESET;
	}
	return r;
}

int dns_pdns_via_helper(struct dns_http_req *reqs, size_t n, const char *api_key,
			unsigned timeout_ms, const char *state_dir)
{
	int64_t deadline = linger_now_ms() + timeout_ms + START_SLACK_MS;
	char path[DNS_HTTP_SOCKET_MAX], *req, *answer = NULL;
	int fd = -1, r, status;
	pid_t pid = -1;

	req = request_text(reqs, n, api_key, timeout_ms);
	if (!req)
		return err_set(-ENOMEM, "out of memory");
	r = lingering(state_dir, path) ? via_daemon(path, req, deadline, timeout_ms, &answer)
				       : -ENOENT;
	if (r == 0 || r == -ETIMEDOUT)
		goto out;
	/* a helper of this call's own */
	if (pre.pid > 0) {
		fd = pre.fd;
		pid = pre.pid;
		pre.fd = -1;
		pre.pid = -1;
	} else if ((r = helper_start(&fd, &pid)) < 0) {
		goto out;
	}
	r = exchange(fd, req, deadline, &answer);
	(void)close(fd);
	status = helper_end(pid, r < 0);
	if (r == -ETIMEDOUT)
		r = timed_out(timeout_ms);
	else if (r < 0)
		r = err_set(r, "powerdns: talking to %s: %s", DNS_HTTP_HELPER, strerror(-r));
	else
		r = read_answer(answer, status, reqs, n);
	free(answer);
	answer = NULL;
out:
	explicit_bzero(req, strlen(req));
	free(req);
	if (answer) {
		r = read_answer(answer, 0, reqs, n);
		free(answer);
	}
	return r;
}

static atomic_bool prestart_off;

void dns_pdns_helper_prestart_off(void)
{
	prestart_off = true;
}

void dns_pdns_helper_prestart(const char *state_dir)
{
	char path[DNS_HTTP_SOCKET_MAX];
	int r;

	if (prestart_off || pre.fd >= 0)
		return;
	if (lingering(state_dir, path)) {
		r = daemon_connect(path, &pre.fd);
		if (r == 0 || (nobody_there(r) && daemon_spawn(path, &pre.daemon) == 0)) {
			(void)snprintf(pre.path, sizeof(pre.path), "%s", path);
			return;
		}
		err_clear();
	}
	if (helper_start(&pre.fd, &pre.pid) < 0)
		err_clear();
}

void dns_pdns_helper_release(void)
{
	if (pre.fd >= 0)
		(void)close(pre.fd);
	(void)helper_end(pre.pid, true);
	(void)pthread_mutex_lock(&pre_mu);
	if (daemon_ended(pre.daemon))
		pre.daemon = -1;
	(void)pthread_mutex_unlock(&pre_mu);
	pre.fd = -1;
	pre.pid = -1;
}
