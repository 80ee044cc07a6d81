/* dns_publish() on a thread of its own (dns.h). The CNI plugin's ADD starts the thread
 * first thing; it gets the backends ready (RFC 2136: the key read, ldns's and OpenSSL's
 * first signature) while the ADD takes its lease, then publishes the address as soon as it
 * is handed the lease, beside the few ms of netlink work that follow.
 *
 * What the thread touches: the store connection it is handed (the caller keeps off it from
 * dns_job_publish() to dns_job_wait()), copies of the config and the lease, err.c's message
 * buffer (one per thread: _Thread_local), OpenSSL (thread-safe since 1.1.0; ldns signs with
 * it), sockets, files and children of its own. It blocks every signal, so a runtime's
 * SIGTERM still goes to the main thread, and it never enters another network namespace.
 *
 * dns_job_wait() returns once the publication has its outcome. The thread then closes the
 * files handed to dns_close_later() (a hosts file replaced by the rename: its last close
 * frees its blocks, 0.1 ms for a few lines, 0.2 ms at 5,000 records) and ends: it is
 * detached, and the job is freed by whichever of the two lets go of it last. The plugin's
 * lingering server answers the ADD meanwhile; a plugin process of its own has its exit
 * close what the thread has not closed yet. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dns.h"
#include "dns_int.h"
#include "err.h"
#include "tenv.h"

enum job_state {
	JOB_WAITING,		/* for the lease */
	JOB_RUN,		/* run's turn (dns_job_run()), then the lease's */
	JOB_GO,			/* s, l and now are set */
};

struct dns_job {
	bool threaded;
	atomic_int refs;	/* the caller's, and the thread's while it runs */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	enum job_state state;
	bool cancel;		/* dns_job_wait(): no lease is coming but run's */
	bool done;		/* the thread has its outcome (r, msg) */
	struct store *s;
	struct dns_config c;
	struct lease l;
	int64_t now;
	int r;
	char msg[1024];
	char *const *env;	/* the creator's environment (tenv.h), for the helpers it starts */
	void (*run)(void *);	/* dns_job_run()'s */
	void *run_arg;
};

/* The job whose thread this is: its dns_job_publish() only says the lease is there. */
static _Thread_local struct dns_job *this_job;

/* dns_close_later()'s files, closed once the waiter has the outcome */
#define LATER_MAX 8
static _Thread_local int later[LATER_MAX];
static _Thread_local size_t n_later;

void dns_close_later(int fd)
{
	if (this_job && n_later < LATER_MAX)
		later[n_later++] = fd;
	else
		(void)close(fd);
}

static void job_release(struct dns_job *j)
{
	if (atomic_fetch_sub(&j->refs, 1) != 1)
		return;
	(void)pthread_cond_destroy(&j->cv);
	(void)pthread_mutex_destroy(&j->mu);
	free(j);
}

static void job_publish_here(struct dns_job *j)
{
	err_clear();
	j->r = dns_publish(j->s, &j->c, &j->l, j->now);
	(void)snprintf(j->msg, sizeof(j->msg), "%s", j->r < 0 ? err_msg(j->r) : "");
}

static void *job_main(void *arg)
{
	struct dns_job *j = arg;
	enum job_state st;
	bool warm = j->c.rfc2136;

	(void)pthread_setname_np(pthread_self(), "v6pd-dns");
	tenv_set(j->env);
	this_job = j;
	(void)pthread_mutex_lock(&j->mu);
	for (;;) {
		if (j->state == JOB_RUN) {
			/* run first (it may hand the lease over, from this thread) */
			j->state = JOB_WAITING;
			(void)pthread_mutex_unlock(&j->mu);
			j->run(j->run_arg);
			(void)pthread_mutex_lock(&j->mu);
			continue;
		}
		if (warm) {
			/* the backend made ready while the lease is on its way */
			warm = false;
			(void)pthread_mutex_unlock(&j->mu);
			dns_rfc2136_warm(&j->c);
			(void)pthread_mutex_lock(&j->mu);
			continue;
		}
		if (j->state != JOB_WAITING || j->cancel)
			break;
		(void)pthread_cond_wait(&j->cv, &j->mu);
	}
	st = j->state;
	(void)pthread_mutex_unlock(&j->mu);
	if (st == JOB_GO)
		job_publish_here(j);
	(void)pthread_mutex_lock(&j->mu);
	j->done = true;
	(void)pthread_cond_broadcast(&j->cv);
	(void)pthread_mutex_unlock(&j->mu);
	while (n_later > 0)
		(void)close(later[--n_later]);
	this_job = NULL;
	job_release(j);
	return NULL;
}

bool dns_job_run(struct dns_job *j, void (*fn)(void *), void *arg)
{
	if (!j || !j->threaded)
		return false;
	(void)pthread_mutex_lock(&j->mu);
	if (j->state != JOB_WAITING || j->run || j->cancel) {
		(void)pthread_mutex_unlock(&j->mu);
		return false;
	}
	j->run = fn;
	j->run_arg = arg;
	j->state = JOB_RUN;
	(void)pthread_cond_signal(&j->cv);
	(void)pthread_mutex_unlock(&j->mu);
	return true;
}

int dns_job_start(const struct dns_config *c, struct dns_job **ret)
{
	sigset_t all, old;
	pthread_attr_t attr;
	struct dns_job *j;
	pthread_t tid;

	*ret = NULL;
	if (!c->enabled)
		return 0;
	j = calloc(1, sizeof(*j));
	if (!j)
		return err_set(-ENOMEM, "out of memory");
	j->c = *c;
	j->state = JOB_WAITING;
	atomic_init(&j->refs, 2);
	(void)pthread_mutex_init(&j->mu, NULL);
	(void)pthread_cond_init(&j->cv, NULL);
	/* the new thread starts with the mask it is created under */
	(void)sigfillset(&all);
	(void)pthread_sigmask(SIG_SETMASK, &all, &old);
	j->env = tenv_current();
	j->threaded = pthread_attr_init(&attr) == 0;
	if (j->threaded) {
		j->threaded = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0 &&
			      pthread_create(&tid, &attr, job_main, j) == 0;
		(void)pthread_attr_destroy(&attr);
	}
	if (!j->threaded)
		atomic_init(&j->refs, 1);
	(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	*ret = j;
	return 0;
}

void dns_job_publish(struct dns_job *j, struct store *s, const struct lease *l, int64_t now)
{
	if (!j)
		return;
	j->s = s;
	j->l = *l;
	j->now = now;
	if (this_job == j) {
		/* from dns_job_run()'s function: published once it returns */
		(void)pthread_mutex_lock(&j->mu);
		j->state = JOB_GO;
		(void)pthread_mutex_unlock(&j->mu);
		return;
	}
	if (!j->threaded) {
		/* no thread could be made: publish here, now */
		job_publish_here(j);
		j->state = JOB_GO;
		return;
	}
	(void)pthread_mutex_lock(&j->mu);
	j->state = JOB_GO;
	(void)pthread_cond_signal(&j->cv);
	(void)pthread_mutex_unlock(&j->mu);
}

int dns_job_wait(struct dns_job *j)
{
	int r = 0;

	if (!j)
		return 0;
	if (j->threaded) {
		(void)pthread_mutex_lock(&j->mu);
		j->cancel = true;
		(void)pthread_cond_signal(&j->cv);
		while (!j->done)
			(void)pthread_cond_wait(&j->cv, &j->mu);
		(void)pthread_mutex_unlock(&j->mu);
	}
	if (j->state == JOB_GO && j->r < 0)
		r = err_set(j->r, "%s", j->msg);
	job_release(j);
	return r;
}
