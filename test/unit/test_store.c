/* The lease store (SQLite backend) through store.h: networks and slices, leases, the host
 * prefix and renumbering, 20,000 acquisitions, and opening damaged or foreign files.
 *
 * Each test gets its own mkdtemp() directory under /tmp (the state dir is "state" inside
 * it, so store_open creates it), removed afterwards. Time is passed explicitly. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "addrgen.h"
#include "err.h"
#include "prefix.h"
#include "store.h"

#define T0 INT64_C(1700000000)
#define HOST56 "2001:db8:1200::/56"

/* --- fixture --- */

struct fx {
	char root[64];
	char dir[96];	/* the state dir: root/state */
	char db[128];	/* dir/leases.db */
	struct store *s;
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	(void)snprintf(f->root, sizeof(f->root), "/tmp/v6pd-store-XXXXXX");
	if (!mkdtemp(f->root)) {
		free(f);
		return -1;
	}
	(void)snprintf(f->dir, sizeof(f->dir), "%s/state", f->root);
	(void)snprintf(f->db, sizeof(f->db), "%s/%s", f->dir, STORE_DB_FILE);
	*state = f;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)chmod(path, 0700);
	return remove(path);
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	int r;

	store_close(f->s);
	r = nftw(f->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return r;
}

/* Opens the store into f->s (closing the one there). */
static void fx_open(struct fx *f)
{
	int r;

	store_close(f->s);
	f->s = NULL;
	err_clear();
	r = store_open(f->dir, &f->s);
	if (r < 0)
		fail_msg("store_open %s: %s", f->dir, err_msg(r));
}

/* A store with the host prefix set. */
static struct fx *fx_host(void **state, const char *host)
{
	struct fx *f = *state;
	struct prefix p;
	bool changed = false;

	fx_open(f);
	assert_int_equal(prefix_from_string(host, &p), 0);
	assert_int_equal(store_prefix_set(f->s, &p, T0, &changed, NULL, NULL), 0);
	assert_true(changed);
	return f;
}

/* --- helpers --- */

static const char *astr(const struct in6_addr *a)
{
	static char buf[8][INET6_ADDRSTRLEN];
	static int i;

	i = (i + 1) % 8;
	return prefix_addr_to_string(a, buf[i], sizeof(buf[i]));
}

static const char *pstr(const struct prefix *p)
{
	static char buf[8][PREFIX_STRLEN];
	static int i;

	i = (i + 1) % 8;
	return prefix_to_string(p, buf[i], sizeof(buf[i]));
}

static struct prefix pfx(const char *s)
{
	struct prefix p;

	assert_int_equal(prefix_from_string(s, &p), 0);
	return p;
}

static struct in6_addr addr(const char *s)
{
	struct in6_addr a;

	assert_int_equal(inet_pton(AF_INET6, s, &a), 1);
	return a;
}

/* Asserts r == want and that the recorded message is exactly msg. */
#define assert_err(call, want, msg)                                 \
	do {                                                        \
		int r_;                                             \
		err_clear();                                        \
		r_ = (call);                                        \
		assert_int_equal(r_, (want));                       \
		assert_string_equal(err_msg(r_), (msg));            \
	} while (0)

#define assert_ok(call)                                                     \
	do {                                                                \
		int r_;                                                     \
		err_clear();                                                \
		r_ = (call);                                                \
		if (r_ < 0)                                                 \
			fail_msg("%s: %d: %s", #call, r_, err_msg(r_));     \
	} while (0)

static struct store_network netcfg(const char *name)
{
	struct store_network n;

	store_network_init(&n, name);
	return n;
}

static int acquire(struct store *s, const struct store_network *cfg, const char *key,
		   const char *cid, int64_t now, struct lease *ret)
{
	struct lease_request rq = { .key = key, .container_id = cid, .ifname = "eth0" };

	return store_lease_acquire(s, cfg, &rq, now, ret);
}

static int acquire_want(struct store *s, const struct store_network *cfg, const char *key,
			const char *want, int64_t now, struct lease *ret)
{
	struct in6_addr a = addr(want);
	struct lease_request rq = { .key = key, .container_id = "c-want", .ifname = "eth0",
				    .want = &a };

	return store_lease_acquire(s, cfg, &rq, now, ret);
}

/* The lease's address is its slice | IID, and the slice is slice_index of base. */
static void assert_lease_consistent(const struct lease *l, const struct prefix *base,
				    unsigned slice_len)
{
	struct prefix slice;
	struct in6_addr a;

	assert_true(l->addr_known);
	assert_int_equal(prefix_slice(base, slice_len, l->slice_index, &slice), 0);
	assert_string_equal(pstr(&l->slice), pstr(&slice));
	prefix_addr_with_host(&slice, l->iid, &a);
	assert_memory_equal(&a, &l->addr, sizeof(a));
	assert_true(prefix_contains(&slice, &l->addr));
	assert_false(addrgen_iid_reserved(l->iid, 128 - slice_len > 64 ? 64 : 128 - slice_len));
}

static int64_t sqlite_pragma(const char *path, const char *pragma)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int64_t v = -1;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, pragma, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	(void)sqlite3_finalize(st);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
	return v;
}

static void sqlite_run(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	char *msg = NULL;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
					 NULL),
			 SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

/* The whole file; *ret_n its size. */
static uint8_t *slurp(const char *path, size_t *ret_n)
{
	struct stat st;
	uint8_t *b;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	b = malloc((size_t)st.st_size + 1);
	assert_non_null(b);
	assert_int_equal(read(fd, b, (size_t)st.st_size), st.st_size);
	(void)close(fd);
	*ret_n = (size_t)st.st_size;
	return b;
}

static void spit(const char *path, const void *b, size_t n, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, b, n), (ssize_t)n);
	assert_int_equal(close(fd), 0);
}

/* --- networks and slices --- */

static void test_net_lowest_free(void **state)
{
	struct fx *f = fx_host(state, HOST56);
	struct store_network a = netcfg("a"), b = netcfg("b"), c = netcfg("c");
	struct store_net_info n, *list = NULL;
	size_t nn = 0;

	assert_ok(store_network_ensure(f->s, &a, T0, &n));
	assert_string_equal(n.name, "a");
	assert_false(n.has_prefix);
	assert_true(n.base_known);
	assert_string_equal(pstr(&n.base), HOST56);
	assert_int_equal(n.slice_len, 64);
	assert_false(n.per_container_slice);
	assert_true(n.has_slice);
	assert_int_equal(n.slice_index, 0);
	assert_string_equal(pstr(&n.slice), "2001:db8:1200::/64");
	assert_int_equal(n.iid, IID_STABLE);
	assert_int_equal(n.max_leases, STORE_DEFAULT_MAX_LEASES);
	assert_int_equal(n.retention, 7 * 24 * 3600);
	assert_int_equal(n.lease_count, 0);
	assert_int_equal(n.created, T0);

	assert_ok(store_network_ensure(f->s, &b, T0 + 1, &n));
	assert_int_equal(n.slice_index, 1);
	assert_string_equal(pstr(&n.slice), "2001:db8:1200:1::/64");
	assert_ok(store_network_ensure(f->s, &c, T0 + 2, &n));
	assert_int_equal(n.slice_index, 2);
	assert_string_equal(pstr(&n.slice), "2001:db8:1200:2::/64");
	/* again: the same slice, created unchanged */
	assert_ok(store_network_ensure(f->s, &a, T0 + 50, &n));
	assert_int_equal(n.slice_index, 0);
	assert_int_equal(n.created, T0);
	/* and after a reopen */
	fx_open(f);
	assert_ok(store_network_ensure(f->s, &b, T0 + 60, &n));
	assert_int_equal(n.slice_index, 1);
	assert_ok(store_network_get(f->s, "c", &n));
	assert_int_equal(n.slice_index, 2);
	assert_err(store_network_get(f->s, "nope", &n), -ENOENT, "no network \"nope\" in the store");

	assert_ok(store_network_list(f->s, &list, &nn));
	assert_int_equal(nn, 3);
	assert_string_equal(list[0].name, "a");
	assert_string_equal(list[1].name, "b");
	assert_string_equal(list[2].name, "c");
	assert_int_equal(list[2].slice_index, 2);
	assert_string_equal(pstr(&list[2].slice), "2001:db8:1200:2::/64");
	free(list);
}

static void test_net_subnet_id(void **state)
{
	struct fx *f = fx_host(state, HOST56);
	struct store_network x = netcfg("x"), y = netcfg("y"), z = netcfg("z"), a = netcfg("a");
	struct store_net_info n;

	x.subnet_id = 5;
	assert_ok(store_network_ensure(f->s, &x, T0, &n));
	assert_int_equal(n.slice_index, 5);
	assert_string_equal(pstr(&n.slice), "2001:db8:1200:5::/64");
	/* allocated ones start at the bottom and go around it */
	for (uint64_t i = 0; i < 6; i++) {
		char name[16];
		struct store_network k;

		(void)snprintf(name, sizeof(name), "auto%llu", (unsigned long long)i);
		k = netcfg(name);
		assert_ok(store_network_ensure(f->s, &k, T0, &n));
		assert_int_equal(n.slice_index, i < 5 ? i : 6);
	}
	/* taken: names the holder */
	y.subnet_id = 5;
	assert_err(store_network_ensure(f->s, &y, T0, &n), -EADDRINUSE,
		   "network \"y\": subnetId 5: that /64 slice of 2001:db8:1200::/56 overlaps one "
		   "held by network \"x\"");
	y.subnet_id = 0;
	assert_err(store_network_ensure(f->s, &y, T0, &n), -EADDRINUSE,
		   "network \"y\": subnetId 0: that /64 slice of 2001:db8:1200::/56 overlaps one "
		   "held by network \"auto0\"");
	assert_err(store_network_get(f->s, "y", &n), -ENOENT, "no network \"y\" in the store");
	/* does not fit: names the range */
	z.subnet_id = 256;
	assert_err(store_network_ensure(f->s, &z, T0, &n), -ERANGE,
		   "network \"z\": subnetId 256: prefix 2001:db8:1200::/56 has 256 /64 slices "
		   "(0..255)");
	z.subnet_id = INT64_MAX;
	assert_int_equal(store_network_ensure(f->s, &z, T0, &n), -ERANGE);
	z.subnet_id = 255;
	assert_ok(store_network_ensure(f->s, &z, T0, &n));
	assert_string_equal(pstr(&n.slice), "2001:db8:1200:ff::/64");
	/* /80: 2^24 slices of the /56 */
	a.slice_len = 80;
	a.subnet_id = INT64_C(1) << 24;
	assert_err(store_network_ensure(f->s, &a, T0, &n), -ERANGE,
		   "network \"a\": subnetId 16777216: prefix 2001:db8:1200::/56 has 16777216 /80 "
		   "slices (0..16777215)");
}

