/* `v6pd --serve SOCKET`: the lingering server of one state directory (serve.h). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "addrgen.h"
#include "cni.h"
#include "dns.h"
#include "err.h"
#include "linger.h"
#include "serve.h"
#include "store_sqlite.h"
#include "tenv.h"

#define REQUEST_WAIT_MS 5000
#define ANSWER_WAIT_MS 5000
#define WORKERS_START 2	/* threads waiting on the socket from the start */
#define WORKERS_MAX 64		/* requests at once; more wait in the socket's queue */
#define POOL_MAX 16		/* stores kept open */
#define TICK_MS 1000		/* how often the socket and the binary are looked at */

static struct {
	pthread_mutex_t mu;
	pthread_cond_t idle;
	char dir[4096];		/* the state directory served */
	struct serve_req self;	/* our mount namespace and binary */
	char exe[4096];		/* where the binary was when we started */
	struct stat exe_st;	/* ...and what was there */
	int lfd;		/* the listening socket, non-blocking */
	int stopfd;		/* an eventfd: readable once the workers are to stop */
	uint64_t home_net;	/* the netns every worker must be back in after a request */
	int workers, idle_workers, active;
	bool exiting;		/* no new workers: cni_serve() waits for the last one */
	int64_t last;		/* ms: the last request's end */
	struct store *pool[POOL_MAX];
	size_t npool;
} srv = { .mu = PTHREAD_MUTEX_INITIALIZER, .idle = PTHREAD_COND_INITIALIZER };

/* the binary was replaced: stop taking requests */
static atomic_bool retire;
/* SIGTERM or SIGINT: stop taking requests, finish the running ones, exit (lock-free, so
 * the handler may set it; the workers read it) */
static atomic_int stop;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

/* ---- the store pool ---- */

/* Whether s is still the store file at its path: a file renamed into its place (a restored
 * backup) is opened anew, never written through a connection to the old one. */
static bool store_current(const struct store *s)
{
	char path[4200];
	struct stat st;

	(void)snprintf(path, sizeof(path), "%s/%s", s->dir, STORE_DB_FILE);
	return stat(path, &st) == 0 && st.st_dev == s->db_dev && st.st_ino == s->db_ino;
}

static int pool_take(const char *state_dir, struct store **ret)
{
	struct store *s = NULL;

	if (strcmp(state_dir, srv.dir) == 0) {
		(void)pthread_mutex_lock(&srv.mu);
		while (srv.npool && !s) {
			s = srv.pool[--srv.npool];
			if (!store_current(s)) {
				(void)pthread_mutex_unlock(&srv.mu);
				store_close(s);
				s = NULL;
				(void)pthread_mutex_lock(&srv.mu);
			}
		}
		(void)pthread_mutex_unlock(&srv.mu);
		if (s) {
			*ret = s;
			return 0;
		}
	}
	return store_open(state_dir, ret);
}

static void pool_give(struct store *s)
{
	if (strcmp(s->dir, srv.dir) == 0 && store_current(s)) {
		(void)pthread_mutex_lock(&srv.mu);
		if (srv.npool < POOL_MAX) {
			srv.pool[srv.npool++] = s;
			s = NULL;
		}
		(void)pthread_mutex_unlock(&srv.mu);
	}
	store_close(s);
}

/* After an answer: the WAL of one pooled store that grew past its limit is checkpointed. */
static void pool_upkeep(void)
{
	struct store *s = NULL;

	(void)pthread_mutex_lock(&srv.mu);
	for (size_t i = 0; i < srv.npool; i++)
		if (store_wal_due(srv.pool[i])) {
			s = srv.pool[i];
			srv.pool[i] = srv.pool[--srv.npool];
			break;
		}
	(void)pthread_mutex_unlock(&srv.mu);
	if (s) {
		store_wal_checkpoint(s);
		pool_give(s);
	}
}

/* ---- one request ---- */

static void send_answer(int fd, int status, const char *out, size_t out_len, const char *err,
			size_t err_len)
{
	struct serve_ans a = { .status = status, .out_len = (uint32_t)out_len,
			       .err_len = (uint32_t)err_len };
	int64_t deadline = linger_now_ms() + ANSWER_WAIT_MS;

	memcpy(a.magic, SERVE_MAGIC, sizeof(a.magic));
	if (linger_send_all(fd, (const char *)&a, sizeof(a), deadline) == 0 &&
	    linger_send_all(fd, out, out_len, deadline) == 0)
		(void)linger_send_all(fd, err, err_len, deadline);
}

