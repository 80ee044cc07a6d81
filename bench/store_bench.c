/* store-bench: figures for the lease store (issue 2, item 7). Prints; never judges.
 *
 *   store-bench [options] DIR
 *
 * DIR is an empty scratch directory; each section uses its own state dirs under it
 * (DIR/latency-N, DIR/parallel, DIR/cli) so they do not disturb one another.
 *
 *   --points LIST   lease counts to measure new-key acquisitions at (default 1,1000,10000)
 *   --window N      timed calls per measurement (default 200)
 *   --procs N       processes in the parallel runs (default 50)
 *   --keys K        new keys each parallel process acquires (default 20)
 *   --cli-seq N     sequential CLI runs timed one by one (default 20)
 *   --ctl PATH      the v6pdctl binary; without it the CLI section is skipped
 *   --only LIST     sections to run: latency,parallel,cli (default all)
 *
 * Latency is clock_gettime(CLOCK_MONOTONIC) around each store call, in one process that
 * keeps its store open (what a long-lived caller sees). Percentiles are nearest-rank.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "prefix.h"
#include "store.h"

#define BENCH_PREFIX "2001:db8:100::/48"
#define MAX_POINTS 16
#define ERRMSG_MAX 512

struct opts {
	const char *dir;
	const char *ctl;
	long points[MAX_POINTS];
	int npoints;
	int window;
	int procs;
	int keys;
	int cli_seq;
	bool do_latency, do_parallel, do_cli;
};

static double now_us(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct stats {
	double median, p90, p99, max, mean;
	size_t n;
};

/* Nearest-rank percentiles; sorts v. */
static struct stats stats_of(double *v, size_t n)
{
	struct stats s = { .n = n };
	double sum = 0;

	if (n == 0)
		return s;
	qsort(v, n, sizeof(*v), cmp_double);
	for (size_t i = 0; i < n; i++)
		sum += v[i];
#define RANK(q) v[(size_t)ceil((q) * (double)n) - 1]
	s.median = RANK(0.50);
	s.p90 = RANK(0.90);
	s.p99 = RANK(0.99);
#undef RANK
	s.max = v[n - 1];
	s.mean = sum / (double)n;
	return s;
}

static void print_stats_head(const char *first)
{
	(void)printf("  %-22s %10s %10s %10s %10s %10s\n", first, "median", "p90", "p99", "max",
		     "mean");
}

static void print_stats_row(const char *label, const struct stats *s)
{
	(void)printf("  %-22s %7.1f us %7.1f us %7.1f us %7.1f us %7.1f us\n", label, s->median,
		     s->p90, s->p99, s->max, s->mean);
}

static void die(const char *what, int r)
{
	(void)fprintf(stderr, "store-bench: %s: %s\n", what, err_msg(r));
	exit(1);
}

static char *subdir(const char *dir, const char *name)
{
	char *p = NULL;

	if (asprintf(&p, "%s/%s", dir, name) < 0) {
		(void)fprintf(stderr, "store-bench: out of memory\n");
		exit(1);
	}
	return p;
}

/* A network that holds 10,000 leases: the default maxLeases (4096) would refuse them. */
static void bench_network(struct store_network *cfg, const char *name)
{
	store_network_init(cfg, name);
	cfg->max_leases = 1000000;
}

/* A request as the CNI plugin makes it: 64-hex container ID, eth0, a netns path. */
struct req_buf {
	char key[64], cid[80], netns[96];
	struct lease_request req;
};

static void req_make(struct req_buf *b, const char *tag, long i)
{
	(void)snprintf(b->key, sizeof(b->key), "%s-%06ld", tag, i);
	(void)snprintf(b->cid, sizeof(b->cid), "%016lx%016lx%016lx%016lx", (unsigned long)i,
		       0x5eedUL, (unsigned long)i * 2654435761UL, 0xc0ffeeUL);
	(void)snprintf(b->netns, sizeof(b->netns), "/var/run/netns/cni-%s", b->key);
	memset(&b->req, 0, sizeof(b->req));
	b->req.key = b->key;
	b->req.container_id = b->cid;
	b->req.ifname = "eth0";
	b->req.netns = b->netns;
}