/* /64 and /80 networks on one host prefix never share addresses. */
static void test_net_mixed_lengths(void **state)
{
	struct fx *f = fx_host(state, HOST56);
	struct store_network a = netcfg("a"), b = netcfg("b"), c = netcfg("c"), d = netcfg("d"),
			     e = netcfg("e"), g = netcfg("g"), h = netcfg("h");
	struct store_net_info n;

	assert_ok(store_network_ensure(f->s, &a, T0, &n));
	assert_int_equal(n.slice_index, 0);
	b.slice_len = 80;
	assert_ok(store_network_ensure(f->s, &b, T0, &n));
	/* the first /80 outside /64 slice 0 */
	assert_int_equal(n.slice_index, 65536);
	assert_string_equal(pstr(&n.slice), "2001:db8:1200:1::/80");
	assert_ok(store_network_ensure(f->s, &c, T0, &n));
	assert_int_equal(n.slice_index, 2);
	/* a /80 inside a's /64 */
	d.slice_len = 80;
	d.subnet_id = 3;
	assert_err(store_network_ensure(f->s, &d, T0, &n), -EADDRINUSE,
		   "network \"d\": subnetId 3: that /80 slice of 2001:db8:1200::/56 overlaps one "
		   "held by network \"a\"");
	/* a /64 over b's /80 */
	e.subnet_id = 1;
	assert_err(store_network_ensure(f->s, &e, T0, &n), -EADDRINUSE,
		   "network \"e\": subnetId 1: that /64 slice of 2001:db8:1200::/56 overlaps one "
		   "held by network \"b\"");
	/* a /120: right after b's /80, inside /64 slice 1 */
	g.slice_len = 120;
	assert_ok(store_network_ensure(f->s, &g, T0, &n));
	assert_string_equal(pstr(&n.slice), "2001:db8:1200:1:1::/120");
	/* the next /80 is the one after b's */
	h.slice_len = 80;
	assert_ok(store_network_ensure(f->s, &h, T0, &n));
	assert_string_equal(pstr(&n.slice), "2001:db8:1200:1:2::/80");
}

static void test_net_full(void **state)
{
	struct fx *f = fx_host(state, "2001:db8:1200::/60");
	struct store_net_info n;
	char name[16];

	for (int i = 0; i < 16; i++) {
		struct store_network k;

		(void)snprintf(name, sizeof(name), "n%d", i);
		k = netcfg(name);
		assert_ok(store_network_ensure(f->s, &k, T0, &n));
		assert_int_equal(n.slice_index, i);
	}
	{
		struct store_network k = netcfg("n16");
		struct lease l;

		assert_err(store_network_ensure(f->s, &k, T0, &n), -ENOSPC,
			   "network \"n16\": prefix 2001:db8:1200::/60 has no free /64 slice (16 "
			   "slices in use)");
		/* the same through an acquisition */
		assert_err(acquire(f->s, &k, "key", "c1", T0, &l), -ENOSPC,
			   "network \"n16\": prefix 2001:db8:1200::/60 has no free /64 slice (16 "
			   "slices in use)");
		assert_int_equal(store_network_get(f->s, "n16", &n), -ENOENT);
	}
}

/* A network with its own prefix keeps it and needs no host prefix. */
static void test_net_own_prefix(void **state)
{
	struct fx *f = *state;
	struct store_network o = netcfg("own"), o2 = netcfg("own2"), h = netcfg("host");
	struct store_net_info n;
	struct lease l;

	fx_open(f);
	o.has_prefix = true;
	o.prefix = pfx("2001:db8:ff00::/56");
	assert_ok(store_network_ensure(f->s, &o, T0, &n));
	assert_true(n.has_prefix);
	assert_true(n.base_known);
	assert_string_equal(pstr(&n.base), "2001:db8:ff00::/56");
	assert_string_equal(pstr(&n.slice), "2001:db8:ff00::/64");
	o2.has_prefix = true;
	o2.prefix = o.prefix;
	assert_ok(store_network_ensure(f->s, &o2, T0, &n));
	assert_string_equal(pstr(&n.slice), "2001:db8:ff00:1::/64");
	assert_ok(acquire(f->s, &o, "k1", "c1", T0, &l));
	assert_lease_consistent(&l, &o.prefix, 64);
	assert_int_equal(l.slice_index, 0);

	/* a host network, once the host prefix is set, counts from 0 in its own prefix */
	assert_err(store_network_ensure(f->s, &h, T0, &n), -ENOENT,
		   "network \"host\": no delegated prefix is set and the netconf gives no "
		   "\"prefix\" (v6pdctl prefix set PREFIX)");
	{
		struct prefix p = pfx(HOST56);

		assert_ok(store_prefix_set(f->s, &p, T0, NULL, NULL, NULL));
	}
	assert_ok(store_network_ensure(f->s, &h, T0, &n));
	assert_string_equal(pstr(&n.slice), "2001:db8:1200::/64");
}

/* A network with its own prefix that overlaps the host prefix shares its slice space: never
 * two networks on one slice, whichever base each names. */
static void test_net_own_prefix_overlaps_host(void **state)
{
	struct fx *f = fx_host(state, HOST56);
	struct store_network a = netcfg("a"), same = netcfg("same"), sub = netcfg("sub"),
			     wide = netcfg("wide"), b = netcfg("b");
	struct store_net_info n;
	struct lease la, ls;

	a.iid = IID_SEQUENTIAL;
	assert_ok(store_network_ensure(f->s, &a, T0, &n));
	assert_string_equal(pstr(&n.slice), "2001:db8:1200::/64");
	/* "prefix" equal to the delegated prefix */
	same.has_prefix = true;
	same.prefix = pfx(HOST56);
	same.iid = IID_SEQUENTIAL;
	assert_ok(store_network_ensure(f->s, &same, T0, &n));
	assert_string_equal(pstr(&n.slice), "2001:db8:1200:1::/64");
	assert_ok(acquire(f->s, &a, "k", "c1", T0, &la));
	assert_ok(acquire(f->s, &same, "k", "c2", T0, &ls));
	assert_memory_not_equal(&la.addr, &ls.addr, sizeof(la.addr));
	/* an explicit subnetId onto the host network's slice, from the other base */
	same.name = "same2";
	same.subnet_id = 0;
	assert_err(store_network_ensure(f->s, &same, T0, &n), -EADDRINUSE,
		   "network \"same2\": subnetId 0: that /64 slice of 2001:db8:1200::/56 overlaps "
		   "one held by network \"a\"");
	/* a /60 inside the delegated prefix: its slices 0 and 1 are held */
	sub.has_prefix = true;
	sub.prefix = pfx("2001:db8:1200::/60");
	assert_ok(store_network_ensure(f->s, &sub, T0, &n));
	assert_string_equal(pstr(&n.slice), "2001:db8:1200:2::/64");
	/* a /48 around it: its /64 slices 0..3 are held */
	wide.has_prefix = true;
	wide.prefix = pfx("2001:db8:1200::/48");
	wide.subnet_id = 1;
	assert_err(store_network_ensure(f->s, &wide, T0, &n), -EADDRINUSE,
		   "network \"wide\": subnetId 1: that /64 slice of 2001:db8:1200::/48 overlaps one "
		   "held by network \"same\"");
	wide.subnet_id = 2;
	assert_err(store_network_ensure(f->s, &wide, T0, &n), -EADDRINUSE,
		   "network \"wide\": subnetId 2: that /64 slice of 2001:db8:1200::/48 overlaps one "
		   "held by network \"sub\"");
	wide.subnet_id = 3;
	assert_ok(store_network_ensure(f->s, &wide, T0, &n));
	assert_string_equal(pstr(&n.slice), "2001:db8:1200:3::/64");
	/* and back: a host network skips the slice the /48 network took */
	assert_ok(store_network_ensure(f->s, &b, T0, &n));
	assert_string_equal(pstr(&n.slice), "2001:db8:1200:4::/64");
}

static void test_net_fixed_settings(void **state)
{
	struct fx *f = fx_host(state, HOST56);
	struct store_network w = netcfg("web"), c;
	struct store_net_info n;

	assert_ok(store_network_ensure(f->s, &w, T0, &n));
	assert_int_equal(n.slice_index, 0);

	c = w;
	c.slice_len = 80;
	assert_err(store_network_ensure(f->s, &c, T0, &n), -EINVAL,
		   "network \"web\": sliceLength 80, but the network was created with 64");
	c = w;
	c.has_prefix = true;
	c.prefix = pfx("2001:db8:ff00::/56");
	assert_err(store_network_ensure(f->s, &c, T0, &n), -EINVAL,
		   "network \"web\": prefix 2001:db8:ff00::/56, but the network was created with "
		   "(host) (v6pdctl lease release --forget its leases first)");
	/* the host prefix given as its own "prefix" is still a different setting */
	c.prefix = pfx(HOST56);
	assert_int_equal(store_network_ensure(f->s, &c, T0, &n), -EINVAL);
	c = w;
	c.subnet_id = 3;
	assert_err(store_network_ensure(f->s, &c, T0, &n), -EINVAL,
		   "network \"web\": subnetId 3, but the network holds slice 0");
	c = w;
	c.per_container_slice = true;
	assert_err(store_network_ensure(f->s, &c, T0, &n), -EINVAL,
		   "network \"web\": perContainerSlice true, but the network was created with "
		   "false");
	/* the slice it holds, named: fine */
	c = w;
	c.subnet_id = 0;
	assert_ok(store_network_ensure(f->s, &c, T0, &n));

	/* iid, maxLeases, retention follow the netconf */
	c = w;
	c.iid = IID_SEQUENTIAL;
	c.max_leases = 10;
	c.retention = 60;
	assert_ok(store_network_ensure(f->s, &c, T0 + 5, &n));
	assert_int_equal(n.iid, IID_SEQUENTIAL);
	assert_int_equal(n.max_leases, 10);
	assert_int_equal(n.retention, 60);
	assert_ok(store_network_get(f->s, "web", &n));
	assert_int_equal(n.iid, IID_SEQUENTIAL);
	assert_int_equal(n.max_leases, 10);
	assert_int_equal(n.retention, 60);
	assert_int_equal(n.slice_index, 0);
	assert_int_equal(n.created, T0);

	/* an own-prefix network: another prefix is refused */
	c = netcfg("own");
	c.has_prefix = true;
	c.prefix = pfx("2001:db8:ff00::/56");
	assert_ok(store_network_ensure(f->s, &c, T0, &n));
	c.prefix = pfx("2001:db8:ff00::/48");
	assert_err(store_network_ensure(f->s, &c, T0, &n), -EINVAL,
		   "network \"own\": prefix 2001:db8:ff00::/48, but the network was created with "
		   "2001:db8:ff00::/56 (v6pdctl lease release --forget its leases first)");
	c.has_prefix = false;
	assert_err(store_network_ensure(f->s, &c, T0, &n), -EINVAL,
		   "network \"own\": prefix (host), but the network was created with "
		   "2001:db8:ff00::/56 (v6pdctl lease release --forget its leases first)");

	/* bad settings */
	c = netcfg("bad");
	c.slice_len = 63;
	assert_err(store_network_ensure(f->s, &c, T0, &n), -EINVAL, "sliceLength 63: must be 64..120");
	c.slice_len = 121;
	assert_err(store_network_ensure(f->s, &c, T0, &n), -EINVAL,
		   "sliceLength 121: must be 64..120");
	c = netcfg("bad");
	c.max_leases = 0;
	assert_err(store_network_ensure(f->s, &c, T0, &n), -EINVAL, "maxLeases 0: must be at least 1");
	c = netcfg("bad");
	c.retention = -1;
	assert_err(store_network_ensure(f->s, &c, T0, &n), -EINVAL,
		   "retention: must not be negative");
	c = netcfg("bad");
	c.per_container_slice = true;
	c.subnet_id = 2;
	assert_err(store_network_ensure(f->s, &c, T0, &n), -EINVAL,
		   "subnetId 2: not with perContainerSlice");
	c = netcfg("");
	assert_err(store_network_ensure(f->s, &c, T0, &n), -EINVAL,
		   "network name: must not be empty");
	c = netcfg("a\nb");
	assert_err(store_network_ensure(f->s, &c, T0, &n), -EINVAL,
		   "network name \"a\\x0ab\": contains a control character");
	assert_int_equal(store_network_get(f->s, "bad", &n), -ENOENT);
}

