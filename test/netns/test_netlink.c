/* netlink, netns, sysctl against the real kernel, in throwaway network namespaces.
 *
 * Needs root (skips otherwise). Creates namespaces v6nl<hex>h (the "host" side: this
 * process enters it, so bridges and host veth ends never touch the real host), v6nl<hex>c1
 * (per-function checks), c2 and c3 (two containers on one bridge that must ping each
 * other). Results are checked independently with `ip -j` and /proc run through
 * `ip netns exec` (posix_spawnp, no shell). Everything lives inside those namespaces and
 * goes with `ip netns del` in the group teardown.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <linux/if.h>

#include "err.h"
#include "netlink.h"
#include "netns.h"
#include "sysctl.h"

extern char **environ;

enum { NS_HOST, NS_C1, NS_C2, NS_C3, NS_COUNT };
static const char *const ns_suffix[NS_COUNT] = { "h", "c1", "c2", "c3" };

static struct {
	bool ready;
	const char *why;
	char tag[13];				/* "v6nl" + 8 hex */
	char ns[NS_COUNT][32];
	bool ns_made[NS_COUNT];
	int fd[NS_COUNT];
	int orig;				/* the netns we started in */
	struct nl_ctx *host;			/* opened inside NS_HOST */
	char br[NL_IFNAMSIZ];
	int br_ifindex;
	char v0[NL_IFNAMSIZ];			/* host end of the c1 veth */
	int v0_ifindex, c1_ifindex;		/* c1_ifindex: eth0 inside c1 */
} W = { .orig = -1, .fd = { -1, -1, -1, -1 } };

/* ---- helpers: names, processes, ip -j ---- */

static void name(char *buf, const char *suffix)
{
	(void)snprintf(buf, NL_IFNAMSIZ, "%s%s", W.tag, suffix);
}

/* Runs argv (no shell); stdout into *out (new, NUL-terminated) unless out is NULL, in which
 * case it goes to /dev/null. stderr passes through. Returns the exit status. */