/* Opens state_dir, sets the bench prefix; warms the network with one lease when net is
 * given, so the timed part never creates the network or the per-host secret. */
static struct store *prepare(const char *state_dir, const char *net, bool bench_limits)
{
	struct store *s;
	struct prefix p;
	int r;

	if ((r = store_open(state_dir, &s)) < 0)
		die("opening the store", r);
	if ((r = prefix_from_string(BENCH_PREFIX, &p)) < 0 ||
	    (r = store_prefix_set(s, &p, (int64_t)time(NULL), NULL, NULL, NULL)) < 0)
		die("setting the prefix", r);
	if (net) {
		struct store_network cfg;
		struct req_buf b;
		struct lease l;

		if (bench_limits)
			bench_network(&cfg, net);
		else
			store_network_init(&cfg, net);
		req_make(&b, "warm", 0);
		b.req.reserve_only = !bench_limits;
		if ((r = store_lease_acquire(s, &cfg, &b.req, (int64_t)time(NULL), &l)) < 0)
			die("warming the network", r);
	}
	return s;
}

/* ---- latency inside one process ---- */

/* How many of the n samples exceed limit. */
static size_t count_over(const double *v, size_t n, double limit)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += v[i] > limit;
	return k;
}

/* One store per point (DIR/latency-N, one network holding N leases), filled with the same
 * API. The timed windows then take turns: acquisition i goes to every store before
 * acquisition i + 1 goes to any, so whatever else the machine does falls on all points
 * alike and the ratio compares like with like. */