/* ---- one attachment at a time ----
 *
 * Requests for one attachment (container ID and ifname) run one after the other. A runtime
 * that gives up on an ADD kills the calling process, not the request here, and its DEL must
 * not run beside that ADD and find half of it: it waits for the ADD, then takes it all. */

#define ATTACH_KEY_MAX 300

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char key[WORKERS_MAX][ATTACH_KEY_MAX];	/* "" : free */
} busy = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static bool busy_has(const char *key)
{
	for (int i = 0; i < WORKERS_MAX; i++)
		if (strcmp(busy.key[i], key) == 0)
			return true;
	return false;
}

/* The slot holding key (-1: nothing to hold: no attachment named, or no room). */
static int attach_hold(const char *cid, const char *ifname)
{
	char key[ATTACH_KEY_MAX];
	int slot = -1;

	if (!cid || !cid[0] || !ifname || !ifname[0] ||
	    (size_t)snprintf(key, sizeof(key), "%s\n%s", cid, ifname) >= sizeof(key))
		return -1;
	(void)pthread_mutex_lock(&busy.mu);
	while (busy_has(key))
		(void)pthread_cond_wait(&busy.cv, &busy.mu);
	for (int i = 0; i < WORKERS_MAX && slot < 0; i++)
		if (!busy.key[i][0])
			slot = i;
	if (slot >= 0)
		(void)snprintf(busy.key[slot], sizeof(busy.key[slot]), "%s", key);
	(void)pthread_mutex_unlock(&busy.mu);
	return slot;
}

static void attach_release(int slot)
{
	if (slot < 0)
		return;
	(void)pthread_mutex_lock(&busy.mu);
	busy.key[slot][0] = '\0';
	(void)pthread_cond_broadcast(&busy.cv);
	(void)pthread_mutex_unlock(&busy.mu);
}

/* The environment block as an array (pointers into it); NULL when malformed. */
static char **env_array(char *block, size_t len)
{
	size_t n = 0, k = 0;
	char **envp;

	if (len && block[len - 1] != '\0')
		return NULL;
	for (size_t i = 0; i < len; i++)
		n += block[i] == '\0';
	envp = calloc(n + 1, sizeof(*envp));
	if (!envp)
		return NULL;
	for (size_t i = 0; i < len; i += strlen(block + i) + 1)
		envp[k++] = block + i;
	return envp;
}

static void run(int fd, char *buf, size_t len)
{
	struct serve_req h;
	char **envp = NULL, *out = NULL, *errs = NULL;
	size_t out_len = 0, err_len = 0;
	FILE *in = NULL, *o = NULL, *e = NULL;
	int status = SERVE_DECLINED;

	if (len < sizeof(h))
		goto answer;
	memcpy(&h, buf, sizeof(h));
	if (memcmp(h.magic, SERVE_MAGIC, sizeof(h.magic)) != 0 || h.env_len > len - sizeof(h) ||
	    h.in_len != len - sizeof(h) - h.env_len || h.mnt_ns != srv.self.mnt_ns)
		goto answer;
	if (h.exe_dev != srv.self.exe_dev || h.exe_ino != srv.self.exe_ino ||
	    h.exe_mtime_ns != srv.self.exe_mtime_ns) {
		retire = true;	/* a new binary: its callers start its own server */
		goto answer;
	}
	envp = env_array(buf + sizeof(h), h.env_len);
	in = cni_io_input(buf + sizeof(h) + h.env_len, h.in_len);
	o = open_memstream(&out, &out_len);
	e = open_memstream(&errs, &err_len);
	/* Started: from here on the caller must not run the call itself (it may have run in
	 * part); without an answer after this, it reports an error. */
	if (envp && in && o && e && linger_send_all(fd, SERVE_STARTED, 1,
						    linger_now_ms() + ANSWER_WAIT_MS) == 0) {
		struct cni_io io = { .in = in, .out = o, .err = e, .store_take = pool_take,
				     .store_give = pool_give };
		int slot;

		tenv_set(envp);
		slot = attach_hold(tenv_get("CNI_CONTAINERID"), tenv_get("CNI_IFNAME"));
		cni_io_set(&io);
		status = cni_run();
		cni_io_set(NULL);
		attach_release(slot);
		tenv_set(NULL);
	}
answer:
	if (in)
		(void)fclose(in);
	if (o)
		(void)fclose(o);
	if (e)
		(void)fclose(e);
	send_answer(fd, status, out, out_len, errs, err_len);
	free(out);
	free(errs);
	free(envp);
}