/* perContainerSlice: each lease owns a slice, allocated around the networks' slices. */
static void test_net_per_container_slice(void **state)
{
	struct fx *f = fx_host(state, HOST56);
	struct store_network pcs = netcfg("pcs"), a = netcfg("a"), b = netcfg("b");
	struct store_net_info n;
	struct lease l[6];
	struct prefix host = pfx(HOST56);

	assert_ok(store_network_ensure(f->s, &a, T0, &n));
	assert_int_equal(n.slice_index, 0);
	pcs.slice_len = 80;
	pcs.per_container_slice = true;
	assert_ok(store_network_ensure(f->s, &pcs, T0, &n));
	assert_true(n.per_container_slice);
	assert_false(n.has_slice);
	assert_int_equal(n.slice_len, 80);

	assert_ok(acquire(f->s, &pcs, "k1", "c1", T0, &l[0]));
	assert_ok(acquire(f->s, &pcs, "k2", "c2", T0, &l[1]));
	assert_ok(acquire(f->s, &pcs, "k3", "c3", T0, &l[2]));
	for (int i = 0; i < 3; i++) {
		assert_int_equal(l[i].slice_index, 65536 + i);
		assert_lease_consistent(&l[i], &host, 80);
	}
	assert_string_equal(pstr(&l[0].slice), "2001:db8:1200:1::/80");
	assert_string_equal(pstr(&l[2].slice), "2001:db8:1200:1:2::/80");
	/* the same key keeps its slice */
	assert_ok(acquire(f->s, &pcs, "k2", "c9", T0 + 1, &l[3]));
	assert_int_equal(l[3].slice_index, 65537);
	assert_memory_equal(&l[3].addr, &l[1].addr, sizeof(l[1].addr));
	/* a /64 network goes around them */
	assert_ok(store_network_ensure(f->s, &b, T0, &n));
	assert_int_equal(n.slice_index, 2);
	/* a forgotten lease frees its slice */
	assert_ok(store_lease_forget(f->s, "pcs", "k2"));
	assert_ok(acquire(f->s, &pcs, "k4", "c4", T0, &l[4]));
	assert_int_equal(l[4].slice_index, 65537);
	/* so does an expired reservation */
	pcs.retention = 10;
	assert_ok(acquire(f->s, &pcs, "k4", "c4", T0, &l[4]));
	assert_ok(store_lease_release(f->s, "pcs", "k4", T0 + 100, NULL));
	assert_int_equal(store_gc_expired(f->s, T0 + 110, -1), 1);
	assert_ok(acquire(f->s, &pcs, "k5", "c5", T0 + 200, &l[5]));
	assert_int_equal(l[5].slice_index, 65537);

	/* a requested address picks the slice */
	assert_ok(acquire_want(f->s, &pcs, "k6", "2001:db8:1200:7:5::1234", T0, &l[0]));
	assert_string_equal(pstr(&l[0].slice), "2001:db8:1200:7:5::/80");
	assert_string_equal(astr(&l[0].addr), "2001:db8:1200:7:5::1234");
	/* ... refused inside another lease's slice, naming the key */
	assert_err(acquire_want(f->s, &pcs, "k7", "2001:db8:1200:7:5::99", T0, &l[1]), -EADDRINUSE,
		   "address \"2001:db8:1200:7:5::99\": its /80 slice is leased to key \"k6\"");
	/* ... and inside a network's slice, naming the network */
	assert_err(acquire_want(f->s, &pcs, "k7", "2001:db8:1200::99", T0, &l[1]), -EADDRINUSE,
		   "address \"2001:db8:1200::99\": its /80 slice overlaps network \"a\"'s slice");
	/* ... and outside the prefix */
	assert_err(acquire_want(f->s, &pcs, "k7", "2001:db8:1300::99", T0, &l[1]), -EINVAL,
		   "address \"2001:db8:1300::99\": outside network \"pcs\"'s prefix 2001:db8:1200::/56");
	/* the key moving inside its slice */
	assert_ok(acquire_want(f->s, &pcs, "k6", "2001:db8:1200:7:5::99", T0, &l[0]));
	assert_string_equal(astr(&l[0].addr), "2001:db8:1200:7:5::99");
	/* ... but not out of it */
	assert_err(acquire_want(f->s, &pcs, "k6", "2001:db8:1200:7:6::99", T0, &l[0]), -EINVAL,
		   "address \"2001:db8:1200:7:6::99\": outside the lease's slice 2001:db8:1200:7:5::/80");
}

/* --- leases --- */

static void test_lease_same_key(void **state)
{
	struct fx *f = fx_host(state, HOST56);
	struct store_network w = netcfg("web");
	struct prefix host = pfx(HOST56);
	struct lease l1, l2, l3;
	struct lease_request rq = {
		.key = "default/nginx", .container_id = "c1", .ifname = "eth0",
		.netns = "/run/netns/c1", .hostname = "nginx", .mac = "02:00:00:00:00:01",
	};
	char secret[160];

	assert_ok(store_lease_acquire(f->s, &w, &rq, T0, &l1));
	assert_string_equal(l1.network, "web");
	assert_string_equal(l1.key, "default/nginx");
	assert_int_equal(l1.slice_index, 0);
	assert_lease_consistent(&l1, &host, 64);
	assert_int_equal(prefix_addr_low64(&l1.addr), l1.iid);
	assert_string_equal(l1.container_id, "c1");
	assert_string_equal(l1.ifname, "eth0");
	assert_string_equal(l1.netns, "/run/netns/c1");
	assert_string_equal(l1.hostname, "nginx");
	assert_string_equal(l1.mac, "02:00:00:00:00:01");
	assert_int_equal(l1.state, LEASE_ACTIVE);
	assert_false(l1.pinned);
	assert_int_equal(l1.created, T0);
	assert_int_equal(l1.updated, T0);
	assert_int_equal(l1.released, 0);
	assert_int_equal(l1.expires, 0);
	/* the secret appeared, 0600 */
	(void)snprintf(secret, sizeof(secret), "%s/%s", f->dir, ADDRGEN_SECRET_FILE);
	assert_int_equal(mode_of(secret), 0600);

	/* the same key, another container: the same address, now attached to it */
	rq.container_id = "c2";
	rq.ifname = "net1";
	assert_ok(store_lease_acquire(f->s, &w, &rq, T0 + 10, &l2));
	assert_memory_equal(&l2.addr, &l1.addr, sizeof(l1.addr));
	assert_int_equal(l2.iid, l1.iid);
	assert_string_equal(l2.container_id, "c2");
	assert_string_equal(l2.ifname, "net1");
	assert_int_equal(l2.created, T0);
	assert_int_equal(l2.updated, T0 + 10);
	/* another key: another address */
	assert_ok(acquire(f->s, &w, "default/redis", "c3", T0, &l3));
	assert_memory_not_equal(&l3.addr, &l1.addr, sizeof(l1.addr));
	assert_lease_consistent(&l3, &host, 64);

	/* across a close and open */
	fx_open(f);
	assert_ok(store_lease_get(f->s, "web", "default/nginx", &l2));
	assert_memory_equal(&l2.addr, &l1.addr, sizeof(l1.addr));
	assert_string_equal(l2.container_id, "c2");
	rq.container_id = "c4";
	assert_ok(store_lease_acquire(f->s, &w, &rq, T0 + 20, &l2));
	assert_memory_equal(&l2.addr, &l1.addr, sizeof(l1.addr));
	assert_ok(acquire(f->s, &w, "default/redis", "c5", T0 + 20, &l2));
	assert_memory_equal(&l2.addr, &l3.addr, sizeof(l3.addr));

	assert_err(store_lease_get(f->s, "web", "nope", &l2), -ENOENT,
		   "network \"web\" has no lease for key \"nope\"");

	/* every network's leases, by network and key, with addresses */
	{
		struct store_network o = netcfg("app");
		struct lease *v = NULL;
		size_t n = 0;

		assert_ok(acquire(f->s, &o, "zz", "c6", T0, &l2));
		assert_ok(store_lease_list(f->s, NULL, &v, &n));
		assert_int_equal(n, 3);
		assert_string_equal(v[0].network, "app");
		assert_string_equal(v[1].key, "default/nginx");
		assert_string_equal(v[2].key, "default/redis");
		assert_memory_equal(&v[1].addr, &l1.addr, sizeof(l1.addr));
		assert_lease_consistent(&v[0], &host, 64);
		assert_int_equal(v[0].slice_index, 1);
		free(v);
		assert_ok(store_lease_list(f->s, "nonet", &v, &n));
		assert_int_equal(n, 0);
		free(v);
	}
}