static int run(char **out, char *const argv[])
{
	posix_spawn_file_actions_t fa;
	int p[2] = { -1, -1 }, st = 0;
	size_t len = 0, cap = 4096;
	char *buf = NULL;
	pid_t pid;

	assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
	if (out) {
		assert_int_equal(pipe2(p, O_CLOEXEC), 0);
		assert_int_equal(posix_spawn_file_actions_adddup2(&fa, p[1], 1), 0);
	} else {
		assert_int_equal(posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0),
				 0);
	}
	assert_int_equal(posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ), 0);
	(void)posix_spawn_file_actions_destroy(&fa);
	if (out) {
		ssize_t n;

		(void)close(p[1]);
		buf = malloc(cap);
		assert_non_null(buf);
		while ((n = read(p[0], buf + len, cap - len - 1)) > 0) {
			len += (size_t)n;
			if (cap - len < 2) {
				cap *= 2;
				buf = realloc(buf, cap);
				assert_non_null(buf);
			}
		}
		buf[len] = '\0';
		(void)close(p[0]);
		*out = buf;
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#define RUN(out, ...) run(out, (char *const[]){ __VA_ARGS__, NULL })

/* `ip -n NS -j ARGS...` parsed, or NULL when ip fails (e.g. no such device). */
#define IPJ(ns, ...) ipj(RUN(&ipj_out, "ip", "-n", (char *)(ns), "-j", __VA_ARGS__))
static char *ipj_out;
static json_t *ipj(int status)
{
	json_t *j = NULL;

	if (status == 0)
		j = json_loads(ipj_out, 0, NULL);
	free(ipj_out);
	ipj_out = NULL;
	return j;
}

static bool json_array_has_string(json_t *arr, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
		if (json_is_string(v) && !strcmp(json_string_value(v), s))
			return true;
	return false;
}

static const char *jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

/* The addr_info entry for local in `ip -j -6 addr show dev IF` output, borrowed. */
static json_t *find_addr(json_t *links, const char *local)
{
	size_t i, k;
	json_t *l, *a;

	json_array_foreach(links, i, l)
		json_array_foreach(json_object_get(l, "addr_info"), k, a)
			if (!strcmp(jstr(a, "local"), local))
				return a;
	return NULL;
}


static struct in6_addr in6(const char *s)
{
	struct in6_addr a;

	assert_int_equal(inet_pton(AF_INET6, s, &a), 1);
	return a;
}

static double now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A context opened inside netns i (and left there). */
static struct nl_ctx *ctx_in(int i)
{
	struct nl_ctx *ctx = NULL;
	int orig, r;

	assert_int_equal(netns_enter(W.fd[i], &orig), 0);
	r = nl_ctx_open(&ctx);
	assert_int_equal(netns_leave(orig), 0);	/* before any assert that could jump out */
	assert_int_equal(r, 0);
	return ctx;
}

static ino_t netns_ino(int fd)
{
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	return st.st_ino;
}

static ino_t current_ino(void)
{
	struct stat st;

	assert_int_equal(stat("/proc/thread-self/ns/net", &st), 0);
	return st.st_ino;
}

#define NEED_KERNEL()                                                            \
	do {                                                                     \
		if (!W.ready) {                                                  \
			print_message("[  SKIP    ] %s\n", W.why);                  \
			skip();                                                  \
		}                                                                \
	} while (0)

#define assert_err_contains(s) \
	assert_non_null_msg(strstr(err_msg(-1), (s)), err_msg(-1))
static void assert_non_null_msg(const void *p, const char *msg)
{
	if (!p)
		fail_msg("unexpected message: %s", msg);
}

/* ---- fixture ---- */

static int teardown(void **state)
{
	nl_ctx_free(W.host);
	W.host = NULL;
	if (W.orig >= 0 && netns_leave(W.orig) < 0)
		fprintf(stderr, "teardown: %s\n", err_msg(-1));
	W.orig = -1;
	for (int i = 0; i < NS_COUNT; i++) {
		if (W.fd[i] >= 0)
			(void)close(W.fd[i]);
		W.fd[i] = -1;
		if (W.ns_made[i] && RUN(NULL, "ip", "netns", "del", W.ns[i]) != 0)
			fprintf(stderr, "teardown: ip netns del %s failed\n", W.ns[i]);
		W.ns_made[i] = false;
	}
	return 0;
}

static int setup(void **state)
{
	uint32_t rnd;
	char path[64];

	if (geteuid() != 0) {
		W.why = "needs root: creates network namespaces";
		return 0;
	}
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		return -1;
	(void)snprintf(W.tag, sizeof(W.tag), "v6nl%08x", rnd);
	for (int i = 0; i < NS_COUNT; i++) {
		(void)snprintf(W.ns[i], sizeof(W.ns[i]), "%s%s", W.tag, ns_suffix[i]);
		if (run(NULL, (char *const[]){ "ip", "netns", "add", W.ns[i], NULL }) != 0) {
			W.why = "`ip netns add` failed: no network namespaces here";
			goto fail;
		}
		W.ns_made[i] = true;
		(void)snprintf(path, sizeof(path), "/run/netns/%s", W.ns[i]);
		if (netns_open(path, &W.fd[i]) < 0)
			goto fail;
	}
	if (netns_enter(W.fd[NS_HOST], &W.orig) < 0 || nl_ctx_open(&W.host) < 0)
		goto fail;
	name(W.br, "br");
	name(W.v0, "v0");
	W.ready = true;
	printf("# namespaces %sh, %sc1, %sc2, %sc3\n", W.tag, W.tag, W.tag, W.tag);
	return 0;
fail:
	fprintf(stderr, "setup: %s\n", W.why ? W.why : err_msg(-1));
	W.why = W.why ? W.why : "setup failed";
	(void)teardown(state);
	return 0;
}

/* ---- tests ---- */

static void test_ifname_validate(void **state)
{
	static const char *const good[] = { "eth0", "v6pd1234abcdef0", "a", "br-web.10" };
	static const char *const bad[] = { "", "v6pd1234abcdef01", ".", "..", "a/b", "a:b",
					   "a b", "a\tb", "a\nb", "eth%d", "\xa0x" };

	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
		assert_int_equal(nl_ifname_validate(good[i]), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		err_clear();
		assert_int_equal(nl_ifname_validate(bad[i]), -EINVAL);
		assert_err_contains("interface name \"");
	}
	(void)nl_ifname_validate("../etc");
	assert_err_contains("\"../etc\"");
	(void)nl_ifname_validate("a\nb");
	assert_err_contains("\"a\\x0ab\"");
}

static void test_netns_open(void **state)
{
	char path[64];
	int fd = -1;

	NEED_KERNEL();
	(void)snprintf(path, sizeof(path), "/run/netns/%smissing", W.tag);
	assert_int_equal(netns_open(path, &fd), -ENOENT);
	assert_err_contains(path);
	assert_int_equal(fd, -1);
	assert_int_equal(netns_open("/proc/self/status", &fd), -EINVAL);
	assert_err_contains("\"/proc/self/status\": not a namespace file");
	assert_int_equal(netns_open("/proc/self/ns/mnt", &fd), -EINVAL);
	assert_err_contains("a mount namespace, not a network namespace");
	assert_int_equal(fd, -1);

	(void)snprintf(path, sizeof(path), "/run/netns/%s", W.ns[NS_C1]);
	assert_int_equal(netns_open(path, &fd), 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(netns_ino(fd), netns_ino(W.fd[NS_C1]));
	(void)close(fd);
}

static int record_ino(void *userdata)
{
	*(ino_t *)userdata = current_ino();
	return 42;
}

static void test_netns_enter_leave(void **state)
{
	ino_t seen = 0;
	int orig;

	NEED_KERNEL();
	assert_int_equal(current_ino(), netns_ino(W.fd[NS_HOST]));
	assert_int_equal(netns_enter(W.fd[NS_C1], &orig), 0);
	assert_int_equal(current_ino(), netns_ino(W.fd[NS_C1]));
	assert_int_equal(netns_leave(orig), 0);
	assert_int_equal(current_ino(), netns_ino(W.fd[NS_HOST]));

	assert_int_equal(netns_run(W.fd[NS_C2], record_ino, &seen), 42);
	assert_int_equal(seen, netns_ino(W.fd[NS_C2]));
	assert_int_equal(current_ino(), netns_ino(W.fd[NS_HOST]));
}

static void test_link_missing(void **state)
{
	struct nl_link l = { .ifindex = 77 };
	char zz[NL_IFNAMSIZ];

	NEED_KERNEL();
	name(zz, "zz");
	assert_int_equal(nl_link_get(W.host, zz, &l), -ENODEV);
	assert_err_contains(zz);
	assert_int_equal(l.ifindex, 77);
	assert_int_equal(nl_link_exists(W.host, zz), 0);
	assert_int_equal(nl_link_exists(W.host, "lo"), 1);
	assert_int_equal(nl_link_del_if_exists(W.host, zz), 0);
	assert_int_equal(nl_link_del(W.host, zz), -ENODEV);
	assert_err_contains(zz);
	assert_int_equal(nl_link_del_ifindex_if_exists(W.host, 999999), 0);
	assert_int_equal(nl_link_del_ifindex(W.host, 999999), -ENODEV);
	assert_int_equal(nl_link_get(W.host, "bad/name", &l), -EINVAL);
	assert_err_contains("\"bad/name\"");
}

static void test_bridge_ensure(void **state)
{
	char bc[NL_IFNAMSIZ], x0[NL_IFNAMSIZ], x1[NL_IFNAMSIZ];
	int idx = 0, idx2 = 0, st;
	pid_t kids[4];
	json_t *j;

	NEED_KERNEL();
	assert_int_equal(nl_bridge_ensure(W.host, W.br, 1400, &idx), 0);
	assert_true(idx > 0);
	j = IPJ(W.ns[NS_HOST], "-d", "link", "show", "dev", W.br);
	assert_non_null(j);
	assert_string_equal(jstr(json_object_get(json_array_get(j, 0), "linkinfo"), "info_kind"),
			    "bridge");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(j, 0), "mtu")), 1400);
	assert_true(json_array_has_string(json_object_get(json_array_get(j, 0), "flags"), "UP"));
	json_decref(j);

	/* again, and again after someone took it down */
	assert_int_equal(nl_bridge_ensure(W.host, W.br, 1400, &idx2), 0);
	assert_int_equal(idx2, idx);
	assert_int_equal(RUN(NULL, "ip", "-n", W.ns[NS_HOST], "link", "set", W.br, "down"), 0);
	assert_int_equal(nl_bridge_ensure(W.host, W.br, 0, NULL), 0);
	j = IPJ(W.ns[NS_HOST], "link", "show", "dev", W.br);
	assert_true(json_array_has_string(json_object_get(json_array_get(j, 0), "flags"), "UP"));
	json_decref(j);
	W.br_ifindex = idx;

	/* four processes creating the same bridge at once all succeed */
	name(bc, "bc");
	for (int i = 0; i < 4; i++) {
		kids[i] = fork();
		assert_true(kids[i] >= 0);
		if (kids[i] == 0) {
			struct nl_ctx *c = NULL;
			int r = nl_ctx_open(&c);

			if (r == 0)
				r = nl_bridge_ensure(c, bc, 0, NULL);
			if (r < 0)
				fprintf(stderr, "child: %s\n", err_msg(r));
			nl_ctx_free(c);
			_exit(r == 0 ? 0 : 1);
		}
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(waitpid(kids[i], &st, 0), kids[i]);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	assert_int_equal(nl_link_exists(W.host, bc), 1);
	assert_int_equal(nl_link_del(W.host, bc), 0);

	/* a link of another kind under that name */
	name(x0, "x0");
	name(x1, "x1");
	assert_int_equal(nl_veth_create(W.host, &(struct nl_veth){ .name = x0, .peer_name = x1,
								    .peer_netns_fd = -1 },
					NULL, NULL), 0);
	assert_int_equal(nl_bridge_ensure(W.host, x0, 0, NULL), -EEXIST);
	assert_err_contains("kind \"veth\"");
	assert_int_equal(nl_link_del_if_exists(W.host, x0), 1);
	assert_int_equal(nl_link_exists(W.host, x1), 0);
}