static void bench_latency(const struct opts *o)
{
	char label[64];
	struct store_network cfg;
	struct store *s[MAX_POINTS];
	struct stats st[MAX_POINTS], re, rel, rere;
	size_t w = (size_t)o->window, over[MAX_POINTS];
	double *v[MAX_POINTS], *u = calloc(w, sizeof(double)), t0, fill_us = 0;
	long next[MAX_POINTS], filled = 0, last = o->points[o->npoints - 1];
	int64_t now = (int64_t)time(NULL);
	int top = o->npoints - 1;
	struct req_buf b;
	struct lease l;
	int r;

	if (!u)
		exit(1);
	bench_network(&cfg, "bench");
	for (int p = 0; p < o->npoints; p++) {
		char name[64], *dir;

		(void)snprintf(name, sizeof(name), "latency-%ld", o->points[p]);
		dir = subdir(o->dir, name);
		/* No warm-up lease: the leases counted are exactly the ones acquired here. */
		s[p] = prepare(dir, NULL, true);
		free(dir);
		v[p] = calloc(w, sizeof(double));
		if (!v[p])
			exit(1);
		t0 = now_us();
		for (next[p] = 0; next[p] < o->points[p]; next[p]++) {
			req_make(&b, "lat", next[p]);
			if ((r = store_lease_acquire(s[p], &cfg, &b.req, now, &l)) < 0)
				die("filling", r);
		}
		fill_us += now_us() - t0;
		filled += o->points[p];
	}
	for (size_t i = 0; i < w; i++) {
		for (int p = 0; p < o->npoints; p++) {
			req_make(&b, "lat", next[p]++);
			t0 = now_us();
			r = store_lease_acquire(s[p], &cfg, &b.req, now, &l);
			v[p][i] = now_us() - t0;
			if (r < 0)
				die("acquiring", r);
		}
	}
	for (int p = 0; p < o->npoints; p++) {
		over[p] = count_over(v[p], w, 1000.0);
		st[p] = stats_of(v[p], w);
	}

	/* The rest runs on the biggest store. The restart path first: keys that hold a lease
	 * ask again (same container), spread over all of them in a scrambled order. */
	for (size_t i = 0; i < w; i++) {
		long k = (long)((i * 7919u + 13u) % (uint64_t)next[top]);

		req_make(&b, "lat", k);
		t0 = now_us();
		r = store_lease_acquire(s[top], &cfg, &b.req, now, &l);
		u[i] = now_us() - t0;
		if (r < 0)
			die("re-acquiring", r);
	}
	re = stats_of(u, w);

	/* Release a window of active keys, then acquire them again (reserved -> active). */
	for (size_t i = 0; i < w; i++) {
		req_make(&b, "lat", (long)((i * 37u) % (uint64_t)next[top]));
		t0 = now_us();
		r = store_lease_release(s[top], "bench", b.key, now, &l);
		u[i] = now_us() - t0;
		if (r < 0)
			die("releasing", r);
	}
	rel = stats_of(u, w);
	for (size_t i = 0; i < w; i++) {
		req_make(&b, "lat", (long)((i * 37u) % (uint64_t)next[top]));
		t0 = now_us();
		r = store_lease_acquire(s[top], &cfg, &b.req, now, &l);
		u[i] = now_us() - t0;
		if (r < 0)
			die("re-acquiring a released key", r);
	}
	rere = stats_of(u, w);
	for (int p = 0; p < o->npoints; p++) {
		store_close(s[p]);
		free(v[p]);
	}

	(void)printf("\n== acquire latency, one process, store kept open ==\n");
	(void)printf("  (%zu acquisitions of NEW keys per row, timed right after filling a network "
		     "to N leases;\n   one store per row, the rows' calls interleaved)\n",
		     w);
	print_stats_head("N existing leases");
	for (int p = 0; p < o->npoints; p++) {
		(void)snprintf(label, sizeof(label), "%ld", o->points[p]);
		print_stats_row(label, &st[p]);
	}
	(void)printf("  calls over 1 ms:  ");
	for (int p = 0; p < o->npoints; p++)
		(void)printf("%s%zu at %ld", p ? ", " : "", over[p], o->points[p]);
	(void)printf("   (spikes: the inline WAL checkpoint, 2 fdatasyncs per 256 WAL frames)\n");
	(void)printf("  ratio median@%ld / median@%ld: %.2f      (goal: <= 1.1)\n", last,
		     o->points[0], st[top].median / st[0].median);
	(void)printf("  median@%ld: %.3f ms                    (goal: < 1 ms)\n", last,
		     st[top].median / 1000.0);
	(void)printf("  filling (untimed per call): %ld acquisitions in %.2f s, %.0f /s\n", filled,
		     fill_us / 1e6, (double)filled / (fill_us / 1e6));

	(void)printf("\n== other operations at %ld leases, one process ==\n", next[top]);
	print_stats_head("operation");
	print_stats_row("re-acquire (active)", &re);
	print_stats_row("release", &rel);
	print_stats_row("re-acquire (released)", &rere);
	free(u);
}

/* ---- parallel processes ---- */

struct shared {
	int failures;
	char first_err[ERRMSG_MAX];
	double lat[];	/* procs * keys */
};

static struct shared *shared_new(size_t n)
{
	size_t size = sizeof(struct shared) + n * sizeof(double);
	struct shared *sh = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
				 -1, 0);

	if (sh == MAP_FAILED) {
		perror("store-bench: mmap");
		exit(1);
	}
	memset(sh, 0, size);
	return sh;
}

static void shared_fail(struct shared *sh, const char *msg)
{
	if (__atomic_fetch_add(&sh->failures, 1, __ATOMIC_SEQ_CST) == 0)
		(void)snprintf(sh->first_err, sizeof(sh->first_err), "%s", msg);
}

/* Children signal ready on one pipe, then block reading the gate until the parent closes
 * it, so all start at once. Returns the wall time from the gate opening to the last exit,
 * and the number of children that exited non-zero. */
struct gate {
	int ready[2], go[2];
};

static void gate_init(struct gate *g)
{
	if (pipe(g->ready) < 0 || pipe(g->go) < 0) {
		perror("store-bench: pipe");
		exit(1);
	}
}

