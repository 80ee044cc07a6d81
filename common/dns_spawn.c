/* Running the PowerDNS backend's HTTP exchanges in the helper v6pd-dns-http (dns.h): one
 * request per helper, over a socketpair that is the helper's stdin and stdout (send() with
 * MSG_NOSIGNAL: a helper that died cannot kill its parent with SIGPIPE). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "dns.h"
#include "dns_http.h"
#include "err.h"

extern char **environ;

/* The helper's loading (libcurl and its libraries) on top of the exchanges' own timeout. */
#define START_SLACK_MS 2000
#define ANSWER_MAX (1u << 20)

struct helper {
	pid_t pid;
	int fd;
};

static struct helper prestarted = { -1, -1 };

static int64_t now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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

static int helper_start(struct helper *h)
{
	char path[PATH_MAX];
	char *argv[] = { path, NULL };
	posix_spawn_file_actions_t fa;
	int sv[2], r;

	if ((r = find_helper(path, sizeof(path))) < 0)
		return r;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return err_set(-errno, "powerdns: socketpair: %s", strerror(errno));
	if ((r = posix_spawn_file_actions_init(&fa)) != 0) {
		(void)close(sv[0]);
		(void)close(sv[1]);
		return err_set(-r, "powerdns: %s", strerror(r));
	}
	(void)posix_spawn_file_actions_adddup2(&fa, sv[1], STDIN_FILENO);
	(void)posix_spawn_file_actions_adddup2(&fa, sv[1], STDOUT_FILENO);
	(void)posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
	r = posix_spawn(&h->pid, path, &fa, NULL, argv, environ);
	(void)posix_spawn_file_actions_destroy(&fa);
	(void)close(sv[1]);
	if (r != 0) {
		(void)close(sv[0]);
		h->pid = -1;
		return err_set(-r, "powerdns: running %s: %s", path, strerror(r));
	}
	h->fd = sv[0];
	return 0;
}

/* Ends h: kill (when it may still run), close, reap. Returns its wait status (0 when it
 * was not running). */
static int helper_end(struct helper *h, bool kill_it)
{
	int status = 0;

	if (h->fd >= 0)
		(void)close(h->fd);
	if (h->pid > 0) {
		if (kill_it)
			(void)kill(h->pid, SIGKILL);
		while (waitpid(h->pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	h->pid = -1;
	h->fd = -1;
	return status;
}

void dns_pdns_helper_prestart(void)
{
	if (prestarted.pid < 0 && helper_start(&prestarted) < 0)
		err_clear();
}

void dns_pdns_helper_release(void)
{
	(void)helper_end(&prestarted, true);
}

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

static int send_all(int fd, const char *buf, size_t len, int64_t deadline)
{
	while (len > 0) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		int64_t left = deadline - now_ms();
		ssize_t k;

		if (left <= 0 || poll(&p, 1, (int)left) == 0)
			return -ETIMEDOUT;
		k = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (k < 0)
			return -errno;
		buf += k;
		len -= (size_t)k;
	}
	return 0;
}

/* Reads to EOF; *ret (free()) gets the text. */
static int recv_all(int fd, char **ret, int64_t deadline)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap), *nb;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - now_ms();
		ssize_t k;

		if (left <= 0 || poll(&p, 1, (int)left) == 0) {
			free(buf);
			return -ETIMEDOUT;
		}
		if (len + 1 == cap) {
			nb = cap < ANSWER_MAX ? realloc(buf, cap * 2) : NULL;
			if (!nb) {
				free(buf);
				return -EMSGSIZE;
			}
			buf = nb;
			cap *= 2;
		}
		k = recv(fd, buf + len, cap - 1 - len, MSG_DONTWAIT);
		if (k < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (k < 0) {
			int e = -errno;

			free(buf);
			return e;
		}
		if (k == 0)
			break;
		len += (size_t)k;
	}
	buf[len] = '\0';
	*ret = buf;
	return 0;
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

int dns_pdns_via_helper(struct dns_http_req *reqs, size_t n, const char *api_key,
			unsigned timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms + START_SLACK_MS;
	struct helper h = prestarted;
	char *req = NULL, *answer = NULL;
	int r, status;

	prestarted = (struct helper){ -1, -1 };
	if (h.pid < 0 && (r = helper_start(&h)) < 0)
		return r;
	req = request_text(reqs, n, api_key, timeout_ms);
	if (!req) {
		(void)helper_end(&h, true);
		return err_set(-ENOMEM, "out of memory");
	}
	r = send_all(h.fd, req, strlen(req), deadline);
	explicit_bzero(req, strlen(req));
	free(req);
	/* a helper that could not start up may have answered and gone already */
	if (r == 0 || r == -EPIPE || r == -ECONNRESET) {
		(void)shutdown(h.fd, SHUT_WR);
		r = recv_all(h.fd, &answer, deadline);
	}
	status = helper_end(&h, r < 0);
	if (r == -ETIMEDOUT)
		return err_set(r, "powerdns: %s did not answer within %u ms", DNS_HTTP_HELPER,
			       timeout_ms + START_SLACK_MS);
	if (r < 0)
		return err_set(r, "powerdns: talking to %s: %s", DNS_HTTP_HELPER, strerror(-r));
	r = read_answer(answer, status, reqs, n);
	free(answer);
	return r;
}