static void test_veth(void **state)
{
	static const uint8_t mac[6] = { 0x02, 0x00, 0x5e, 0x10, 0x00, 0x01 };
	struct nl_veth v = { .name = W.v0, .master = W.br_ifindex, .mtu = 1400,
			     .peer_name = "eth0", .peer_netns_fd = W.fd[NS_C1],
			     .peer_mac = mac, .peer_mtu = 1400 };
	char v9[NL_IFNAMSIZ], want[64];
	struct nl_link l;
	int hidx = 0, pidx = 0, x = -5;
	json_t *j, *o;

	NEED_KERNEL();
	assert_true(W.br_ifindex > 0);
	assert_int_equal(nl_veth_create(W.host, &v, &hidx, &pidx), 0);
	assert_true(hidx > 0 && pidx > 0);
	W.v0_ifindex = hidx;
	W.c1_ifindex = pidx;

	assert_int_equal(nl_link_get(W.host, W.v0, &l), 0);
	assert_int_equal(l.ifindex, hidx);
	assert_int_equal(l.master, W.br_ifindex);
	assert_int_equal(l.mtu, 1400);
	assert_true(l.flags & IFF_UP);
	assert_string_equal(l.kind, "veth");
	assert_int_equal(l.peer_ifindex, pidx);
	assert_int_equal(nl_link_get_by_index(W.host, hidx, &l), 0);
	assert_string_equal(l.name, W.v0);

	j = IPJ(W.ns[NS_HOST], "link", "show", "dev", W.v0);
	o = json_array_get(j, 0);
	assert_string_equal(jstr(o, "master"), W.br);
	assert_int_equal(json_integer_value(json_object_get(o, "mtu")), 1400);
	assert_true(json_array_has_string(json_object_get(o, "flags"), "UP"));
	json_decref(j);

	j = IPJ(W.ns[NS_C1], "link", "show", "dev", "eth0");
	o = json_array_get(j, 0);
	assert_non_null(o);
	assert_int_equal(json_integer_value(json_object_get(o, "ifindex")), pidx);
	assert_string_equal(jstr(o, "address"), "02:00:5e:10:00:01");
	assert_int_equal(json_integer_value(json_object_get(o, "mtu")), 1400);
	assert_false(json_array_has_string(json_object_get(o, "flags"), "UP"));
	json_decref(j);

	/* the host end exists */
	err_clear();
	assert_int_equal(nl_veth_create(W.host, &v, &x, NULL), -EEXIST);
	(void)snprintf(want, sizeof(want), "veth \"%s\": File exists", W.v0);
	assert_err_contains(want);
	assert_int_equal(x, -5);

	/* the peer name exists in the target: nothing is left behind */
	name(v9, "v9");
	v.name = v9;
	assert_int_equal(nl_veth_create(W.host, &v, NULL, NULL), -EEXIST);
	assert_err_contains("peer \"eth0\" in the target netns: File exists");
	assert_int_equal(nl_link_exists(W.host, v9), 0);

	v.peer_name = "bad:name";
	assert_int_equal(nl_veth_create(W.host, &v, NULL, NULL), -EINVAL);
	assert_err_contains("\"bad:name\"");
}