static void gate_child_wait(struct gate *g)
{
	char c;

	(void)close(g->ready[0]);
	(void)close(g->go[1]);
	if (write(g->ready[1], "r", 1) != 1)
		_exit(3);
	(void)close(g->ready[1]);
	while (read(g->go[0], &c, 1) < 0 && errno == EINTR)
		;
	(void)close(g->go[0]);
}

static double gate_run(struct gate *g, pid_t *pids, int n, int *ret_bad_exit)
{
	double t0;
	int got = 0, bad = 0, status;
	char c;

	(void)close(g->ready[1]);
	(void)close(g->go[0]);
	while (got < n) {
		ssize_t k = read(g->ready[0], &c, 1);

		if (k == 1)
			got++;
		else if (k == 0 || errno != EINTR)
			break;	/* a child died before it was ready */
	}
	(void)close(g->ready[0]);
	t0 = now_us();
	(void)close(g->go[1]);
	for (int i = 0; i < n; i++) {
		if (waitpid(pids[i], &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			bad++;
	}
	*ret_bad_exit = bad;
	return now_us() - t0;
}

static void parallel_child(const struct opts *o, const char *dir, struct gate *g,
			   struct shared *sh, int id)
{
	struct store_network cfg;
	struct store *s;
	struct req_buf b;
	struct lease l;
	double t0;
	int r, bad = 0;

	if ((r = store_open(dir, &s)) < 0) {
		shared_fail(sh, err_msg(r));
		_exit(1);
	}
	bench_network(&cfg, "parallel");
	gate_child_wait(g);
	for (int k = 0; k < o->keys; k++) {
		req_make(&b, "par", (long)id * 100000 + k);
		t0 = now_us();
		r = store_lease_acquire(s, &cfg, &b.req, (int64_t)time(NULL), &l);
		sh->lat[(size_t)id * (size_t)o->keys + (size_t)k] = now_us() - t0;
		if (r < 0) {
			shared_fail(sh, err_msg(r));
			bad = 1;
		}
	}
	store_close(s);
	_exit(bad);
}

/* Leases of network whose address is unique, and how many there are. */
static void count_distinct(const char *dir, const char *network, size_t *ret_n,
			   size_t *ret_distinct)
{
	struct store *s;
	struct lease *v = NULL;
	size_t n = 0, d = 0;
	int r;

	if ((r = store_open(dir, &s)) < 0 || (r = store_lease_list(s, network, &v, &n)) < 0)
		die("listing leases", r);
	store_close(s);
	for (size_t i = 0; i < n; i++) {
		bool dup = false;

		for (size_t j = 0; j < i && !dup; j++)
			dup = memcmp(&v[i].addr, &v[j].addr, sizeof(v[i].addr)) == 0;
		d += !dup;
	}
	free(v);
	*ret_n = n;
	*ret_distinct = d;
}

static void bench_parallel(const struct opts *o)
{
	char *dir = subdir(o->dir, "parallel");
	size_t total = (size_t)o->procs * (size_t)o->keys, n, distinct;
	struct shared *sh = shared_new(total);
	pid_t *pids = calloc((size_t)o->procs, sizeof(pid_t));
	struct gate g;
	struct stats st;
	double wall;
	int bad_exit;

	store_close(prepare(dir, "parallel", true));
	gate_init(&g);
	(void)fflush(NULL);
	for (int i = 0; i < o->procs; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			perror("store-bench: fork");
			exit(1);
		}
		if (pids[i] == 0)
			parallel_child(o, dir, &g, sh, i);
	}
	wall = gate_run(&g, pids, o->procs, &bad_exit);
	st = stats_of(sh->lat, total);
	count_distinct(dir, "parallel", &n, &distinct);

	(void)printf("\n== %d processes at once, each acquiring %d new keys (library, store "
		     "opened before the start) ==\n",
		     o->procs, o->keys);
	(void)printf("  wall time:        %.1f ms for %zu acquisitions\n", wall / 1000, total);
	(void)printf("  throughput:       %.0f acquisitions/s\n", (double)total / (wall / 1e6));
	(void)printf("  failed calls:     %d   (processes exiting non-zero: %d; must be 0)\n",
		     sh->failures, bad_exit);
	if (sh->failures)
		(void)printf("  first error:      %s\n", sh->first_err);
	(void)printf("  leases in store:  %zu (1 warm-up + %zu), distinct addresses: %zu\n", n,
		     total, distinct);
	(void)printf("  per-call latency under contention:\n");
	print_stats_head("");
	print_stats_row("acquire (new key)", &st);
	(void)munmap(sh, sizeof(*sh) + total * sizeof(double));
	free(pids);
	free(dir);
}

/* ---- the real CLI ---- */

static pid_t spawn_ctl(const struct opts *o, const char *dir, const char *key, const char *errf,
		       struct gate *g)
{
	pid_t pid;

	(void)fflush(NULL);
	pid = fork();
	if (pid < 0) {
		perror("store-bench: fork");
		exit(1);
	}
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
		int e = open(errf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		if (null < 0 || e < 0 || dup2(null, STDOUT_FILENO) < 0 ||
		    dup2(e, STDERR_FILENO) < 0)
			_exit(126);
		if (g)
			gate_child_wait(g);
		execl(o->ctl, o->ctl, "--state-dir", dir, "lease", "reserve", "cli", key,
		      (char *)NULL);
		(void)fprintf(stderr, "exec %s: %s\n", o->ctl, strerror(errno));
		_exit(127);
	}
	return pid;
}

static void print_first_error(const char *errdir, int n, const char *tag)
{
	for (int i = 0; i < n; i++) {
		char path[4096], buf[ERRMSG_MAX] = "";
		FILE *f;

		(void)snprintf(path, sizeof(path), "%s/%s-%d.err", errdir, tag, i);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f) && buf[0]) {
			(void)printf("  first error:      %s", buf);
			(void)fclose(f);
			return;
		}
		(void)fclose(f);
	}
}

