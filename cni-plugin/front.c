/* The start of every call: the lingering server runs it when there is one (serve.h). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cni.h"
#include "config.h"
#include "linger.h"
#include "serve.h"

extern char **environ;

/* Handing over the request is quick; the answer comes when the call is done, which has no
 * limit of its own in a one-shot process either (the runtime has its timeout). */
#define SEND_WAIT_MS 5000
#define ANSWER_WAIT_MS (3600 * 1000)
#define ANSWER_MAX (SERVE_IN_MAX + 64 * 1024)

int64_t serve_idle_seconds(void)
{
	return linger_idle_seconds(SERVE_IDLE_ENV, SERVE_IDLE_DEFAULT);
}

int serve_socket_path(const char *state_dir, char buf[SERVE_SOCKET_MAX])
{
	struct stat st;
	size_t n = strlen(state_dir);
	int k;

	if (state_dir[0] != '/')
		return -EINVAL;
	/* thread-self: a server's thread may be inside a container's namespace meanwhile */
	if (stat("/proc/thread-self/ns/net", &st) < 0)
		return -errno;
	k = snprintf(buf, SERVE_SOCKET_MAX, "%s%scni-%llu.sock", state_dir,
		     n && state_dir[n - 1] == '/' ? "" : "/", (unsigned long long)st.st_ino);
	return k < 0 || k >= SERVE_SOCKET_MAX ? -ENAMETOOLONG : 0;
}

int serve_identity(struct serve_req *h)
{
	struct stat mnt, exe;

	if (stat("/proc/self/ns/mnt", &mnt) < 0 || stat("/proc/self/exe", &exe) < 0)
		return -errno;
	h->mnt_ns = mnt.st_ino;
	h->exe_dev = exe.st_dev;
	h->exe_ino = exe.st_ino;
	h->exe_mtime_ns = (int64_t)exe.st_mtim.tv_sec * 1000000000 + exe.st_mtim.tv_nsec;
	return 0;
}

/* Non-blocking: a server whose queue is full (wedged) is as good as none. */
static int dial(const char *path, int *ret_fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), e;

	if (fd < 0)
		return -errno;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		e = errno;
		(void)close(fd);
		return -e;
	}
	*ret_fd = fd;
	return 0;
}

/* The request: header, environment, stdin. NULL when it is too big to hand over. */
static char *request(const char *in, size_t in_len, size_t *ret_len)
{
	struct serve_req h = { .in_len = (uint32_t)in_len };
	size_t env_len = 0, off;
	char *buf;

	for (char **e = environ; *e; e++)
		env_len += strlen(*e) + 1;
	if (env_len > SERVE_ENV_MAX || in_len > SERVE_IN_MAX || serve_identity(&h) < 0)
		return NULL;
	memcpy(h.magic, SERVE_MAGIC, sizeof(h.magic));
	h.env_len = (uint32_t)env_len;
	buf = malloc(sizeof(h) + env_len + in_len);
	if (!buf)
		return NULL;
	memcpy(buf, &h, sizeof(h));
	off = sizeof(h);
	for (char **e = environ; *e; e++) {
		memcpy(buf + off, *e, strlen(*e) + 1);
		off += strlen(*e) + 1;
	}
	memcpy(buf + off, in, in_len);
	*ret_len = off + in_len;
	return buf;
}

/* 1: the answer is a status and its output, written out; 0: not an answer. */
static int answer(const char *buf, size_t len, int *ret_status)
{
	struct serve_ans a;

	if (len < sizeof(a))
		return 0;
	memcpy(&a, buf, sizeof(a));
	if (memcmp(a.magic, SERVE_MAGIC, sizeof(a.magic)) != 0 || !serve_ans_whole(&a, len))
		return 0;
	(void)fwrite(buf + sizeof(a), 1, a.out_len, stdout);
	(void)fwrite(buf + sizeof(a) + a.out_len, 1, a.err_len, stderr);
	(void)fflush(stdout);
	(void)fflush(stderr);
	*ret_status = a.status;
	return 1;
}

/* The server started the call and gave no answer (it died, or the answer was lost): the
 * call may have run in part, so it is not run again here. The runtime's retry (or its DEL)
 * picks it up. */
static int lost(const char *conf_version, const char *path, int *ret_status)
{
	char msg[300];

	(void)snprintf(msg, sizeof(msg), "the v6pd server at %s ended before it answered; the "
			"call may have run in part: try again", path);
	cni_error_print(conf_version, CNI_ERR_TRY_AGAIN, msg, NULL);
	(void)fflush(stdout);
	*ret_status = 1;
	return 1;
}