static void test_link_set(void **state)
{
	struct nl_ctx *c1 = NULL;
	struct nl_link l;
	char big[NL_ALIAS_MAX + 1];
	json_t *j;

	NEED_KERNEL();
	assert_true(W.v0_ifindex > 0);
	assert_int_equal(nl_link_set_alias(W.host, W.v0_ifindex, "v6pd:cid123/eth0"), 0);
	j = IPJ(W.ns[NS_HOST], "link", "show", "dev", W.v0);
	assert_string_equal(jstr(json_array_get(j, 0), "ifalias"), "v6pd:cid123/eth0");
	json_decref(j);
	assert_int_equal(nl_link_get(W.host, W.v0, &l), 0);
	assert_string_equal(l.alias, "v6pd:cid123/eth0");

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(nl_link_set_alias(W.host, W.v0_ifindex, big), -EINVAL);

	assert_int_equal(nl_link_set_mtu(W.host, W.v0_ifindex, 1300), 0);
	j = IPJ(W.ns[NS_HOST], "link", "show", "dev", W.v0);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(j, 0), "mtu")), 1300);
	json_decref(j);
	assert_int_equal(nl_link_set_mtu(W.host, W.v0_ifindex, 70000), -EINVAL);
	assert_err_contains("set MTU 70000");
	printf("# kernel says: %s\n", err_msg(-1));
	assert_int_equal(nl_link_set_mtu(W.host, W.v0_ifindex, 1400), 0);

	/* the peer comes up from a context opened inside c1, used from here */
	c1 = ctx_in(NS_C1);
	assert_int_equal(nl_link_set_up(c1, W.c1_ifindex), 0);
	j = IPJ(W.ns[NS_C1], "link", "show", "dev", "eth0");
	assert_true(json_array_has_string(json_object_get(json_array_get(j, 0), "flags"), "UP"));
	json_decref(j);
	for (int i = 0; i < 200; i++) {
		assert_int_equal(nl_link_get_by_index(W.host, W.v0_ifindex, &l), 0);
		if (l.operstate == IF_OPER_UP)
			break;
		(void)usleep(10000);
	}
	assert_int_equal(l.operstate, IF_OPER_UP);
	assert_true(l.flags & IFF_LOWER_UP);
	nl_ctx_free(c1);
}