static void bench_cli(const struct opts *o)
{
	char *dir = subdir(o->dir, "cli"), *errdir = subdir(o->dir, "cli-stderr");
	char key[64], errf[4096];
	pid_t *pids = calloc((size_t)o->procs, sizeof(pid_t));
	double *seq = calloc((size_t)o->cli_seq, sizeof(double)), wall, t0;
	struct stats st;
	struct gate g;
	size_t n, distinct;
	int bad_exit, seq_bad = 0, status;

	if (mkdir(errdir, 0700) < 0) {
		perror("store-bench: mkdir");
		exit(1);
	}
	/* Prefix set and network created (with the CLI's defaults) beforehand. */
	store_close(prepare(dir, "cli", false));

	/* One at a time: the cost of one `v6pdctl lease reserve` process. */
	for (int i = 0; i < o->cli_seq; i++) {
		pid_t pid;

		(void)snprintf(key, sizeof(key), "seq-%04d", i);
		(void)snprintf(errf, sizeof(errf), "%s/seq-%d.err", errdir, i);
		t0 = now_us();
		pid = spawn_ctl(o, dir, key, errf, NULL);
		if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
			seq_bad++;
		seq[i] = now_us() - t0;
	}
	st = stats_of(seq, (size_t)o->cli_seq);

	gate_init(&g);
	for (int i = 0; i < o->procs; i++) {
		(void)snprintf(key, sizeof(key), "par-%04d", i);
		(void)snprintf(errf, sizeof(errf), "%s/par-%d.err", errdir, i);
		pids[i] = spawn_ctl(o, dir, key, errf, &g);
	}
	wall = gate_run(&g, pids, o->procs, &bad_exit);
	count_distinct(dir, "cli", &n, &distinct);

	(void)printf("\n== the real CLI: v6pdctl lease reserve (%s) ==\n", o->ctl);
	(void)printf("  one at a time (%d runs, fork+exec+open+acquire+exit):\n", o->cli_seq);
	print_stats_head("");
	print_stats_row("v6pdctl lease reserve", &st);
	if (seq_bad) {
		(void)printf("  failed runs:      %d\n", seq_bad);
		print_first_error(errdir, o->cli_seq, "seq");
	}
	(void)printf("  %d at once:\n", o->procs);
	(void)printf("  wall time:        %.1f ms for %d processes\n", wall / 1000, o->procs);
	(void)printf("  throughput:       %.0f reservations/s\n", (double)o->procs / (wall / 1e6));
	(void)printf("  failed processes: %d   (must be 0)\n", bad_exit);
	if (bad_exit)
		print_first_error(errdir, o->procs, "par");
	(void)printf("  leases in store:  %zu (1 warm-up + %d + %d), distinct addresses: %zu\n", n,
		     o->cli_seq, o->procs, distinct);
	free(seq);
	free(pids);
	free(errdir);
	free(dir);
}