/* One connection: its request, the answer, then the WAL's upkeep. */
static void serve_one(int fd)
{
	char *buf = NULL;
	size_t len = 0;
	long uid;

	if (!linger_peer_allowed(fd, &uid)) {
		(void)close(fd);	/* no answer for others: their call is not ours to run */
		return;
	}
	if (retire || stop)
		send_answer(fd, SERVE_DECLINED, NULL, 0, NULL, 0);
	else if (linger_recv_all(fd, sizeof(struct serve_req) + SERVE_ENV_MAX + SERVE_IN_MAX,
				 linger_now_ms() + REQUEST_WAIT_MS, &buf, &len) == 0)
		run(fd, buf, len);
	(void)close(fd);
	free(buf);
	pool_upkeep();
}

static bool in_home_netns(void)
{
	struct stat st;

	return stat("/proc/thread-self/ns/net", &st) == 0 && (uint64_t)st.st_ino == srv.home_net;
}

static void spawn_worker(void);

/* A worker waits on the socket itself: a caller's connect wakes it, with no hand-over in
 * between. The last idle one to take a connection starts another (up to WORKERS_MAX). */
static void *worker_main(void *arg)
{
	(void)arg;
	(void)pthread_setname_np(pthread_self(), "v6pd-serve");
	for (;;) {
		struct pollfd p[2] = { { .fd = srv.lfd, .events = POLLIN },
				       { .fd = srv.stopfd, .events = POLLIN } };
		bool more;
		int fd;

		if (poll(p, 2, -1) < 0 || p[1].revents)
			break;
		fd = accept4(srv.lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			/* EAGAIN: another worker took it; out of descriptors or memory: the
			 * connection waits in the queue, and so do we, a little */
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				(void)poll(NULL, 0, 10);
			continue;
		}
		(void)pthread_mutex_lock(&srv.mu);
		srv.idle_workers--;
		srv.active++;
		more = srv.idle_workers == 0 && srv.workers < WORKERS_MAX;
		(void)pthread_mutex_unlock(&srv.mu);
		if (more)
			spawn_worker();
		serve_one(fd);
		(void)pthread_mutex_lock(&srv.mu);
		srv.active--;
		srv.last = linger_now_ms();
		(void)pthread_cond_broadcast(&srv.idle);
		if (!in_home_netns()) {
			/* left inside a container's netns by a failure: this thread ends */
			srv.workers--;
			more = srv.idle_workers == 0;
			(void)pthread_mutex_unlock(&srv.mu);
			if (more)
				spawn_worker();
			return NULL;
		}
		srv.idle_workers++;
		(void)pthread_mutex_unlock(&srv.mu);
	}
	(void)pthread_mutex_lock(&srv.mu);
	srv.workers--;
	srv.idle_workers--;
	(void)pthread_cond_broadcast(&srv.idle);
	(void)pthread_mutex_unlock(&srv.mu);
	return NULL;
}