static void test_address(void **state)
{
	struct nl_ctx *c1 = NULL;
	struct nl_address a, b, *list = NULL;
	struct in6_addr x10 = in6("2001:db8:1200::10"), x5 = in6("2001:db8:1300::5");
	int n, found = 0;
	json_t *j, *ai;

	NEED_KERNEL();
	assert_true(W.c1_ifindex > 0);
	c1 = ctx_in(NS_C1);

	nl_address_init(&a, W.c1_ifindex, &x10, 64);
	assert_int_equal(nl_address_add(c1, &a), 0);
	/* NODAD: usable at once, not tentative */
	j = IPJ(W.ns[NS_C1], "-6", "addr", "show", "dev", "eth0");
	ai = find_addr(j, "2001:db8:1200::10");
	assert_non_null(ai);
	assert_int_equal(json_integer_value(json_object_get(ai, "prefixlen")), 64);
	assert_true(json_is_true(json_object_get(ai, "nodad")));
	assert_null(json_object_get(ai, "tentative"));
	json_decref(j);
	assert_int_equal(nl_address_add(c1, &a), 0);	/* replace: idempotent */

	nl_address_init(&b, W.c1_ifindex, &x5, 64);
	b.flags |= IFA_F_NOPREFIXROUTE;
	assert_int_equal(nl_address_add(c1, &b), 0);
	j = IPJ(W.ns[NS_C1], "-6", "route", "show", "dev", "eth0");
	assert_non_null(j);
	{
		size_t i;
		json_t *r;
		bool p1200 = false, p1300 = false;

		json_array_foreach(j, i, r) {
			p1200 |= !strcmp(jstr(r, "dst"), "2001:db8:1200::/64");
			p1300 |= !strcmp(jstr(r, "dst"), "2001:db8:1300::/64");
		}
		assert_true(p1200);
		assert_false(p1300);
	}
	json_decref(j);

	/* deprecate, as renumbering does */
	a.preferred_lft = 0;
	a.valid_lft = 3600;
	assert_int_equal(nl_address_add(c1, &a), 0);
	j = IPJ(W.ns[NS_C1], "-6", "addr", "show", "dev", "eth0");
	ai = find_addr(j, "2001:db8:1200::10");
	assert_true(json_is_true(json_object_get(ai, "deprecated")));
	assert_int_equal(json_integer_value(json_object_get(ai, "preferred_life_time")), 0);
	assert_in_range(json_integer_value(json_object_get(ai, "valid_life_time")), 3590, 3600);
	json_decref(j);

	n = nl_address_list(c1, W.c1_ifindex, &list);
	assert_true(n >= 2);
	for (int i = 0; i < n; i++) {
		assert_int_equal(list[i].ifindex, W.c1_ifindex);
		if (IN6_ARE_ADDR_EQUAL(&list[i].addr, &x10)) {
			found++;
			assert_int_equal(list[i].prefixlen, 64);
			assert_true(list[i].flags & IFA_F_DEPRECATED);
			assert_true(list[i].flags & IFA_F_NODAD);
			assert_int_equal(list[i].preferred_lft, 0);
		}
		if (IN6_ARE_ADDR_EQUAL(&list[i].addr, &x5)) {
			found++;
			assert_true(list[i].flags & IFA_F_NOPREFIXROUTE);
			assert_int_equal(list[i].valid_lft, NL_LIFETIME_FOREVER);
		}
	}
	assert_int_equal(found, 2);
	free(list);

	a.preferred_lft = 4000;
	assert_int_equal(nl_address_add(c1, &a), -EINVAL);
	assert_err_contains("2001:db8:1200::10/64");

	assert_int_equal(nl_address_del(c1, W.c1_ifindex, &x5, 64), 1);
	assert_int_equal(nl_address_del(c1, W.c1_ifindex, &x5, 64), 0);
	assert_int_equal(nl_address_del(c1, W.c1_ifindex, &x10, 64), 1);
	j = IPJ(W.ns[NS_C1], "-6", "addr", "show", "dev", "eth0");
	assert_null(find_addr(j, "2001:db8:1200::10"));
	assert_null(find_addr(j, "2001:db8:1300::5"));
	json_decref(j);
	nl_ctx_free(c1);

	/* the gateway of DESIGN.md decision 6, on the bridge */
	nl_address_init(&a, W.br_ifindex, &(struct in6_addr){ .s6_addr = { 0xfe, 0x80, [15] = 1 } },
			64);
	assert_int_equal(nl_address_add(W.host, &a), 0);
	j = IPJ(W.ns[NS_HOST], "-6", "addr", "show", "dev", W.br);
	ai = find_addr(j, "fe80::1");
	assert_non_null(ai);
	assert_string_equal(jstr(ai, "scope"), "link");
	json_decref(j);
}

