/* The lease store (SQLite backend) through store.h: leases (keys, release and retention,
 * wanted addresses, limits, garbage collection, IID modes) and 20,000 acquisitions.
 * Fixture and helpers: store_fixture.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "addrgen.h"
#include "store_fixture.h"

/* --- leases --- */

static void test_lease_same_key(void **state)
{
	struct fx *f = fx_host(state, HOST56);
	struct store_network w = netcfg("web");
	struct prefix host = pfx(HOST56);
	struct lease l1, l2, l3;
	bool had = false;
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

	/* the same key, another container: the same address, now attached to it; the lease
	 * as it was comes back when asked for (the CNI plugin puts it back after a failed
	 * ADD) */
	rq.container_id = "c2";
	rq.ifname = "net1";
	rq.prev = &l3;
	rq.had_prev = &had;
	assert_ok(store_lease_acquire(f->s, &w, &rq, T0 + 10, &l2));
	assert_true(had);
	assert_string_equal(l3.container_id, "c1");
	assert_int_equal(l3.updated, T0);
	assert_memory_equal(&l3.addr, &l1.addr, sizeof(l1.addr));
	rq.key = "default/fresh";
	assert_ok(store_lease_acquire(f->s, &w, &rq, T0 + 10, &l3));
	assert_false(had);
	assert_ok(store_lease_forget(f->s, "web", "default/fresh"));
	rq.key = "default/nginx";
	rq.prev = NULL;
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

/* The leases of a network with a MAC, any state, with their addresses; none of another
 * network or MAC. */
static void test_lease_find_mac(void **state)
{
	struct fx *f = fx_host(state, HOST56);
	struct store_network w = netcfg("web"), o = netcfg("other");
	struct lease l1, l2, l3, *v = NULL;
	size_t n = 9;
	struct lease_request rq = { .key = "u1/02:00:00:00:00:01", .container_id = "u1",
				    .ifname = "eth0", .hostname = "vm", .mac = "02:00:00:00:00:01" };

	assert_ok(store_lease_find_mac(f->s, "web", "02:00:00:00:00:01", &v, &n));
	assert_int_equal(n, 0);
	free(v);
	assert_ok(store_lease_acquire(f->s, &w, &rq, T0, &l1));
	assert_ok(store_lease_release(f->s, "web", rq.key, T0 + 5, &l1));
	rq.key = "u2/02:00:00:00:00:01";
	rq.container_id = "u2";
	assert_ok(store_lease_acquire(f->s, &w, &rq, T0 + 10, &l2));
	assert_ok(store_lease_acquire(f->s, &o, &rq, T0 + 10, &l3));
	rq.key = "u3/02:00:00:00:00:02";
	rq.mac = "02:00:00:00:00:02";
	assert_ok(store_lease_acquire(f->s, &w, &rq, T0 + 10, &l3));

	assert_ok(store_lease_find_mac(f->s, "web", "02:00:00:00:00:01", &v, &n));
	assert_int_equal(n, 2);
	assert_string_equal(v[0].key, "u1/02:00:00:00:00:01");
	assert_int_equal(v[0].state, LEASE_RESERVED);
	assert_true(v[0].addr_known);
	assert_memory_equal(&v[0].addr, &l1.addr, sizeof(l1.addr));
	assert_string_equal(v[1].key, "u2/02:00:00:00:00:01");
	assert_int_equal(v[1].state, LEASE_ACTIVE);
	assert_memory_equal(&v[1].addr, &l2.addr, sizeof(l2.addr));
	free(v);
	assert_err(store_lease_find_mac(f->s, "web", "", &v, &n), -EINVAL,
		   "mac: must not be empty");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
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
		T(test_20k),
		T(test_lease_find_mac),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