static void spawn_worker(void)
{
	pthread_attr_t attr;
	pthread_t tid;
	sigset_t all, old;
	bool ok;

	(void)pthread_mutex_lock(&srv.mu);
	ok = srv.workers < WORKERS_MAX && !srv.exiting;
	if (ok) {
		srv.workers++;
		srv.idle_workers++;
	}
	(void)pthread_mutex_unlock(&srv.mu);
	if (!ok)
		return;
	(void)pthread_attr_init(&attr);
	(void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	(void)sigfillset(&all);
	(void)pthread_sigmask(SIG_SETMASK, &all, &old);
	ok = pthread_create(&tid, &attr, worker_main, NULL) == 0;
	(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	(void)pthread_attr_destroy(&attr);
	if (!ok) {
		(void)pthread_mutex_lock(&srv.mu);
		srv.workers--;
		srv.idle_workers--;
		(void)pthread_mutex_unlock(&srv.mu);
	}
}

/* What the first request would otherwise pay: OpenSSL's SHA-256 and HMAC, one store. */
static void warm_up(void)
{
	struct addrgen_secret sec = { 0 };
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen;
	struct store *s;

	(void)addrgen_stable(&sec, "warm", "warm", 0, 64);
	(void)EVP_Digest("warm", 4, md, &mdlen, EVP_sha256(), NULL);
	if (store_open(srv.dir, &s) == 0)
		pool_give(s);
	err_clear();
}

/* An upgrade put another file where our binary was (/proc/self/exe still shows ours). */
static bool binary_replaced(void)
{
	struct stat st;

	if (!srv.exe[0])
		return false;
	if (stat(srv.exe, &st) < 0)
		return true;
	return st.st_dev != srv.exe_st.st_dev || st.st_ino != srv.exe_st.st_ino ||
	       st.st_mtim.tv_sec != srv.exe_st.st_mtim.tv_sec ||
	       st.st_mtim.tv_nsec != srv.exe_st.st_mtim.tv_nsec;
}

int cni_serve(const char *path)
{
	int64_t idle_ms = serve_idle_seconds() * 1000;
	const char *slash = strrchr(path, '/');
	struct sigaction sa = { .sa_handler = on_stop };
	struct stat st;
	int lfd, r;

	if (idle_ms <= 0 || !slash || slash == path || (size_t)(slash - path) >= sizeof(srv.dir))
		return 2;
	(void)snprintf(srv.dir, sizeof(srv.dir), "%.*s", (int)(slash - path), path);
	(void)signal(SIGPIPE, SIG_IGN);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	if (chdir("/") < 0 || addrgen_crypto_init_lean() < 0 || serve_identity(&srv.self) < 0)
		return 1;
	{
		ssize_t n = readlink("/proc/self/exe", srv.exe, sizeof(srv.exe) - 1);

		srv.exe[n > 0 ? n : 0] = '\0';
		if (srv.exe[0] && stat(srv.exe, &srv.exe_st) < 0)
			srv.exe[0] = '\0';
	}
	/* requests share this process: no connection of theirs may be made ahead */
	dns_pdns_helper_prestart_off();
	if ((r = linger_take_lock(path)) <= 0)
		return r == 0 ? 0 : 1;
	if ((lfd = linger_listen(path, &st)) < 0)
		return 1;
	{
		struct stat ns;

		if (stat("/proc/thread-self/ns/net", &ns) < 0 ||
		    (srv.stopfd = eventfd(0, EFD_CLOEXEC)) < 0)
			return 1;
		srv.home_net = ns.st_ino;
	}
	warm_up();
	srv.lfd = lfd;
	srv.last = linger_now_ms();
	for (int i = 0; i < WORKERS_START; i++)
		spawn_worker();
	if (srv.workers == 0) {
		/* no thread to serve: callers find no socket and run their calls */
		(void)unlink(path);
		(void)close(lfd);
		return 1;
	}
	for (;;) {
		bool quiet;

		(void)poll(NULL, 0, TICK_MS);
		(void)pthread_mutex_lock(&srv.mu);
		quiet = srv.active == 0 && linger_now_ms() - srv.last >= idle_ms;
		(void)pthread_mutex_unlock(&srv.mu);
		if (quiet || stop || retire || !linger_socket_is(path, &st) || binary_replaced())
			break;
	}
	/* No new caller finds the socket once it is gone; the workers stop waiting on it, the
	 * running requests finish. Callers queued on it and not yet taken find it closed and
	 * run their call themselves. */
	if (linger_socket_is(path, &st))
		(void)unlink(path);
	(void)eventfd_write(srv.stopfd, 1);
	(void)pthread_mutex_lock(&srv.mu);
	srv.exiting = true;
	while (srv.workers > 0)
		(void)pthread_cond_wait(&srv.idle, &srv.mu);
	(void)pthread_mutex_unlock(&srv.mu);
	(void)close(lfd);
	for (size_t i = 0; i < srv.npool; i++)
		store_close(srv.pool[i]);
	return 0;
}