static void test_route(void **state)
{
	struct nl_ctx *c1 = NULL;
	struct nl_route def = { .gateway = in6("fe80::1"), .oif = W.c1_ifindex };
	struct nl_route net = { .dst = { .addr = in6("2001:db8:99::"), .len = 64 },
				.oif = W.c1_ifindex };
	struct nl_route *list = NULL;
	int n;
	json_t *j, *o;

	NEED_KERNEL();
	assert_true(W.c1_ifindex > 0);
	c1 = ctx_in(NS_C1);

	assert_int_equal(nl_route_replace(c1, &def), 0);
	assert_int_equal(nl_route_replace(c1, &def), 0);
	j = IPJ(W.ns[NS_C1], "-6", "route", "show", "default");
	assert_int_equal(json_array_size(j), 1);
	o = json_array_get(j, 0);
	assert_string_equal(jstr(o, "gateway"), "fe80::1");
	assert_string_equal(jstr(o, "dev"), "eth0");
	json_decref(j);
	assert_int_equal(nl_route_add(c1, &def), -EEXIST);
	assert_err_contains("route ::/0 via fe80::1");
	assert_int_equal(nl_route_exists(c1, &def), 1);
	def.gateway = in6("fe80::2");
	assert_int_equal(nl_route_exists(c1, &def), 0);
	def.gateway = in6("fe80::1");

	assert_int_equal(nl_route_add(c1, &net), 0);
	j = IPJ(W.ns[NS_C1], "-6", "route", "show", "2001:db8:99::/64");
	assert_int_equal(json_array_size(j), 1);
	assert_string_equal(jstr(json_array_get(j, 0), "dev"), "eth0");
	json_decref(j);
	n = nl_route_list(c1, W.c1_ifindex, &list);
	assert_true(n >= 2);
	free(list);
	assert_int_equal(nl_route_del(c1, &net), 1);
	assert_int_equal(nl_route_del(c1, &net), 0);
	assert_int_equal(nl_route_exists(c1, &net), 0);

	/* a link-local gateway needs an interface */
	assert_int_equal(nl_route_add(c1, &(struct nl_route){ .gateway = in6("fe80::1") }),
			 -EINVAL);
	assert_err_contains("needs an output interface");

	assert_int_equal(nl_route_del(c1, &def), 1);
	j = IPJ(W.ns[NS_C1], "-6", "route", "show", "default");
	assert_int_equal(json_array_size(j), 0);
	json_decref(j);
	nl_ctx_free(c1);
}

static void test_proxy(void **state)
{
	struct in6_addr a = in6("2001:db8:1200::99");
	json_t *j, *o;
	size_t i;
	bool seen = false;

	NEED_KERNEL();
	assert_true(W.br_ifindex > 0);
	assert_int_equal(nl_neigh_proxy_exists(W.host, W.br_ifindex, &a), 0);
	assert_int_equal(nl_neigh_proxy_add(W.host, W.br_ifindex, &a), 0);
	assert_int_equal(nl_neigh_proxy_add(W.host, W.br_ifindex, &a), 0);
	j = IPJ(W.ns[NS_HOST], "-6", "neigh", "show", "proxy");
	json_array_foreach(j, i, o)
		seen |= !strcmp(jstr(o, "dst"), "2001:db8:1200::99") && !strcmp(jstr(o, "dev"), W.br);
	json_decref(j);
	assert_true(seen);
	assert_int_equal(nl_neigh_proxy_exists(W.host, W.br_ifindex, &a), 1);
	assert_int_equal(nl_neigh_proxy_exists(W.host, W.v0_ifindex, &a), 0);
	assert_int_equal(nl_neigh_proxy_del(W.host, W.br_ifindex, &a), 1);
	assert_int_equal(nl_neigh_proxy_del(W.host, W.br_ifindex, &a), 0);
	j = IPJ(W.ns[NS_HOST], "-6", "neigh", "show", "proxy");
	assert_int_equal(json_array_size(j), 0);
	json_decref(j);
}

