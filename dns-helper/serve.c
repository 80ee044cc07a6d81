/* The lingering v6pd-dns-http (helper.h): one process per state directory and network
 * namespace serves every PowerDNS exchange of the static front ends over a unix socket, so
 * a burst of ADDs loads libcurl once and its connections stay open between them.
 *
 * Who serves: the holder of the socket's lock file (linger.h). When idle it removes its socket first, then serves the connections already queued
 * on it, then exits: a client that reached the socket is always answered. Clients must be
 * root or this process's own uid (SO_PEERCRED); the socket is 0600 in the state directory.
 * It never opens the store: the requests carry all it needs. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "dns_http.h"
#include "err.h"
#include "helper.h"
#include "linger.h"

#define WORKERS_MAX 16
#define QUEUE_MAX 64
/* A plugin connects when its ADD begins and sends once it holds its lease. */
#define REQUEST_WAIT_MS 30000
#define ANSWER_WAIT_MS 5000

struct worker {
	pthread_t tid;
	pthread_cond_t cv;
	int fd;			/* the client to serve; -1: none */
	struct dns_http_session *session;
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t all_idle;
	struct worker w[WORKERS_MAX];
	size_t nw;
	struct worker *idle[WORKERS_MAX];	/* the last to finish on top: it keeps the warmest
						 * connections, so a lone client gets those */
	size_t nidle;
	int queue[QUEUE_MAX];
	size_t qhead, qlen;
	int64_t last;		/* ms: the last accept or answer */
	char init_error[512];	/* libcurl could not be loaded: every answer says so */
} pool = { .mu = PTHREAD_MUTEX_INITIALIZER, .all_idle = PTHREAD_COND_INITIALIZER };

static void serve_client(struct worker *w, int fd)
{
	char *text = NULL, *answer = NULL;
	size_t len = 0;
	int r;

	r = linger_recv_all(fd, DNS_HTTP_REQUEST_MAX, linger_now_ms() + REQUEST_WAIT_MS,
			      &text, &len);
	if (r < 0 || len == 0)
		goto out;	/* gone, or a connection made ahead that no request followed */
	if (!pool.init_error[0] && !w->session && (r = dns_http_session_new(&w->session)) < 0)
		answer = helper_error_answer(err_msg(r));
	else if (pool.init_error[0])
		answer = helper_error_answer(pool.init_error);
	else
		answer = helper_exchange(w->session, text);
	explicit_bzero(text, len);	/* the API key */
	if (answer)
		(void)linger_send_all(fd, answer, strlen(answer),
					linger_now_ms() + ANSWER_WAIT_MS);
out:
	free(text);
	free(answer);
	(void)close(fd);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	(void)pthread_mutex_lock(&pool.mu);
	for (;;) {
		int fd;

		while (w->fd < 0)
			(void)pthread_cond_wait(&w->cv, &pool.mu);
		fd = w->fd;
		(void)pthread_mutex_unlock(&pool.mu);
		serve_client(w, fd);
		(void)pthread_mutex_lock(&pool.mu);
		pool.last = linger_now_ms();
		if (pool.qlen) {
			w->fd = pool.queue[pool.qhead];
			pool.qhead = (pool.qhead + 1) % QUEUE_MAX;
			pool.qlen--;
			continue;
		}
		w->fd = -1;
		pool.idle[pool.nidle++] = w;
		if (pool.nidle == pool.nw)
			(void)pthread_cond_broadcast(&pool.all_idle);
	}
	return NULL;
}

/* Hands fd to an idle worker, a new one, or the queue; with none of those, closes it (the
 * client falls back to a helper of its own). */
static void dispatch(int fd)
{
	struct worker *w;
	sigset_t all, old;

	(void)pthread_mutex_lock(&pool.mu);
	pool.last = linger_now_ms();
	if (pool.nidle) {
		w = pool.idle[--pool.nidle];
		w->fd = fd;
		(void)pthread_cond_signal(&w->cv);
	} else if (pool.nw < WORKERS_MAX) {
		w = &pool.w[pool.nw];
		w->fd = fd;
		(void)pthread_cond_init(&w->cv, NULL);
		(void)sigfillset(&all);
		(void)pthread_sigmask(SIG_SETMASK, &all, &old);
		if (pthread_create(&w->tid, NULL, worker_main, w) == 0)
			pool.nw++;
		else
			(void)close(fd);
		(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	} else if (pool.qlen < QUEUE_MAX) {
		pool.queue[(pool.qhead + pool.qlen++) % QUEUE_MAX] = fd;
	} else {
		(void)close(fd);
	}
	(void)pthread_mutex_unlock(&pool.mu);
}

/* Root, or our own uid: anyone else gets a refusal and the door. */
static bool peer_allowed(int fd)
{
	char msg[160], *answer;
	long uid;

	if (linger_peer_allowed(fd, &uid))
		return true;
	(void)snprintf(msg, sizeof(msg), "powerdns: %s refused a client with uid %ld: root only",
		       DNS_HTTP_HELPER, uid);
	answer = helper_error_answer(msg);
	if (answer)
		(void)send(fd, answer, strlen(answer), MSG_NOSIGNAL | MSG_DONTWAIT);
	free(answer);
	return false;
}

/* Takes every connection queued on lfd. */
static void accept_all(int lfd)
{
	int fd;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0 || errno == EINTR) {
		if (fd < 0)
			continue;
		if (peer_allowed(fd))
			dispatch(fd);
		else
			(void)close(fd);
	}
}

int helper_serve(const char *path, int64_t idle_s)
{
	int64_t idle_ms = (idle_s > 0 ? idle_s : 1) * 1000;
	struct stat st;
	int lfd, r;

	if ((r = linger_take_lock(path)) <= 0)
		return r == 0 ? 0 : 1;
	if ((lfd = linger_listen(path, &st)) < 0)
		return 1;
	if ((r = dns_http_init()) < 0)
		(void)snprintf(pool.init_error, sizeof(pool.init_error), "%s", err_msg(r));
	pool.last = linger_now_ms();
	for (;;) {
		struct pollfd p = { .fd = lfd, .events = POLLIN };
		int64_t wait;
		bool busy;

		(void)pthread_mutex_lock(&pool.mu);
		busy = pool.nidle < pool.nw || pool.qlen > 0;
		wait = busy ? idle_ms : pool.last + idle_ms - linger_now_ms();
		(void)pthread_mutex_unlock(&pool.mu);
		if (wait <= 0)
			break;
		if (poll(&p, 1, wait > 60000 ? 60000 : (int)wait) > 0)
			accept_all(lfd);
	}
	/* Idle: no new client can find the socket once it is gone; the ones already queued on
	 * it are served before the end. */
	(void)unlink(path);
	accept_all(lfd);
	(void)close(lfd);
	(void)pthread_mutex_lock(&pool.mu);
	while (pool.nidle < pool.nw || pool.qlen > 0)
		(void)pthread_cond_wait(&pool.all_idle, &pool.mu);
	(void)pthread_mutex_unlock(&pool.mu);
	return 0;
}