static void test_lease_release_retention(void **state)
{
	struct fx *f = fx_host(state, HOST56);
	struct store_network w = netcfg("web");
	struct lease l1, l2;

	w.retention = 3600;
	assert_ok(acquire(f->s, &w, "k1", "c1", T0, &l1));
	assert_ok(store_lease_release(f->s, "web", "k1", T0 + 100, &l2));
	assert_int_equal(l2.state, LEASE_RESERVED);
	assert_int_equal(l2.released, T0 + 100);
	assert_int_equal(l2.expires, T0 + 100 + 3600);
	assert_int_equal(l2.updated, T0 + 100);
	assert_true(l2.addr_known);
	assert_memory_equal(&l2.addr, &l1.addr, sizeof(l1.addr));
	assert_ok(store_lease_get(f->s, "web", "k1", &l2));
	assert_int_equal(l2.state, LEASE_RESERVED);
	assert_int_equal(l2.expires, T0 + 3700);
	assert_string_equal(lease_state_to_string(l2.state), "reserved");
	/* releasing again changes nothing */
	assert_ok(store_lease_release(f->s, "web", "k1", T0 + 200, &l2));
	assert_int_equal(l2.released, T0 + 100);
	assert_int_equal(l2.expires, T0 + 3700);

	/* back before the reservation ended: the same address, active */
	assert_ok(acquire(f->s, &w, "k1", "c2", T0 + 3699, &l2));
	assert_memory_equal(&l2.addr, &l1.addr, sizeof(l1.addr));
	assert_int_equal(l2.state, LEASE_ACTIVE);
	assert_string_equal(lease_state_to_string(l2.state), "active");
	assert_int_equal(l2.released, 0);
	assert_int_equal(l2.expires, 0);
	assert_string_equal(l2.container_id, "c2");

	/* retention follows the netconf of the last acquisition */
	w.retention = 60;
	assert_ok(acquire(f->s, &w, "k1", "c2", T0 + 4000, &l2));
	assert_ok(store_lease_release(f->s, "web", "k1", T0 + 4000, &l2));
	assert_int_equal(l2.expires, T0 + 4060);

	assert_err(store_lease_release(f->s, "web", "nope", T0, &l2), -ENOENT,
		   "network \"web\" has no lease for key \"nope\"");
	assert_err(store_lease_release(f->s, "nonet", "k1", T0, &l2), -ENOENT,
		   "network \"nonet\" has no lease for key \"k1\"");
}

static void test_lease_want(void **state)
{
	struct fx *f = fx_host(state, HOST56);
	struct store_network w = netcfg("web");
	struct lease l, k1, k2;

	assert_ok(acquire_want(f->s, &w, "k1", "2001:db8:1200::abcd", T0, &k1));
	assert_string_equal(astr(&k1.addr), "2001:db8:1200::abcd");
	assert_int_equal(k1.iid, 0xabcd);
	assert_int_equal(k1.slice_index, 0);
	/* held by another key: names it */
	assert_err(acquire_want(f->s, &w, "k2", "2001:db8:1200::abcd", T0, &l), -EADDRINUSE,
		   "address \"2001:db8:1200::abcd\": already leased to key \"k1\"");
	assert_int_equal(store_lease_get(f->s, "web", "k2", &l), -ENOENT);
	/* ... also while reserved */
	assert_ok(store_lease_release(f->s, "web", "k1", T0, NULL));
	assert_err(acquire_want(f->s, &w, "k2", "2001:db8:1200::abcd", T0, &l), -EADDRINUSE,
		   "address \"2001:db8:1200::abcd\": already leased to key \"k1\"");
	/* outside the slice */
	assert_err(acquire_want(f->s, &w, "k2", "2001:db8:1200:1::5", T0, &l), -EINVAL,
		   "address \"2001:db8:1200:1::5\": outside web's slice 2001:db8:1200::/64");
	assert_err(acquire_want(f->s, &w, "k2", "fe80::5", T0, &l), -EINVAL,
		   "address \"fe80::5\": outside web's slice 2001:db8:1200::/64");
	/* reserved IIDs */
	assert_err(acquire_want(f->s, &w, "k2", "2001:db8:1200::", T0, &l), -EADDRNOTAVAIL,
		   "address \"2001:db8:1200::\": reserved (subnet anycast, gateway or RFC 5453)");
	assert_err(acquire_want(f->s, &w, "k2", "2001:db8:1200::1", T0, &l), -EADDRNOTAVAIL,
		   "address \"2001:db8:1200::1\": reserved (subnet anycast, gateway or RFC 5453)");
	assert_err(acquire_want(f->s, &w, "k2", "2001:db8:1200:0:200:5eff:fe00:5213", T0, &l),
		   -EADDRNOTAVAIL,
		   "address \"2001:db8:1200:0:200:5eff:fe00:5213\": reserved (subnet anycast, gateway "
		   "or RFC 5453)");
	assert_err(acquire_want(f->s, &w, "k2", "2001:db8:1200:0:fdff:ffff:ffff:ffff", T0, &l),
		   -EADDRNOTAVAIL,
		   "address \"2001:db8:1200:0:fdff:ffff:ffff:ffff\": reserved (subnet anycast, gateway "
		   "or RFC 5453)");
	assert_int_equal(store_lease_get(f->s, "web", "k2", &l), -ENOENT);

	/* k2 with a stable address, then asking for a free one: it moves */
	assert_ok(acquire(f->s, &w, "k2", "c2", T0, &k2));
	assert_ok(acquire_want(f->s, &w, "k2", "2001:db8:1200::2", T0 + 1, &l));
	assert_string_equal(astr(&l.addr), "2001:db8:1200::2");
	assert_int_equal(l.iid, 2);
	assert_int_equal(l.created, T0);
	assert_ok(store_lease_get(f->s, "web", "k2", &l));
	assert_string_equal(astr(&l.addr), "2001:db8:1200::2");
	/* its old address is free for anyone */
	assert_ok(acquire_want(f->s, &w, "k3", astr(&k2.addr), T0, &l));
	assert_memory_equal(&l.addr, &k2.addr, sizeof(l.addr));
	/* its own address again: fine */
	assert_ok(acquire_want(f->s, &w, "k2", "2001:db8:1200::2", T0 + 2, &l));
	assert_string_equal(astr(&l.addr), "2001:db8:1200::2");
	/* moving onto k1's: refused, k2 stays where it was */
	assert_err(acquire_want(f->s, &w, "k2", "2001:db8:1200::abcd", T0, &l), -EADDRINUSE,
		   "address \"2001:db8:1200::abcd\": already leased to key \"k1\"");
	assert_ok(store_lease_get(f->s, "web", "k2", &l));
	assert_string_equal(astr(&l.addr), "2001:db8:1200::2");
	/* k1 comes back without asking: its own address */
	assert_ok(acquire(f->s, &w, "k1", "c1", T0, &l));
	assert_string_equal(astr(&l.addr), "2001:db8:1200::abcd");
	assert_int_equal(l.state, LEASE_ACTIVE);

	/* a /80 network: the IID is the 48 host bits */
	{
		struct store_network e = netcfg("e80");

		e.slice_len = 80;
		e.subnet_id = 0x10000 * 5 + 7;
		assert_ok(acquire_want(f->s, &e, "k1", "2001:db8:1200:5:7:1:2:3", T0, &l));
		assert_int_equal(l.iid, UINT64_C(0x000100020003));
		assert_string_equal(pstr(&l.slice), "2001:db8:1200:5:7::/80");
		assert_err(acquire_want(f->s, &e, "k2", "2001:db8:1200:5:7:ffff:ffff:ff80", T0, &l),
			   -EADDRNOTAVAIL,
			   "address \"2001:db8:1200:5:7:ffff:ffff:ff80\": reserved (subnet anycast, "
			   "gateway or RFC 5453)");
		assert_ok(acquire_want(f->s, &e, "k2", "2001:db8:1200:5:7:ffff:ffff:ff7f", T0, &l));
	}
}

static void test_lease_max_leases(void **state)
{
	struct fx *f = fx_host(state, HOST56);
	struct store_network w = netcfg("web");
	struct store_net_info n;
	struct lease l, k1;

	w.max_leases = 3;
	w.retention = 100;
	assert_ok(acquire(f->s, &w, "k1", "c1", T0, &k1));
	assert_ok(acquire(f->s, &w, "k2", "c2", T0, &l));
	assert_ok(acquire(f->s, &w, "k3", "c3", T0, &l));
	assert_ok(store_network_get(f->s, "web", &n));
	assert_int_equal(n.lease_count, 3);
	assert_err(acquire(f->s, &w, "k4", "c4", T0, &l), -ENOSPC,
		   "network \"web\": maxLeases 3 reached; release leases (v6pdctl gc) or raise "
		   "maxLeases");
	/* a requested address does not get around it */
	assert_err(acquire_want(f->s, &w, "k4", "2001:db8:1200::44", T0, &l), -ENOSPC,
		   "network \"web\": maxLeases 3 reached; release leases (v6pdctl gc) or raise "
		   "maxLeases");
	/* keys that hold a lease still get it */
	assert_ok(acquire(f->s, &w, "k1", "c1b", T0 + 1, &l));
	assert_memory_equal(&l.addr, &k1.addr, sizeof(l.addr));
	/* a reservation still counts... */
	assert_ok(store_lease_release(f->s, "web", "k1", T0 + 10, NULL));
	assert_err(acquire(f->s, &w, "k4", "c4", T0 + 109, &l), -ENOSPC,
		   "network \"web\": maxLeases 3 reached; release leases (v6pdctl gc) or raise "
		   "maxLeases");
	assert_ok(store_lease_get(f->s, "web", "k1", &l));
	/* ... until it ends: freed lazily by the next acquisition */
	assert_ok(acquire(f->s, &w, "k4", "c4", T0 + 110, &l));
	assert_err(store_lease_get(f->s, "web", "k1", &l), -ENOENT,
		   "network \"web\" has no lease for key \"k1\"");
	assert_ok(store_network_get(f->s, "web", &n));
	assert_int_equal(n.lease_count, 3);
	/* raising maxLeases in the netconf works at once */
	w.max_leases = 4;
	assert_ok(acquire(f->s, &w, "k5", "c5", T0 + 200, &l));
	assert_ok(store_network_get(f->s, "web", &n));
	assert_int_equal(n.lease_count, 4);
	assert_int_equal(n.max_leases, 4);
}