static char *cat_in(int ns, const char *path)
{
	char *out = NULL;

	assert_int_equal(RUN(&out, "ip", "netns", "exec", W.ns[ns], "cat", (char *)path), 0);
	out[strcspn(out, "\n")] = '\0';
	return out;
}

static int c1_sysctls(void *userdata)
{
	int *v = userdata, r;

	r = sysctl_ipv6_conf_set("eth0", "accept_ra", 0);
	if (r == 0)
		r = sysctl_ipv6_conf_get("eth0", "accept_ra", &v[0]);
	if (r == 0)
		r = sysctl_ipv6_conf_get("all", "forwarding", &v[1]);
	return r;
}

static void test_sysctl(void **state)
{
	static const char *const keys[] = { "accept_ra", "forwarding", "proxy_ndp", "accept_dad",
					    "addr_gen_mode", "disable_ipv6" };
	char zz[NL_IFNAMSIZ], want[96], *s;
	int v[2] = { -1, -1 }, x = -7;

	NEED_KERNEL();
	assert_true(W.c1_ifindex > 0);
	/* inside c1 */
	assert_int_equal(netns_run(W.fd[NS_C1], c1_sysctls, v), 0);
	assert_int_equal(v[0], 0);
	s = cat_in(NS_C1, "/proc/sys/net/ipv6/conf/eth0/accept_ra");
	assert_string_equal(s, "0");
	free(s);

	/* here, in the host namespace: does not leak into c1 */
	assert_int_equal(sysctl_ipv6_conf_set("all", "forwarding", 1), 0);
	s = cat_in(NS_HOST, "/proc/sys/net/ipv6/conf/all/forwarding");
	assert_string_equal(s, "1");
	free(s);
	assert_int_equal(netns_run(W.fd[NS_C1], c1_sysctls, v), 0);
	assert_int_equal(v[1], 0);

	for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++) {
		int got = -1;

		assert_int_equal(sysctl_ipv6_conf_set(W.v0, keys[i], 1), 0);
		assert_int_equal(sysctl_ipv6_conf_get(W.v0, keys[i], &got), 0);
		assert_int_equal(got, 1);
	}
	assert_int_equal(sysctl_ipv6_conf_set(W.v0, "disable_ipv6", 0), 0);

	assert_int_equal(sysctl_ipv6_conf_set("../../../../etc", "x", 1), -EINVAL);
	assert_err_contains("\"../../../../etc\"");
	assert_int_equal(sysctl_ipv6_conf_set("..", "forwarding", 1), -EINVAL);
	assert_int_equal(sysctl_ipv6_conf_set("a/b", "forwarding", 1), -EINVAL);
	assert_int_equal(sysctl_ipv6_conf_set("v6pd1234abcdef01", "forwarding", 1), -EINVAL);
	assert_int_equal(sysctl_ipv6_conf_set("eth0", "../forwarding", 1), -EINVAL);
	assert_err_contains("key \"../forwarding\"");
	name(zz, "zz");
	assert_int_equal(sysctl_ipv6_conf_get(zz, "accept_ra", &x), -ENOENT);
	(void)snprintf(want, sizeof(want), "net.ipv6.conf.%s.accept_ra", zz);
	assert_err_contains(want);
	assert_int_equal(x, -7);
}

struct attach_ms {
	double open, veth, ctx, addr, up, route, total;
};

/* A full bridged attach as the plugin does it: veth with the peer moved into netns ns,
 * address with NODAD, peer up, default route via fe80::1. */
