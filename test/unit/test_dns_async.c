/* Publishing on a thread of its own (dns_async.c), taking a failed ADD's records back
 * (dns_restore), RFC 2136's resends to a server that never answers (a real UDP socket on
 * loopback that reads and drops), and the refusal of TSIG algorithms ldns cannot sign with.
 * The store is real (a temporary state dir); the hostsDir backend writes real files. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "dns.h"
#include "dns_int.h"
#include "err.h"

struct fx {
	char root[64];
	char state[96];
	char hosts[96];
	char file[160];
	struct store *s;
	struct store_network n;
	struct dns_config c;
};

static int parse(const char *text, struct dns_config *c)
{
	json_t *j = json_loads(text, 0, NULL);
	int r;

	assert_non_null(j);
	r = dns_config_from_json(j, 64, false, c);
	json_decref(j);
	return r;
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char conf[256];
	struct prefix p;

	(void)snprintf(f->root, sizeof(f->root), "/tmp/v6pd-dnsasync-XXXXXX");
	if (!mkdtemp(f->root))
		return -1;
	(void)snprintf(f->state, sizeof(f->state), "%s/state", f->root);
	(void)snprintf(f->hosts, sizeof(f->hosts), "%s/hosts", f->root);
	(void)snprintf(f->file, sizeof(f->file), "%s/v6pd-web.hosts", f->hosts);
	(void)snprintf(conf, sizeof(conf), "{\"zone\": \"c.test\", \"hostsDir\": \"%s\"}", f->hosts);
	if (parse(conf, &f->c) < 0 || store_open(f->state, &f->s) < 0 ||
	    prefix_from_string("2001:db8:1200::/56", &p) < 0 ||
	    store_prefix_set(f->s, &p, 1000, NULL, NULL, NULL) < 0)
		return -1;
	store_network_init(&f->n, "web");
	f->n.subnet_id = 1;
	*state = f;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	store_close(f->s);
	(void)nftw(f->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static struct lease acquire(struct fx *f, const char *key, int64_t now)
{
	struct lease_request req = { .key = key, .hostname = key, .container_id = "c1",
				     .ifname = "eth0" };
	struct lease l;

	assert_int_equal(store_lease_acquire(f->s, &f->n, &req, now, &l), 0);
	return l;
}

/* Whether the hosts file names host (a missing file names nothing). */
static bool hosts_has(const struct fx *f, const char *host)
{
	char buf[4096];
	int fd = open(f->file, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : 0;

	if (fd >= 0)
		(void)close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return strstr(buf, host) != NULL;
}

static size_t published(struct fx *f, const char *key)
{
	struct store_dns_record *v = NULL;
	size_t n = 0, k = 0;

	assert_int_equal(store_dns_list(f->s, "web", key, NULL, &v, &n), 0);
	for (size_t i = 0; i < n; i++)
		k += v[i].state == STORE_DNS_PUBLISHED;
	free(v);
	return k;
}

static int publish_on_thread(struct fx *f, const struct dns_config *c, const struct lease *l,
			     int64_t now)
{
	struct dns_job *j = NULL;

	assert_int_equal(dns_job_start(c, &j), 0);
	assert_non_null(j);
	dns_job_publish(j, f->s, l, now);
	return dns_job_wait(j);
}

static void test_publish_on_a_thread(void **state)
{
	struct fx *f = *state;
	struct dns_config off = { 0 }, bad = f->c;
	struct dns_job *j = NULL;
	struct lease l = acquire(f, "web1", 1000);

	assert_int_equal(publish_on_thread(f, &f->c, &l, 1000), 0);
	assert_true(hosts_has(f, "web1.c.test"));
	assert_int_equal(published(f, "web1"), 1);
	/* no "dns": no job, nothing to wait for */
	assert_int_equal(dns_job_start(&off, &j), 0);
	assert_null(j);
	dns_job_publish(j, f->s, &l, 1000);
	assert_int_equal(dns_job_wait(j), 0);
	/* a job that never gets its lease (the ADD failed before) just ends */
	assert_int_equal(dns_job_start(&f->c, &j), 0);
	assert_int_equal(dns_job_wait(j), 0);
	/* a failure on the thread comes back with its message to the thread that waits */
	(void)snprintf(bad.hosts_dir, sizeof(bad.hosts_dir), "/proc/v6pd-no-such-dir");
	err_clear();
	assert_true(publish_on_thread(f, &bad, &l, 1001) < 0);
	assert_non_null(strstr(err_msg(-EIO), "hostsDir /proc/v6pd-no-such-dir"));
}

static int64_t now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* How many of this process's files are f's hosts file after a rename replaced it. */
static int replaced_open(const struct fx *f)
{
	char link[64], target[256];
	int n = 0;

	for (int fd = 0; fd < 1024; fd++) {
		ssize_t k;

		(void)snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		k = readlink(link, target, sizeof(target) - 1);
		if (k <= 0)
			continue;
		target[k] = '\0';
		n += strncmp(target, f->file, strlen(f->file)) == 0 && strstr(target, "(deleted)");
	}
	return n;
}

/* The file a publication on a thread replaced is closed by the thread after the wait
 * (its last close frees its blocks): closed it is, soon. */
static void test_replaced_file_closed_after_the_wait(void **state)
{
	struct fx *f = *state;
	struct lease l1 = acquire(f, "web1", 1000), l2 = acquire(f, "web2", 1000);
	int64_t until;

	assert_int_equal(dns_publish(f->s, &f->c, &l1, 1000), 0);
	assert_int_equal(replaced_open(f), 0);
	f->c.on_release = DNS_RELEASE_REMOVE;
	for (int i = 0; i < 20; i++) {
		assert_int_equal(publish_on_thread(f, &f->c, i % 2 ? &l1 : &l2, 1001 + i), 0);
		assert_int_equal(dns_withdraw(f->s, &f->c, i % 2 ? &l2 : &l1, 1001 + i), 0);
	}
	for (until = now_ms() + 5000; replaced_open(f) > 0 && now_ms() < until;)
		(void)usleep(1000);
	assert_int_equal(replaced_open(f), 0);
	assert_true(hosts_has(f, "web1.c.test") || hosts_has(f, "web2.c.test"));
}

/* dns_close_later(): at once on any thread but a job's; on a job's, once the thread has
 * handed its waiter the outcome. */
struct later_arg {
	int fd;
	bool open_after;	/* right after dns_close_later(), on the job's thread */
};

static void close_a_pipe_later(void *arg)
{
	struct later_arg *a = arg;

	dns_close_later(a->fd);
	a->open_after = fcntl(a->fd, F_GETFD) != -1;
}

static void test_close_later(void **state)
{
	struct fx *f = *state;
	struct later_arg a = { 0 };
	struct dns_job *j = NULL;
	struct pollfd pf;
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	dns_close_later(p[0]);
	assert_int_equal(fcntl(p[0], F_GETFD), -1);
	(void)close(p[1]);

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	a.fd = p[0];
	assert_int_equal(dns_job_start(&f->c, &j), 0);
	assert_true(dns_job_run(j, close_a_pipe_later, &a));
	assert_int_equal(dns_job_wait(j), 0);
	assert_true(a.open_after);
	/* then closed by the thread: the write end finds no reader */
	pf = (struct pollfd){ .fd = p[1], .events = POLLOUT };
	for (int64_t until = now_ms() + 5000; now_ms() < until; (void)usleep(1000))
		if (poll(&pf, 1, 0) == 1 && (pf.revents & POLLERR))
			break;
	assert_true(pf.revents & POLLERR);
	(void)close(p[1]);
}

/* dns_job_run(): the lease taken on the job's own thread, which then publishes it. */
struct run_arg {
	struct fx *f;
	struct dns_job *j;
	pthread_t caller, ran_on;
	bool hosts_had_it;	/* when fn handed the lease over: not published yet */
};

static void take_lease_and_hand_over(void *arg)
{
	struct run_arg *a = arg;
	struct lease l = acquire(a->f, "web2", 1000);

	a->ran_on = pthread_self();
	dns_job_publish(a->j, a->f->s, &l, 1000);
	a->hosts_had_it = hosts_has(a->f, "web2.c.test");
}

static void test_run_on_the_job_thread_then_publish(void **state)
{
	struct fx *f = *state;
	struct run_arg a = { .f = f, .caller = pthread_self() };
	struct dns_job *j = NULL;

	assert_int_equal(dns_job_start(&f->c, &j), 0);
	a.j = j;
	assert_true(dns_job_run(j, take_lease_and_hand_over, &a));
	/* once per job */
	assert_false(dns_job_run(j, take_lease_and_hand_over, &a));
	assert_int_equal(dns_job_wait(j), 0);
	assert_false(pthread_equal(a.ran_on, a.caller));
	assert_false(a.hosts_had_it);
	assert_true(hosts_has(f, "web2.c.test"));
	assert_int_equal(published(f, "web2"), 1);
	/* no job: the caller runs it itself */
	assert_false(dns_job_run(NULL, take_lease_and_hand_over, &a));
}

static void test_restore_takes_back(void **state)
{
	struct fx *f = *state;
	struct lease l = acquire(f, "web1", 1000), prev;

	/* a key that had no lease: everything published for it goes */
	assert_int_equal(dns_publish(f->s, &f->c, &l, 1000), 0);
	assert_true(hosts_has(f, "web1.c.test"));
	assert_int_equal(dns_restore(f->s, &f->c, "web", "web1", NULL, 1001), 0);
	assert_false(hosts_has(f, "web1.c.test"));
	assert_int_equal(published(f, "web1"), 0);

	/* a reserved lease kept in DNS ("onRelease": "keep") comes back; one that is not kept
	 * stays out */
	assert_int_equal(store_lease_release(f->s, "web", "web1", 1002, &prev), 0);
	f->c.on_release = DNS_RELEASE_KEEP;
	assert_int_equal(dns_restore(f->s, &f->c, "web", "web1", &prev, 1003), 0);
	assert_true(hosts_has(f, "web1.c.test"));
	assert_int_equal(published(f, "web1"), 1);
	f->c.on_release = DNS_RELEASE_REMOVE;
	assert_int_equal(dns_restore(f->s, &f->c, "web", "web1", &prev, 1004), 0);
	assert_false(hosts_has(f, "web1.c.test"));
}

/* An UPDATE to a server that never answers: sent three times (at 0, T/4, T/2), then given
 * up at T, with a message naming server, zone and the sends. */
static void test_rfc2136_resends_within_the_timeout(void **state)
{
	struct fx *f = *state;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	char key[160], conf[512], buf[2048];
	struct dns_config c;
	struct dns_op op;
	int hole = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), fd, r, got = 0;
	int64_t t0;

	assert_true(hole >= 0);
	assert_int_equal(bind(hole, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(hole, (struct sockaddr *)&a, &alen), 0);
	(void)snprintf(key, sizeof(key), "%s/tsig.key", f->root);
	fd = open(key, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	(void)dprintf(fd, "key \"k\" { algorithm hmac-sha256; secret \"c2VjcmV0c2VjcmV0\"; };\n");
	(void)close(fd);
	(void)snprintf(conf, sizeof(conf),
		       "{\"zone\": \"c.test\", \"ptr\": false, \"timeout\": \"1s\", \"rfc2136\": "
		       "{\"server\": \"127.0.0.1\", \"port\": %u, \"keyFile\": \"%s\"}}",
		       ntohs(a.sin_port), key);
	assert_int_equal(parse(conf, &c), 0);
	memset(&op, 0, sizeof(op));
	op.add = true;
	(void)snprintf(op.row.name, sizeof(op.row.name), "web1.c.test.");
	(void)snprintf(op.row.zone, sizeof(op.row.zone), "c.test.");
	assert_int_equal(prefix_addr_from_string("2001:db8::1", &op.row.addr), 0);
	t0 = now_ms();
	r = dns_rfc2136_apply(&c, &op, 1);
	assert_int_equal(r, -ETIMEDOUT);
	/* bounded by the timeout (and the poll's granularity), not by the sends */
	assert_true(now_ms() - t0 < 1000 + 500);
	assert_int_equal(op.err, -ETIMEDOUT);
	assert_non_null(strstr(op.row.error, "rfc2136 127.0.0.1:"));
	assert_non_null(strstr(op.row.error, "zone c.test.: no answer within 1s (3 sends)"));
	for (;;) {
		struct pollfd p = { .fd = hole, .events = POLLIN };

		if (poll(&p, 1, 0) != 1)
			break;
		assert_true(recv(hole, buf, sizeof(buf), 0) > 0);
		got++;
	}
	assert_int_equal(got, 3);
	(void)close(hole);
}

static void test_tsig_algorithms(void **state)
{
	struct dns_config c;

	(void)state;
	assert_int_equal(parse("{\"zone\": \"z\", \"rfc2136\": {\"server\": \"::1\", \"keyFile\": "
			       "\"/k\", \"algorithm\": \"hmac-sha512\"}}",
			       &c),
			 0);
	err_clear();
	assert_int_equal(parse("{\"zone\": \"z\", \"rfc2136\": {\"server\": \"::1\", \"keyFile\": "
			       "\"/k\", \"algorithm\": \"hmac-sha384\"}}",
			       &c),
			 -EINVAL);
	assert_non_null(strstr(err_msg(-EINVAL), "\"dns.rfc2136.algorithm\" \"hmac-sha384\": "
						 "must be hmac-sha256 (the default), hmac-sha512"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_publish_on_a_thread, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_run_on_the_job_thread_then_publish, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_restore_takes_back, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_replaced_file_closed_after_the_wait, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_close_later, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_rfc2136_resends_within_the_timeout, fx_setup,
						fx_teardown),
		cmocka_unit_test(test_tsig_algorithms),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