/* The listener must be root or our own uid (the rule the server applies to its callers):
 * another user's socket in a state directory it can write to would get this call's
 * environment and choose its answer. */
static bool server_trusted(int fd)
{
	long uid;

	return linger_peer_allowed(fd, &uid);
}

void cni_front_seed(void)
{
	uint32_t seed = 0;

	/* jansson's hash seed in one getrandom() instead of its own open/read/close of
	 * /dev/urandom (0: jansson picks one as before) */
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) == (ssize_t)sizeof(seed) && seed)
		json_object_seed(seed);
}

/* The netconf's cniVersion, for the error a lost call answers with ("" when it has none) */
static void conf_version(const json_t *conf, char out[32])
{
	const char *v = json_string_value(json_object_get(conf, "cniVersion"));

	(void)snprintf(out, 32, "%s", v ? v : "");
}

int cni_front_lost(const char *in, size_t in_len, const char *path)
{
	json_t *conf = json_loadb(in, in_len, 0, NULL);
	char version[32];
	int status;

	conf_version(conf, version);
	json_decref(conf);
	(void)lost(version[0] ? version : NULL, path, &status);
	return status;
}

int cni_front(const char *in, size_t in_len, int *ret_status, bool *ret_start,
	      char path[SERVE_SOCKET_MAX])
{
	json_t *conf;
	const char *dir;
	char version[32];
	char *req = NULL, *ans = NULL;
	size_t req_len = 0, ans_len = 0;
	int fd = -1, r, served = 0;

	*ret_start = false;
	if (serve_idle_seconds() <= 0)
		return 0;
	conf = json_loadb(in, in_len, 0, NULL);
	dir = serve_state_dir(conf);
	r = dir ? serve_socket_path(dir, path) : -EINVAL;
	conf_version(conf, version);
	json_decref(conf);
	/* the request is ready before the connection: the server's worker wakes at the
	 * connect and finds it all there */
	if (r < 0 || !(req = request(in, in_len, &req_len)))
		return 0;
	if ((r = dial(path, &fd)) < 0) {
		/* nobody there: run it here, then start one for the next calls */
		*ret_start = r == -ENOENT || r == -ECONNREFUSED;
		free(req);
		return 0;
	}
	if (server_trusted(fd) &&
	    linger_send_all(fd, req, req_len, linger_now_ms() + SEND_WAIT_MS) == 0 &&
	    shutdown(fd, SHUT_WR) == 0)
		r = linger_recv_all(fd, ANSWER_MAX, linger_now_ms() + ANSWER_WAIT_MS, &ans,
				    &ans_len);
	else
		r = -EPERM;
	/* SERVE_STARTED first: the call ran there, answered or not; else it never began */
	if (ans_len >= 1 && ans[0] == SERVE_STARTED[0])
		served = answer(ans + 1, ans_len - 1, ret_status) ||
			 lost(version[0] ? version : NULL, path, ret_status);
	else if (r == 0)
		served = answer(ans, ans_len, ret_status);
	else if (r == -ETIMEDOUT)	/* an hour: it is running there, not to be run twice */
		served = lost(version[0] ? version : NULL, path, ret_status);
	free(req);
	free(ans);
	(void)close(fd);
	return served;
}

void cni_front_start(const char *path)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	char *argv[] = { "v6pd", "--serve", (char *)path, NULL };
	sigset_t none, all;
	pid_t pid;

	if (posix_spawn_file_actions_init(&fa) != 0)
		return;
	if (posix_spawnattr_init(&attr) != 0) {
		(void)posix_spawn_file_actions_destroy(&fa);
		return;
	}
	(void)sigemptyset(&none);
	(void)sigfillset(&all);
	(void)posix_spawnattr_setsigmask(&attr, &none);
	(void)posix_spawnattr_setsigdefault(&attr, &all);
	(void)posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
					      POSIX_SPAWN_SETSID);
	/* nothing of the runtime's: it reads our stdout until every writer has closed it */
	for (int fd = 0; fd < 3; fd++)
		(void)posix_spawn_file_actions_addopen(&fa, fd, "/dev/null", fd ? O_WRONLY : O_RDONLY,
						       0);
	(void)posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	/* Not waited for: it outlives this call, and init reaps it. A failure only means the
	 * next call runs in its own process too. */
	(void)posix_spawn(&pid, "/proc/self/exe", &fa, &attr, argv, environ);
	(void)posix_spawnattr_destroy(&attr);
	(void)posix_spawn_file_actions_destroy(&fa);
}