static void attach(int ns, const char *host, const char *addr, struct attach_ms *ms)
{
	struct nl_ctx *c = NULL;
	struct nl_address a;
	struct in6_addr ip = in6(addr);
	double t0, tn, tv, t1, t2, t3, t4;
	int hidx, pidx, orig, fd, r;
	char path[64];

	t0 = now_ms();
	(void)snprintf(path, sizeof(path), "/run/netns/%s", W.ns[ns]);
	assert_int_equal(netns_open(path, &fd), 0);
	tn = now_ms();
	assert_int_equal(nl_veth_create(W.host, &(struct nl_veth){ .name = host,
								    .master = W.br_ifindex,
								    .mtu = 1500, .peer_name = "eth0",
								    .peer_netns_fd = fd,
								    .peer_mtu = 1500 },
					&hidx, &pidx), 0);
	tv = now_ms();
	assert_int_equal(netns_enter(fd, &orig), 0);
	r = nl_ctx_open(&c);
	assert_int_equal(netns_leave(orig), 0);
	assert_int_equal(r, 0);
	t1 = now_ms();
	nl_address_init(&a, pidx, &ip, 64);
	assert_int_equal(nl_address_add(c, &a), 0);
	t2 = now_ms();
	assert_int_equal(nl_link_set_up(c, pidx), 0);
	t3 = now_ms();
	assert_int_equal(nl_route_replace(c, &(struct nl_route){ .gateway = in6("fe80::1"),
								  .oif = pidx }), 0);
	t4 = now_ms();
	nl_ctx_free(c);
	(void)close(fd);
	*ms = (struct attach_ms){ tn - t0, tv - tn, t1 - tv, t2 - t1, t3 - t2, t4 - t3, t4 - t0 };
}

static void test_two_containers_ping(void **state)
{
	char a2[NL_IFNAMSIZ], a3[NL_IFNAMSIZ], *out = NULL;
	struct attach_ms ms2, ms3;
	struct nl_address gw;
	double t;
	int r;
	json_t *j, *ai;

	NEED_KERNEL();
	assert_true(W.br_ifindex > 0);
	name(a2, "a2");
	name(a3, "a3");
	/* the bridge carries the slice's gateway slice::1/64 besides fe80::1: replies to a
	 * container whose link-local is still tentative go to its global address */
	nl_address_init(&gw, W.br_ifindex, &(struct in6_addr){ .s6_addr = { 0x20, 0x01, 0x0d,
		0xb8, 0x12, 0x00, [15] = 1 } }, 64);
	assert_int_equal(nl_address_add(W.host, &gw), 0);
	attach(NS_C2, a2, "2001:db8:1200::a2", &ms2);
	attach(NS_C3, a3, "2001:db8:1200::a3", &ms3);
	for (int i = 0; i < 2; i++) {
		struct attach_ms *m = i ? &ms3 : &ms2;

		printf("# bridged attach %s: %.3f ms (netns open %.3f, veth create+move %.3f, "
		       "context in netns %.3f, addr NODAD %.3f, peer up %.3f, default route %.3f)\n",
		       i ? "c3" : "c2", m->total, m->open, m->veth, m->ctx, m->addr, m->up,
		       m->route);
	}
	j = IPJ(W.ns[NS_C2], "-6", "addr", "show", "dev", "eth0");
	ai = find_addr(j, "2001:db8:1200::a2");
	assert_non_null(ai);
	assert_null(json_object_get(ai, "tentative"));
	json_decref(j);

	r = RUN(&out, "ip", "netns", "exec", W.ns[NS_C2], "ping", "-6", "-c1", "-W2",
		"2001:db8:1200::a3");
	if (r != 0)
		fail_msg("ping c2 -> c3 failed (%d): %s", r, out);
	free(out);
	r = RUN(&out, "ip", "netns", "exec", W.ns[NS_C3], "ping", "-6", "-c1", "-W2",
		"fe80::1%eth0");
	if (r != 0)
		fail_msg("ping c3 -> gateway fe80::1 failed (%d): %s", r, out);
	free(out);

	t = now_ms();
	assert_int_equal(nl_link_del_if_exists(W.host, a2), 1);
	printf("# detach (delete host veth): %.3f ms\n", now_ms() - t);
	j = IPJ(W.ns[NS_C2], "link", "show");
	assert_int_equal(json_array_size(j), 1);	/* lo only: the peer went too */
	assert_string_equal(jstr(json_array_get(j, 0), "ifname"), "lo");
	json_decref(j);
	assert_int_equal(nl_link_del_if_exists(W.host, a2), 0);
	assert_int_equal(nl_link_del_if_exists(W.host, a3), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ifname_validate),
		cmocka_unit_test(test_netns_open),
		cmocka_unit_test(test_netns_enter_leave),
		cmocka_unit_test(test_link_missing),
		cmocka_unit_test(test_bridge_ensure),
		cmocka_unit_test(test_veth),
		cmocka_unit_test(test_link_set),
		cmocka_unit_test(test_address),
		cmocka_unit_test(test_route),
		cmocka_unit_test(test_proxy),
		cmocka_unit_test(test_sysctl),
		cmocka_unit_test(test_two_containers_ping),
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	return cmocka_run_group_tests(tests, setup, teardown);
}