/* ---- options ---- */

static void usage(void)
{
	(void)fprintf(stderr,
		      "usage: store-bench [--points 1,1000,10000] [--window 200] [--procs 50] "
		      "[--keys 20]\n"
		      "                   [--cli-seq 20] [--ctl PATH] [--only latency,parallel,cli] "
		      "DIR\n");
	exit(2);
}

static long num(const char *opt, const char *v, long min)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < min) {
		(void)fprintf(stderr, "store-bench: %s %s: want an integer >= %ld\n", opt, v, min);
		exit(2);
	}
	return n;
}

static void parse_points(struct opts *o, const char *v)
{
	char *copy = strdup(v), *save = NULL;

	o->npoints = 0;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (o->npoints == MAX_POINTS)
			usage();
		o->points[o->npoints] = num("--points", t, 0);
		if (o->npoints && o->points[o->npoints] <= o->points[o->npoints - 1]) {
			(void)fprintf(stderr, "store-bench: --points must increase\n");
			exit(2);
		}
		o->npoints++;
	}
	free(copy);
	if (o->npoints == 0)
		usage();
}

int main(int argc, char **argv)
{
	struct opts o = { .window = 200, .procs = 50, .keys = 20, .cli_seq = 20 };
	const char *only = "latency,parallel,cli";

	parse_points(&o, "1,1000,10000");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (a[0] != '-') {
			if (o.dir)
				usage();
			o.dir = a;
			continue;
		}
		if (!v)
			usage();
		i++;
		if (strcmp(a, "--points") == 0)
			parse_points(&o, v);
		else if (strcmp(a, "--window") == 0)
			o.window = (int)num(a, v, 1);
		else if (strcmp(a, "--procs") == 0)
			o.procs = (int)num(a, v, 1);
		else if (strcmp(a, "--keys") == 0)
			o.keys = (int)num(a, v, 1);
		else if (strcmp(a, "--cli-seq") == 0)
			o.cli_seq = (int)num(a, v, 1);
		else if (strcmp(a, "--ctl") == 0)
			o.ctl = v;
		else if (strcmp(a, "--only") == 0)
			only = v;
		else
			usage();
	}
	if (!o.dir)
		usage();
	o.do_latency = strstr(only, "latency") != NULL;
	o.do_parallel = strstr(only, "parallel") != NULL;
	o.do_cli = strstr(only, "cli") != NULL && o.ctl;

	(void)printf("SQLite %s (library), compiled against %s\n", sqlite3_libversion(),
		     SQLITE_VERSION);
	(void)printf("store settings as v6pd opens it: WAL, synchronous=NORMAL, busy timeout, "
		     "one BEGIN IMMEDIATE transaction per call\n");
	(void)fflush(stdout);
	if (o.do_latency)
		bench_latency(&o);
	(void)fflush(stdout);
	if (o.do_parallel)
		bench_parallel(&o);
	(void)fflush(stdout);
	if (o.do_cli)
		bench_cli(&o);
	else if (strstr(only, "cli"))
		(void)printf("\n(CLI section skipped: no --ctl)\n");
	return 0;
}