static void test_gc_expired(void **state)
{
	struct fx *f = fx_host(state, HOST56);
	struct store_network w = netcfg("web"), o = netcfg("other");
	struct lease_request pin = { .key = "pinned" };
	struct lease l;

	w.retention = 100;
	o.retention = 1000;
	assert_ok(acquire(f->s, &w, "k1", "c1", T0, &l));
	assert_ok(acquire(f->s, &w, "k2", "c2", T0, &l));
	assert_ok(acquire(f->s, &w, "active", "c3", T0, &l));
	assert_ok(acquire(f->s, &o, "k1", "c4", T0, &l));
	pin.reserve_only = true;
	assert_ok(store_lease_acquire(f->s, &w, &pin, T0, &l));
	assert_int_equal(l.state, LEASE_RESERVED);
	assert_true(l.pinned);
	assert_int_equal(l.expires, 0);
	assert_string_equal(l.container_id, "");

	assert_ok(store_lease_release(f->s, "web", "k1", T0 + 1000, NULL));	/* ends 1100 */
	assert_ok(store_lease_release(f->s, "web", "k2", T0 + 1050, NULL));	/* ends 1150 */
	assert_ok(store_lease_release(f->s, "other", "k1", T0 + 1000, NULL));	/* ends 2000 */
	assert_ok(store_lease_release(f->s, "web", "pinned", T0 + 1000, &l));
	assert_int_equal(l.expires, 0);

	assert_int_equal(store_gc_expired(f->s, T0 + 1099, -1), 0);
	assert_int_equal(store_gc_expired(f->s, T0 + 1100, -1), 1);
	assert_int_equal(store_lease_get(f->s, "web", "k1", &l), -ENOENT);
	assert_ok(store_lease_get(f->s, "web", "k2", &l));
	/* older_than: released at least that long ago, whatever the retention */
	assert_int_equal(store_gc_expired(f->s, T0 + 1100, 101), 0);
	assert_int_equal(store_gc_expired(f->s, T0 + 1100, 100), 1);	/* other/k1 */
	assert_int_equal(store_gc_expired(f->s, T0 + 1100, 51), 0);
	assert_int_equal(store_gc_expired(f->s, T0 + 1100, 50), 1);	/* web/k2 */
	assert_int_equal(store_lease_get(f->s, "web", "k2", &l), -ENOENT);
	assert_int_equal(store_lease_get(f->s, "other", "k1", &l), -ENOENT);
	/* pinned leases never expire, active ones are never touched */
	assert_int_equal(store_gc_expired(f->s, INT64_MAX / 2, 0), 0);
	assert_ok(store_lease_get(f->s, "web", "pinned", &l));
	assert_int_equal(l.state, LEASE_RESERVED);
	assert_ok(store_lease_get(f->s, "web", "active", &l));
	assert_int_equal(l.state, LEASE_ACTIVE);

	/* a pinned lease in use, released: still pinned, never expiring */
	assert_ok(acquire(f->s, &w, "pinned", "c9", T0 + 2000, &l));
	assert_int_equal(l.state, LEASE_ACTIVE);
	assert_true(l.pinned);
	assert_ok(store_lease_release(f->s, "web", "pinned", T0 + 2001, &l));
	assert_int_equal(l.state, LEASE_RESERVED);
	assert_int_equal(l.released, T0 + 2001);
	assert_int_equal(l.expires, 0);
	assert_int_equal(store_gc_expired(f->s, INT64_MAX / 2, 0), 0);
	/* pinning an active lease keeps it active */
	assert_ok(store_lease_acquire(f->s, &w, &pin, T0 + 3000, &l));
	assert_ok(store_lease_acquire(f->s, &w, &(struct lease_request){ .key = "active",
									 .reserve_only = true },
				      T0 + 3000, &l));
	assert_int_equal(l.state, LEASE_ACTIVE);
	assert_true(l.pinned);
	assert_string_equal(l.container_id, "c3");
}

static bool has_key(const struct lease *v, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].key, key) == 0)
			return true;
	return false;
}

static void test_gc_attachments(void **state)
{
	struct fx *f = fx_host(state, HOST56);
	struct store_network w = netcfg("web"), o = netcfg("other");
	struct lease_request rq = { .ifname = "eth0" };
	struct lease l, *v = NULL;
	size_t n = 0;
	const struct store_attachment valid[] = {
		{ "c2", "eth0" },
		{ "c3", "eth0" },	/* c3 has net1, not eth0 */
		{ "gone", "eth0" },
	};

	w.retention = 500;
	assert_ok(acquire(f->s, &w, "k1", "c1", T0, &l));
	assert_ok(acquire(f->s, &w, "k2", "c2", T0, &l));
	rq.key = "k3";
	rq.container_id = "c3";
	rq.ifname = "net1";
	assert_ok(store_lease_acquire(f->s, &w, &rq, T0, &l));
	rq.key = "k3b";
	rq.ifname = "eth0";
	assert_ok(store_lease_acquire(f->s, &w, &rq, T0, &l));
	assert_ok(acquire(f->s, &w, "k4", "c4", T0, &l));
	assert_ok(store_lease_release(f->s, "web", "k4", T0, NULL));	/* already reserved */
	assert_ok(acquire(f->s, &o, "k1", "c1", T0, &l));		/* another network */

	assert_int_equal(store_gc_attachments(f->s, "web", valid, 3, T0 + 10, &v, &n), 2);
	assert_int_equal(n, 2);
	assert_true(has_key(v, n, "k1"));
	assert_true(has_key(v, n, "k3"));
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(v[i].state, LEASE_RESERVED);
		assert_int_equal(v[i].released, T0 + 10);
		assert_int_equal(v[i].expires, T0 + 510);
		assert_true(v[i].addr_known);
	}
	free(v);
	v = NULL;
	assert_ok(store_lease_get(f->s, "web", "k2", &l));
	assert_int_equal(l.state, LEASE_ACTIVE);
	assert_ok(store_lease_get(f->s, "web", "k3b", &l));
	assert_int_equal(l.state, LEASE_ACTIVE);
	assert_ok(store_lease_get(f->s, "web", "k4", &l));
	assert_int_equal(l.released, T0);
	assert_ok(store_lease_get(f->s, "other", "k1", &l));
	assert_int_equal(l.state, LEASE_ACTIVE);
	/* again: nothing more */
	assert_int_equal(store_gc_attachments(f->s, "web", valid, 3, T0 + 20, &v, &n), 0);
	assert_int_equal(n, 0);
	free(v);
	/* ret NULL; an empty list releases every active lease of the network */
	assert_int_equal(store_gc_attachments(f->s, "web", NULL, 0, T0 + 30, NULL, NULL), 2);
	assert_ok(store_lease_get(f->s, "web", "k2", &l));
	assert_int_equal(l.state, LEASE_RESERVED);
	assert_ok(store_lease_get(f->s, "other", "k1", &l));
	assert_int_equal(l.state, LEASE_ACTIVE);
	/* and it ends reservations that are over: k4's (ends T0 + 500) */
	assert_int_equal(store_gc_attachments(f->s, "web", NULL, 0, T0 + 500, NULL, NULL), 0);
	assert_int_equal(store_lease_get(f->s, "web", "k4", &l), -ENOENT);
	assert_ok(store_lease_get(f->s, "web", "k1", &l));
}

static void test_release_attachment(void **state)
{
	struct fx *f = fx_host(state, HOST56);
	struct store_network w = netcfg("web");
	struct lease l, first;

	assert_ok(acquire(f->s, &w, "pod", "c1", T0, &first));
	assert_ok(store_lease_get_attachment(f->s, "web", "c1", "eth0", &l));
	assert_string_equal(l.key, "pod");
	assert_memory_equal(&l.addr, &first.addr, sizeof(l.addr));
	/* the key taken over by a new container before the old one's DEL */
	assert_ok(acquire(f->s, &w, "pod", "c2", T0 + 1, &l));
	assert_err(store_lease_release_attachment(f->s, "web", "c1", "eth0", T0 + 2, &l), -ENOENT,
		   "network \"web\" has no active lease for container \"c1\" ifname \"eth0\"");
	assert_ok(store_lease_get(f->s, "web", "pod", &l));
	assert_int_equal(l.state, LEASE_ACTIVE);
	assert_string_equal(l.container_id, "c2");
	assert_err(store_lease_get_attachment(f->s, "web", "c1", "eth0", &l), -ENOENT,
		   "network \"web\" has no active lease for container \"c1\" ifname \"eth0\"");
	/* another ifname of the same container is another attachment */
	assert_int_equal(store_lease_release_attachment(f->s, "web", "c2", "eth1", T0 + 2, &l),
			 -ENOENT);
	/* the new container's DEL */
	assert_ok(store_lease_release_attachment(f->s, "web", "c2", "eth0", T0 + 3, &l));
	assert_string_equal(l.key, "pod");
	assert_int_equal(l.state, LEASE_RESERVED);
	assert_int_equal(l.released, T0 + 3);
	assert_memory_equal(&l.addr, &first.addr, sizeof(l.addr));
	/* twice: nothing active is left there */
	assert_int_equal(store_lease_release_attachment(f->s, "web", "c2", "eth0", T0 + 4, &l),
			 -ENOENT);
	assert_ok(store_lease_get(f->s, "web", "pod", &l));
	assert_int_equal(l.released, T0 + 3);
}

static void test_forget(void **state)
{
	struct fx *f = fx_host(state, HOST56);
	struct store_network w = netcfg("web");
	struct store_net_info n;
	struct lease k1, l;

	assert_ok(acquire(f->s, &w, "k1", "c1", T0, &k1));
	assert_ok(acquire(f->s, &w, "k2", "c2", T0, &l));
	assert_ok(store_lease_forget(f->s, "web", "k1"));
	assert_int_equal(store_lease_get(f->s, "web", "k1", &l), -ENOENT);
	assert_ok(store_network_get(f->s, "web", &n));
	assert_int_equal(n.lease_count, 1);
	/* its address is free for anyone at once */
	assert_ok(acquire_want(f->s, &w, "k3", astr(&k1.addr), T0, &l));
	assert_memory_equal(&l.addr, &k1.addr, sizeof(l.addr));
	assert_err(store_lease_forget(f->s, "web", "k1"), -ENOENT,
		   "network \"web\" has no lease for key \"k1\"");
	assert_int_equal(store_lease_forget(f->s, "nonet", "k1"), -ENOENT);
}

