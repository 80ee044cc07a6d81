/* The lease store (SQLite backend) through store.h: networks and slices, and the host
 * prefix and renumbering. Fixture and helpers: store_fixture.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_fixture.h"

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
		T(test_prefix_renumber),
		T(test_prefix_too_long),
		T(test_prefix_overlaps_own),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