static void test_sequential(void **state)
{
	struct fx *f = fx_host(state, HOST56);
	struct store_network w = netcfg("seq"), nar = netcfg("narrow");
	struct lease l;
	char key[16];

	w.iid = IID_SEQUENTIAL;
	assert_ok(acquire(f->s, &w, "k1", "c1", T0, &l));
	assert_string_equal(astr(&l.addr), "2001:db8:1200::2");
	assert_ok(acquire(f->s, &w, "k2", "c2", T0, &l));
	assert_string_equal(astr(&l.addr), "2001:db8:1200::3");
	assert_ok(acquire(f->s, &w, "k3", "c3", T0, &l));
	assert_string_equal(astr(&l.addr), "2001:db8:1200::4");
	assert_int_equal(l.iid, 4);
	/* gaps are filled */
	assert_ok(store_lease_forget(f->s, "seq", "k2"));
	assert_ok(acquire(f->s, &w, "k4", "c4", T0, &l));
	assert_string_equal(astr(&l.addr), "2001:db8:1200::3");
	assert_ok(store_lease_forget(f->s, "seq", "k1"));
	assert_ok(acquire(f->s, &w, "k5", "c5", T0, &l));
	assert_string_equal(astr(&l.addr), "2001:db8:1200::2");
	assert_ok(acquire(f->s, &w, "k6", "c6", T0, &l));
	assert_string_equal(astr(&l.addr), "2001:db8:1200::5");
	/* around a requested address */
	assert_ok(acquire_want(f->s, &w, "k7", "2001:db8:1200::7", T0, &l));
	assert_ok(acquire(f->s, &w, "k8", "c8", T0, &l));
	assert_string_equal(astr(&l.addr), "2001:db8:1200::6");
	assert_ok(acquire(f->s, &w, "k9", "c9", T0, &l));
	assert_string_equal(astr(&l.addr), "2001:db8:1200::8");
	/* a key keeps its address */
	assert_ok(acquire(f->s, &w, "k4", "c4", T0, &l));
	assert_string_equal(astr(&l.addr), "2001:db8:1200::3");

	/* a /120: 2..127, then no more (128..255 are reserved) */
	nar.iid = IID_SEQUENTIAL;
	nar.slice_len = 120;
	for (int i = 2; i < 128; i++) {
		(void)snprintf(key, sizeof(key), "n%d", i);
		assert_ok(acquire(f->s, &nar, key, "c", T0, &l));
		assert_int_equal(l.iid, i);
	}
	assert_err(acquire(f->s, &nar, "one-more", "c", T0, &l), -ENOSPC,
		   "network \"narrow\": no free sequential IID left");
}

static void test_eui64(void **state)
{
	struct fx *f = fx_host(state, HOST56);
	struct store_network e = netcfg("e"), e80 = netcfg("e80");
	struct lease_request rq = { .key = "k1", .container_id = "c1", .ifname = "eth0",
				    .mac = "00:11:22:33:44:55" };
	struct lease l;

	e.iid = IID_EUI64;
	assert_ok(store_lease_acquire(f->s, &e, &rq, T0, &l));
	assert_string_equal(astr(&l.addr), "2001:db8:1200:0:211:22ff:fe33:4455");
	assert_int_equal(l.iid, UINT64_C(0x021122fffe334455));
	assert_string_equal(l.mac, "00:11:22:33:44:55");
	/* the same MAC for another key */
	rq.key = "k2";
	rq.mac = "00-11-22-33-44-55";
	assert_err(store_lease_acquire(f->s, &e, &rq, T0, &l), -EADDRINUSE,
		   "network \"e\": the EUI-64 address of 00-11-22-33-44-55 is leased to key "
		   "\"k1\"");
	/* no MAC */
	rq.mac = NULL;
	assert_err(store_lease_acquire(f->s, &e, &rq, T0, &l), -EINVAL,
		   "network \"e\": iid \"eui64\" needs the interface's MAC address");
	rq.mac = "";
	assert_err(store_lease_acquire(f->s, &e, &rq, T0, &l), -EINVAL,
		   "network \"e\": iid \"eui64\" needs the interface's MAC address");
	rq.mac = "00:11:22:33:44";
	assert_int_equal(store_lease_acquire(f->s, &e, &rq, T0, &l), -EINVAL);
	assert_int_equal(store_lease_get(f->s, "e", "k2", &l), -ENOENT);
	/* another MAC */
	rq.mac = "52:54:00:ab:cd:ef";
	assert_ok(store_lease_acquire(f->s, &e, &rq, T0, &l));
	assert_string_equal(astr(&l.addr), "2001:db8:1200:0:5054:ff:feab:cdef");
	/* 00:00:5e:00:52:13 gives a reserved IID (RFC 6543) */
	rq.key = "k4";
	rq.mac = "00:00:5e:00:52:13";
	assert_err(store_lease_acquire(f->s, &e, &rq, T0, &l), -EADDRNOTAVAIL,
		   "network \"e\": the EUI-64 IID 02005efffe005213 is reserved");
	rq.mac = "52:54:00:ab:cd:ef";
	/* a /80 has no room for it */
	e80.iid = IID_EUI64;
	e80.slice_len = 80;
	rq.key = "k3";
	assert_err(store_lease_acquire(f->s, &e80, &rq, T0, &l), -EINVAL,
		   "network \"e80\": iid \"eui64\": needs 64 host bits (a /64 slice), the slice "
		   "has 48");
}

static void test_no_prefix(void **state)
{
	struct fx *f = *state;
	struct store_network w = netcfg("web");
	struct prefix p;
	struct lease l;
	int64_t since = -1;

	fx_open(f);
	assert_err(store_prefix_get(f->s, &p, &since), -ENOENT,
		   "no delegated prefix is set (v6pdctl prefix set PREFIX)");
	assert_err(acquire(f->s, &w, "k1", "c1", T0, &l), -ENOENT,
		   "network \"web\": no delegated prefix is set and the netconf gives no "
		   "\"prefix\" (v6pdctl prefix set PREFIX)");
	assert_int_equal(store_lease_get(f->s, "web", "k1", &l), -ENOENT);
}

static void test_request_checks(void **state)
{
	struct fx *f = fx_host(state, HOST56);
	struct store_network w = netcfg("web");
	struct lease_request rq = { .key = "" };
	char long_key[STORE_KEY_MAX + 8];
	struct lease l;

	assert_err(store_lease_acquire(f->s, &w, &rq, T0, &l), -EINVAL, "key: must not be empty");
	rq.key = NULL;
	assert_err(store_lease_acquire(f->s, &w, &rq, T0, &l), -EINVAL, "key: must not be empty");
	rq.key = "a\tb";
	assert_err(store_lease_acquire(f->s, &w, &rq, T0, &l), -EINVAL,
		   "key \"a\\x09b\": contains a control character");
	memset(long_key, 'x', sizeof(long_key) - 1);
	long_key[sizeof(long_key) - 1] = '\0';
	rq.key = long_key;
	assert_err(store_lease_acquire(f->s, &w, &rq, T0, &l), -ENAMETOOLONG,
		   "key \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...\": longer than 255 bytes");
	long_key[STORE_KEY_MAX - 1] = '\0';
	assert_ok(store_lease_acquire(f->s, &w, &rq, T0, &l));
	assert_int_equal(strlen(l.key), STORE_KEY_MAX - 1);
	rq.key = "k";
	rq.ifname = "0123456789abcdef";
	assert_int_equal(store_lease_acquire(f->s, &w, &rq, T0, &l), -ENAMETOOLONG);
}

/* --- the host prefix --- */

static void test_prefix_renumber(void **state)
{
	struct fx *f = fx_host(state, HOST56);
	struct store_network web = netcfg("web"), db = netcfg("db"), pcs = netcfg("pcs"),
			     own = netcfg("own"), seq = netcfg("seq");
	struct prefix a = pfx(HOST56), b = pfx("2001:db8:3400::/56"), old, got;
	struct lease before[16], after;
	const struct store_network *cfgs[16];
	char key[16];
	int n = 0;
	bool changed = false, had_old = false;
	int64_t since = 0;

	db.subnet_id = 7;
	pcs.slice_len = 80;
	pcs.per_container_slice = true;
	own.has_prefix = true;
	own.prefix = pfx("2001:db8:ff00::/56");
	seq.iid = IID_SEQUENTIAL;
	for (int i = 0; i < 3; i++) {
		const struct store_network *c[] = { &web, &db, &pcs, &own, &seq };

		for (size_t k = 0; k < 5; k++) {
			(void)snprintf(key, sizeof(key), "k%d", i);
			assert_ok(acquire(f->s, c[k], key, "c", T0, &before[n]));
			cfgs[n++] = c[k];
		}
	}
	assert_ok(acquire_want(f->s, &web, "fixed", "2001:db8:1200::beef", T0, &before[n]));
	cfgs[n++] = &web;
	assert_ok(store_lease_release(f->s, "db", "k1", T0, &before[6]));

	assert_ok(store_prefix_set(f->s, &b, T0 + 100, &changed, &old, &had_old));
	assert_true(changed);
	assert_true(had_old);
	assert_string_equal(pstr(&old), HOST56);
	assert_ok(store_prefix_get(f->s, &got, &since));
	assert_string_equal(pstr(&got), "2001:db8:3400::/56");
	assert_int_equal(since, T0 + 100);

	fx_open(f);
	for (int i = 0; i < n; i++) {
		const struct lease *l0 = &before[i];
		bool follows = !cfgs[i]->has_prefix;
		struct prefix slice;
		struct in6_addr want;

		assert_ok(store_lease_get(f->s, l0->network, l0->key, &after));
		assert_int_equal(after.slice_index, l0->slice_index);
		assert_int_equal(after.iid, l0->iid);
		assert_int_equal(after.state, l0->state);
		assert_ok(prefix_slice(follows ? &b : &own.prefix, cfgs[i]->slice_len,
				       l0->slice_index, &slice));
		prefix_addr_with_host(&slice, l0->iid, &want);
		assert_string_equal(astr(&after.addr), astr(&want));
		if (follows) {
			/* the old address under the old prefix, same host part */
			assert_true(prefix_contains(&a, &l0->addr));
			assert_memory_equal(&after.addr.s6_addr[7], &l0->addr.s6_addr[7], 9);
			assert_true(prefix_contains(&b, &after.addr));
		} else {
			assert_memory_equal(&after.addr, &l0->addr, sizeof(after.addr));
		}
		/* the key comes back: the same, renumbered address */
		assert_ok(acquire(f->s, cfgs[i], l0->key, "c2", T0 + 200, &after));
		assert_string_equal(astr(&after.addr), astr(&want));
	}
	assert_ok(store_lease_get(f->s, "web", "fixed", &after));
	assert_string_equal(astr(&after.addr), "2001:db8:3400::beef");
	assert_ok(store_lease_get(f->s, "seq", "k2", &after));
	assert_string_equal(astr(&after.addr), "2001:db8:3400:2::4");

	/* the same prefix again: unchanged, the time of the change kept */
	changed = true;
	assert_ok(store_prefix_set(f->s, &b, T0 + 300, &changed, &old, &had_old));
	assert_false(changed);
	assert_true(had_old);
	assert_string_equal(pstr(&old), "2001:db8:3400::/56");
	assert_ok(store_prefix_get(f->s, &got, &since));
	assert_int_equal(since, T0 + 100);
	/* and back */
	assert_ok(store_prefix_set(f->s, &a, T0 + 400, &changed, &old, NULL));
	assert_true(changed);
	assert_string_equal(pstr(&old), "2001:db8:3400::/56");
	assert_ok(store_lease_get(f->s, "web", "fixed", &after));
	assert_string_equal(astr(&after.addr), "2001:db8:1200::beef");
	/* the first prefix ever: no old one */
	{
		struct store *s2 = NULL;
		char dir[128];

		(void)snprintf(dir, sizeof(dir), "%s/second", f->root);
		assert_ok(store_open(dir, &s2));
		had_old = true;
		changed = false;
		assert_ok(store_prefix_set(s2, &a, T0, &changed, NULL, &had_old));
		assert_true(changed);
		assert_false(had_old);
		store_close(s2);
	}
}

static void test_prefix_too_long(void **state)
{
	struct fx *f = fx_host(state, HOST56);
	struct store_network web = netcfg("web"), db = netcfg("db"), pcs = netcfg("pcs"),
			     own = netcfg("own");
	struct store_net_info n;
	struct prefix p, got;
	bool changed = true;

	assert_ok(store_network_ensure(f->s, &web, T0, &n));
	db.subnet_id = 200;
	assert_ok(store_network_ensure(f->s, &db, T0, &n));
	/* a network on its own prefix is not in the way */
	own.has_prefix = true;
	own.prefix = pfx("2001:db8:ff00::/60");
	assert_ok(store_network_ensure(f->s, &own, T0, &n));

	p = pfx("2001:db8:3400::/64");
	assert_err(store_prefix_set(f->s, &p, T0 + 1, &changed, NULL, NULL), -EINVAL,
		   "prefix \"2001:db8:3400::/64\": network \"web\" holds /64 slice 0, which does not "
		   "fit in it");
	assert_true(changed);	/* untouched on failure */
	p = pfx("2001:db8:3400::/60");
	assert_err(store_prefix_set(f->s, &p, T0 + 1, &changed, NULL, NULL), -EINVAL,
		   "prefix \"2001:db8:3400::/60\": network \"db\" holds /64 slice 200, which does not "
		   "fit in it");
	assert_ok(store_prefix_get(f->s, &got, NULL));
	assert_string_equal(pstr(&got), HOST56);
	p = pfx("2001:db8:3400::/120");
	assert_err(store_prefix_set(f->s, &p, T0 + 1, &changed, NULL, NULL), -EINVAL,
		   "prefix \"2001:db8:3400::/120\": too long to hold a slice (at most /119)");

	/* nothing changed */
	assert_ok(store_prefix_get(f->s, &got, NULL));
	assert_string_equal(pstr(&got), HOST56);
	assert_ok(store_network_get(f->s, "web", &n));
	assert_string_equal(pstr(&n.slice), "2001:db8:1200::/64");

	/* In a store where every slice fits in a /60, the /60 is taken and addresses follow. */
	{
		struct store *s2 = NULL;
		char dir[128];
		struct lease l;

		(void)snprintf(dir, sizeof(dir), "%s/second", f->root);
		assert_ok(store_open(dir, &s2));
		p = pfx(HOST56);
		assert_ok(store_prefix_set(s2, &p, T0, NULL, NULL, NULL));
		db.subnet_id = 15;
		assert_ok(acquire_want(s2, &db, "k", "2001:db8:1200:f::99", T0, &l));
		/* a perContainerSlice /64 network, even without leases, needs a prefix shorter
		 * than /64 */
		pcs.per_container_slice = true;
		assert_ok(store_network_ensure(s2, &pcs, T0, &n));
		p = pfx("2001:db8:3400::/60");
		assert_ok(store_prefix_set(s2, &p, T0 + 1, &changed, NULL, NULL));
		assert_true(changed);
		assert_ok(store_lease_get(s2, "db", "k", &l));
		assert_string_equal(astr(&l.addr), "2001:db8:3400:f::99");
		/* a /64 host prefix: no /64 slice 15, and pcs has /64 slices */
		p = pfx("2001:db8:3400::/64");
		assert_err(store_prefix_set(s2, &p, T0 + 2, NULL, NULL, NULL), -EINVAL,
			   "prefix \"2001:db8:3400::/64\": network \"db\" holds /64 slice 15, which does "
			   "not fit in it");
		assert_ok(store_lease_forget(s2, "db", "k"));
		assert_err(store_prefix_set(s2, &p, T0 + 2, NULL, NULL, NULL), -EINVAL,
			   "prefix \"2001:db8:3400::/64\": network \"db\" holds /64 slice 15, which does "
			   "not fit in it");
		store_close(s2);

		(void)snprintf(dir, sizeof(dir), "%s/third", f->root);
		assert_ok(store_open(dir, &s2));
		p = pfx(HOST56);
		assert_ok(store_prefix_set(s2, &p, T0, NULL, NULL, NULL));
		assert_ok(store_network_ensure(s2, &pcs, T0, &n));
		p = pfx("2001:db8:3400::/64");
		assert_err(store_prefix_set(s2, &p, T0 + 1, NULL, NULL, NULL), -EINVAL,
			   "prefix \"2001:db8:3400::/64\": network \"pcs\" has /64 slices, which do not "
			   "fit in it");
		p = pfx("2001:db8:3400::/63");
		assert_ok(store_prefix_set(s2, &p, T0 + 1, NULL, NULL, NULL));
		store_close(s2);
	}
}

/* A new host prefix must not put the host networks' slices onto slices claimed from a
 * network's own prefix. */
static void test_prefix_overlaps_own(void **state)
{
	struct fx *f = fx_host(state, HOST56);
	struct store_network a = netcfg("a"), b = netcfg("b"), own = netcfg("own");
	struct store_net_info n;
	struct prefix p, got;
	struct lease l;

	assert_ok(store_network_ensure(f->s, &a, T0, &n));
	assert_ok(store_network_ensure(f->s, &b, T0, &n));
	own.has_prefix = true;
	own.prefix = pfx("2001:db8:3400::/56");
	own.subnet_id = 1;
	own.iid = IID_SEQUENTIAL;
	assert_ok(acquire(f->s, &own, "k", "c", T0, &l));
	assert_string_equal(astr(&l.addr), "2001:db8:3400:1::2");
	p = pfx("2001:db8:3400::/56");
	assert_err(store_prefix_set(f->s, &p, T0 + 1, NULL, NULL, NULL), -EINVAL,
		   "prefix \"2001:db8:3400::/56\": network \"b\"'s slice would be "
		   "2001:db8:3400:1::/64, which overlaps network \"own\"'s 2001:db8:3400:1::/64");
	/* a /52 around it: the same */
	p = pfx("2001:db8:3400::/52");
	assert_int_equal(store_prefix_set(f->s, &p, T0 + 1, NULL, NULL, NULL), -EINVAL);
	assert_ok(store_prefix_get(f->s, &got, NULL));
	assert_string_equal(pstr(&got), HOST56);
	/* the /56 next to it is fine */
	p = pfx("2001:db8:3400:100::/56");
	assert_ok(store_prefix_set(f->s, &p, T0 + 2, NULL, NULL, NULL));
	assert_ok(store_lease_get(f->s, "own", "k", &l));
	assert_string_equal(astr(&l.addr), "2001:db8:3400:1::2");
}

/* --- 20,000 acquisitions --- */

#define BIG_N 20000
#define SET_BITS 16

static bool set_add(struct in6_addr *set, bool *used, const struct in6_addr *a)
{
	uint64_t h = prefix_addr_low64(a) * UINT64_C(0x9e3779b97f4a7c15);
	size_t i = (size_t)(h >> (64 - SET_BITS));

	for (;; i = (i + 1) & ((1u << SET_BITS) - 1)) {
		if (!used[i]) {
			used[i] = true;
			set[i] = *a;
			return true;
		}
		if (memcmp(&set[i], a, sizeof(*a)) == 0)
			return false;
	}
}

static void test_20k(void **state)
{
	struct fx *f = fx_host(state, HOST56);
	struct store_network w = netcfg("big");
	struct in6_addr *set = calloc(1u << SET_BITS, sizeof(*set));
	bool *used = calloc(1u << SET_BITS, sizeof(*used));
	struct store_net_info n;
	struct lease l, *all = NULL;
	size_t nall = 0;
	struct timespec t0, t1;
	char key[32];

	assert_non_null(set);
	assert_non_null(used);
	w.max_leases = 30000;
	assert_ok(store_network_ensure(f->s, &w, T0, &n));
	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < BIG_N; i++) {
		(void)snprintf(key, sizeof(key), "ns/pod-%d", i);
		assert_ok(acquire(f->s, &w, key, key, T0 + i, &l));
		assert_true(prefix_contains(&n.slice, &l.addr));
		assert_false(addrgen_iid_reserved(l.iid, 64));
		assert_int_equal(prefix_addr_low64(&l.addr), l.iid);
		if (!set_add(set, used, &l.addr))
			fail_msg("key %s: duplicate address %s", key, astr(&l.addr));
	}
	(void)clock_gettime(CLOCK_MONOTONIC, &t1);
	print_message("20000 acquisitions: %.2f s\n",
		      (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	assert_ok(store_network_get(f->s, "big", &n));
	assert_int_equal(n.lease_count, BIG_N);
	/* what the store lists is the same set */
	assert_ok(store_lease_list(f->s, "big", &all, &nall));
	assert_int_equal(nall, BIG_N);
	for (size_t i = 0; i < nall; i++) {
		assert_true(all[i].addr_known);
		assert_false(set_add(set, used, &all[i].addr));
	}
	free(all);
	free(set);
	free(used);
}

/* --- opening --- */

static void test_open_fresh(void **state)
{
	struct fx *f = *state;
	char wal[160];

	fx_open(f);
	assert_string_equal(store_state_dir(f->s), f->dir);
	assert_int_equal(mode_of(f->dir), 0700);
	assert_int_equal(mode_of(f->db), 0600);
	(void)snprintf(wal, sizeof(wal), "%s-wal", f->db);
	if (access(wal, F_OK) == 0)
		assert_int_equal(mode_of(wal), 0600);
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(sqlite_pragma(f->db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(sqlite_pragma(f->db, "PRAGMA application_id"), 0x76367064);
	/* and again: nothing to migrate */
	fx_open(f);
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(sqlite_pragma(f->db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);

	/* nested, missing parents */
	{
		struct store *s2 = NULL;
		char dir[160];

		(void)snprintf(dir, sizeof(dir), "%s/a/b/c", f->root);
		assert_ok(store_open(dir, &s2));
		assert_int_equal(mode_of(dir), 0700);
		store_close(s2);
	}
	/* a state dir that is a file */
	{
		struct store *s2 = NULL;
		char path[160], msg[256];

		(void)snprintf(path, sizeof(path), "%s/file", f->root);
		spit(path, "x", 1, 0600);
		(void)snprintf(msg, sizeof(msg), "stateDir %s: not a directory", path);
		assert_err(store_open(path, &s2), -ENOTDIR, msg);
		assert_null(s2);
	}
}

/* store_open(dir) must fail with want, leave *ret alone, and say what contains. */
static void assert_open_refused_at(const char *dir, int want, const char *contains)
{
	struct store *s2 = NULL;
	int r;

	err_clear();
	r = store_open(dir, &s2);
	if (r != want)
		fail_msg("store_open: %d (want %d): %s", r, want, r < 0 ? err_msg(r) : "opened");
	assert_null(s2);
	if (!strstr(err_msg(r), contains))
		fail_msg("message \"%s\" lacks \"%s\"", err_msg(r), contains);
}

static void assert_open_refused(struct fx *f, int want, const char *contains)
{
	assert_open_refused_at(f->dir, want, contains);
}

static void test_open_newer_schema(void **state)
{
	struct fx *f = *state;
	char msg[256], sql[64];
	uint8_t *before, *after;
	size_t nb, na;

	fx_open(f);
	store_close(f->s);
	f->s = NULL;
	(void)snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", STORE_SCHEMA_VERSION + 1);
	sqlite_run(f->db, sql);
	before = slurp(f->db, &nb);
	(void)snprintf(msg, sizeof(msg), "store %s: schema version %d is newer than this v6pd knows (%d)",
		       f->db, STORE_SCHEMA_VERSION + 1, STORE_SCHEMA_VERSION);
	assert_open_refused(f, -EPROTO, msg);
	assert_string_equal(err_msg(-EPROTO), msg);
	after = slurp(f->db, &na);
	assert_int_equal(na, nb);
	assert_memory_equal(after, before, nb);
	free(before);
	free(after);
}

static void test_open_foreign(void **state)
{
	struct fx *f = *state;
	char msg[256];
	uint8_t *before, *after;
	size_t nb, na;

	assert_int_equal(mkdir(f->dir, 0700), 0);
	sqlite_run(f->db, "CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT);"
			  "INSERT INTO moz_places (url) VALUES ('https://example.org/')");
	before = slurp(f->db, &nb);
	(void)snprintf(msg, sizeof(msg), "store %s: not a v6pd store (application_id 0, 1 objects); "
		       "refusing to touch it",
		       f->db);
	assert_open_refused(f, -EBADMSG, msg);
	assert_string_equal(err_msg(-EBADMSG), msg);
	/* refused untouched: still the other application's file, not switched to WAL */
	after = slurp(f->db, &na);
	assert_int_equal(na, nb);
	assert_memory_equal(after, before, nb);
	free(before);
	free(after);
	assert_int_equal(sqlite_pragma(f->db, "SELECT count(*) FROM moz_places"), 1);

	/* another application's id, no tables */
	assert_int_equal(unlink(f->db), 0);
	sqlite_run(f->db, "PRAGMA application_id = 1234");
	(void)snprintf(msg, sizeof(msg),
		       "store %s: not a v6pd store (application_id 0x4d2, 0 objects); "
		       "refusing to touch it", f->db);
	assert_open_refused(f, -EBADMSG, msg);
}

static void test_open_garbage(void **state)
{
	struct fx *f = *state;
	uint8_t junk[8192], *after;
	uint64_t x = 0x243f6a8885a308d3;
	size_t na;
	char head[200];

	for (size_t i = 0; i < sizeof(junk); i++) {
		x = x * 6364136223846793005u + 1442695040888963407u;
		junk[i] = (uint8_t)(x >> 56);
	}
	assert_int_equal(mkdir(f->dir, 0700), 0);
	spit(f->db, junk, sizeof(junk), 0600);
	(void)snprintf(head, sizeof(head), "store %s: ", f->db);
	assert_open_refused(f, -EBADMSG, head);
	assert_non_null(strstr(err_msg(-EBADMSG), "file is not a database"));
	after = slurp(f->db, &na);
	assert_int_equal(na, sizeof(junk));
	assert_memory_equal(after, junk, sizeof(junk));
	free(after);

	/* a valid SQLite header on garbage pages */
	memcpy(junk, "SQLite format 3", 16);
	spit(f->db, junk, sizeof(junk), 0600);
	assert_open_refused(f, -EBADMSG, head);
}

/* A copy of a real store cut to half its size (no -wal beside it). */
static void test_open_truncated(void **state)
{
	struct fx *f = *state;
	struct store_network w = netcfg("web");
	struct lease l;
	char key[32], wal[160], copy_dir[128], copy[160], head[220];
	size_t n;
	uint8_t *b;

	fx_host(state, HOST56);
	for (int i = 0; i < 300; i++) {
		(void)snprintf(key, sizeof(key), "key-%d", i);
		assert_ok(acquire(f->s, &w, key, key, T0, &l));
	}
	store_close(f->s);
	f->s = NULL;
	/* The store leaves its WAL in place (no checkpoint on close); a plain SQLite connection
	 * checkpoints it into the file and removes it when it closes. */
	sqlite_run(f->db, "PRAGMA wal_checkpoint(TRUNCATE)");
	(void)snprintf(wal, sizeof(wal), "%s-wal", f->db);
	assert_int_equal(access(wal, F_OK), -1);
	b = slurp(f->db, &n);
	assert_true(n >= 8 * 4096);
	(void)snprintf(copy_dir, sizeof(copy_dir), "%s/copy", f->root);
	(void)snprintf(copy, sizeof(copy), "%s/%s", copy_dir, STORE_DB_FILE);
	assert_int_equal(mkdir(copy_dir, 0700), 0);
	spit(copy, b, n / 2, 0600);
	free(b);
	(void)snprintf(head, sizeof(head), "store %s: ", copy);
	assert_open_refused_at(copy_dir, -EBADMSG, head);
	assert_non_null(strstr(err_msg(-EBADMSG), "malformed"));
	/* the original is whole */
	fx_open(f);
	assert_ok(store_lease_get(f->s, "web", "key-299", &l));
}

/* A 0-byte file is an empty database to SQLite: it becomes a new store. */
static void test_open_empty_file(void **state)
{
	struct fx *f = *state;
	struct store_network w = netcfg("web");
	struct lease l;

	assert_int_equal(mkdir(f->dir, 0700), 0);
	spit(f->db, "", 0, 0600);
	fx_host(state, HOST56);
	assert_ok(acquire(f->s, &w, "k1", "c1", T0, &l));
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(sqlite_pragma(f->db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(mode_of(f->db), 0600);
	fx_open(f);
	assert_ok(store_lease_get(f->s, "web", "k1", &l));
}

static void test_open_not_a_file(void **state)
{
	struct fx *f = *state;
	char msg[256], target[160];

	/* a directory in place of the file */
	assert_int_equal(mkdir(f->dir, 0700), 0);
	assert_int_equal(mkdir(f->db, 0700), 0);
	(void)snprintf(msg, sizeof(msg), "store %s: Is a directory", f->db);
	assert_open_refused(f, -EISDIR, msg);
	assert_string_equal(err_msg(-EISDIR), msg);
	assert_int_equal(rmdir(f->db), 0);
	/* a symlink in place of the file */
	(void)snprintf(target, sizeof(target), "%s/elsewhere.db", f->root);
	assert_int_equal(symlink(target, f->db), 0);
	(void)snprintf(msg, sizeof(msg), "store %s: Too many levels of symbolic links", f->db);
	assert_open_refused(f, -ELOOP, msg);
	assert_int_equal(access(target, F_OK), -1);
	assert_int_equal(unlink(f->db), 0);
	/* a FIFO */
	assert_int_equal(mkfifo(f->db, 0600), 0);
	(void)snprintf(msg, sizeof(msg), "store %s: not a regular file", f->db);
	assert_open_refused(f, -EINVAL, msg);
}

static void test_open_world_writable(void **state)
{
	struct fx *f = *state;
	char msg[256];

	fx_open(f);
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(chmod(f->dir, 0777), 0);
	(void)snprintf(msg, sizeof(msg),
		       "stateDir %s: writable by others (mode 0777); refusing to use it", f->dir);
	assert_open_refused(f, -EPERM, msg);
	assert_string_equal(err_msg(-EPERM), msg);
	assert_int_equal(chmod(f->dir, 0755), 0);
	assert_int_equal(chmod(f->db, 0666), 0);
	(void)snprintf(msg, sizeof(msg),
		       "store %s: writable by others (mode 0666); refusing to use it", f->db);
	assert_open_refused(f, -EPERM, msg);
	assert_string_equal(err_msg(-EPERM), msg);
	/* group-writable is the operator's choice */
	assert_int_equal(chmod(f->db, 0660), 0);
	fx_open(f);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_net_lowest_free),
		T(test_net_subnet_id),
		T(test_net_mixed_lengths),
		T(test_net_full),
		T(test_net_own_prefix),
		T(test_net_own_prefix_overlaps_host),
		T(test_net_fixed_settings),
		T(test_net_per_container_slice),
		T(test_lease_same_key),
		T(test_lease_release_retention),
		T(test_lease_want),
		T(test_lease_max_leases),
		T(test_gc_expired),
		T(test_gc_attachments),
		T(test_release_attachment),
		T(test_forget),
		T(test_sequential),
		T(test_eui64),
		T(test_no_prefix),
		T(test_request_checks),
		T(test_prefix_renumber),
		T(test_prefix_too_long),
		T(test_prefix_overlaps_own),
		T(test_20k),
		T(test_open_fresh),
		T(test_open_newer_schema),
		T(test_open_foreign),
		T(test_open_garbage),
		T(test_open_truncated),
		T(test_open_empty_file),
		T(test_open_not_a_file),
		T(test_open_world_writable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
