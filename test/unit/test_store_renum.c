/* The store's renumbering records (schema v3): attachments written with the lease, what a
 * prefix change leaves pending, the commit, drains, the delegated prefixes DHCP clients
 * reported. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_fixture.h"

static int acquire_attached(struct store *s, const struct store_network *cfg, const char *key,
			    const struct store_attach *a, struct lease *ret)
{
	struct lease_request req = { .key = key, .container_id = key, .ifname = "eth0",
				     .netns = "/run/netns/x", .attach = a };

	return store_lease_acquire(s, cfg, &req, T0, ret);
}

static const struct store_attach bridged = {
	.mode = STORE_ATTACH_BRIDGE, .link = "v6pd-web", .plen = 64, .grace = 30,
};

static void test_pending_after_a_change(void **state)
{
	struct fx *f = fx_host(state, HOST56);
	struct store_network web = netcfg("web");
	struct store_renumber_item *v = NULL;
	struct prefix to = pfx("2001:db8:3400::/56");
	struct lease l;
	size_t n = 9;

	assert_ok(acquire_attached(f->s, &web, "a", &bridged, &l));
	assert_ok(acquire(f->s, &web, "b", "cid-b", T0, &l));	/* no record: attach NULL */
	assert_ok(store_renumber_pending(f->s, &v, &n));
	assert_int_equal(n, 0);
	free(v);
	assert_ok(store_prefix_set(f->s, &to, T0 + 1, NULL, NULL, NULL));
	assert_ok(store_renumber_pending(f->s, &v, &n));
	assert_int_equal(n, 2);
	/* "a" as recorded at ADD; "b" adopted from the previous prefix, mode unknown */
	assert_string_equal(v[0].lease.key, "a");
	assert_int_equal(v[0].attach.mode, STORE_ATTACH_BRIDGE);
	assert_string_equal(v[0].attach.link, "v6pd-web");
	assert_int_equal(v[0].attach.plen, 64);
	assert_int_equal(v[0].attach.grace, 30);
	assert_string_equal(pstr(&v[0].from), HOST56);
	assert_true(prefix_contains(&to, &v[0].lease.addr));
	assert_string_equal(v[1].lease.key, "b");
	assert_int_equal(v[1].attach.mode, STORE_ATTACH_UNKNOWN);
	assert_int_equal(v[1].attach.grace, -1);
	assert_string_equal(pstr(&v[1].from), HOST56);
	{
		struct store_renumber_batch b = { .done = v, .n_done = 1 };

		assert_ok(store_renumber_commit(f->s, &to, &b));
	}
	free(v);
	assert_ok(store_renumber_pending(f->s, &v, &n));
	assert_int_equal(n, 1);
	assert_string_equal(v[0].lease.key, "b");
	free(v);
	/* a lease acquired at the new prefix carries it */
	assert_ok(acquire_attached(f->s, &web, "c", &bridged, &l));
	assert_ok(store_renumber_pending(f->s, &v, &n));
	assert_int_equal(n, 1);
	free(v);
}

static void test_own_prefix_networks_never_pending(void **state)
{
	struct fx *f = fx_host(state, HOST56);
	struct store_network own = netcfg("own");
	struct store_renumber_item *v = NULL;
	struct prefix to = pfx("2001:db8:3400::/56");
	struct lease l;
	size_t n = 9;

	own.has_prefix = true;
	own.prefix = pfx("2001:db8:9900::/56");
	assert_ok(acquire_attached(f->s, &own, "a", &bridged, &l));
	assert_ok(store_prefix_set(f->s, &to, T0 + 1, NULL, NULL, NULL));
	assert_ok(store_renumber_pending(f->s, &v, &n));
	assert_int_equal(n, 0);
	free(v);
}

static void test_commit_skips_what_an_add_moved(void **state)
{
	struct fx *f = fx_host(state, HOST56);
	struct store_network web = netcfg("web");
	struct store_renumber_item *v = NULL;
	struct prefix to = pfx("2001:db8:3400::/56"), back = pfx(HOST56);
	struct lease l;
	size_t n;

	assert_ok(acquire_attached(f->s, &web, "a", &bridged, &l));
	assert_ok(store_prefix_set(f->s, &to, T0 + 1, NULL, NULL, NULL));
	assert_ok(store_renumber_pending(f->s, &v, &n));
	assert_int_equal(n, 1);
	/* meanwhile the container was re-added at the new prefix, then the prefix went back */
	assert_ok(acquire_attached(f->s, &web, "a", &bridged, &l));
	assert_ok(store_prefix_set(f->s, &back, T0 + 2, NULL, NULL, NULL));
	{
		struct store_renumber_batch b = { .done = v, .n_done = n };

		assert_ok(store_renumber_commit(f->s, &back, &b));
	}
	free(v);
	/* the stale commit (from HOST56) did not touch the record, which carries `to` */
	assert_ok(store_renumber_pending(f->s, &v, &n));
	assert_int_equal(n, 1);
	assert_string_equal(pstr(&v[0].from), "2001:db8:3400::/56");
	free(v);
}

static void test_record_goes_with_the_lease(void **state)
{
	struct fx *f = fx_host(state, HOST56);
	struct store_network web = netcfg("web");
	struct store_renumber_item *v = NULL;
	struct prefix to = pfx("2001:db8:3400::/56");
	struct lease l;
	size_t n;

	assert_ok(acquire_attached(f->s, &web, "a", &bridged, &l));
	assert_ok(store_lease_forget(f->s, "web", "a"));
	assert_ok(store_prefix_set(f->s, &to, T0 + 1, NULL, NULL, NULL));
	assert_ok(store_renumber_pending(f->s, &v, &n));
	assert_int_equal(n, 0);
	free(v);
}

static void test_bad_attachment_refused(void **state)
{
	struct fx *f = fx_host(state, HOST56);
	struct store_network web = netcfg("web");
	struct store_attach a = bridged;
	struct lease l;

	a.link[3] = '\n';
	assert_err(acquire_attached(f->s, &web, "a", &a, &l), -EINVAL,
		   "attachment link \"v6p\\x0a-web\": contains a control character");
	assert_int_equal(store_lease_get(f->s, "web", "a", &l), -ENOENT);
}

static struct store_drain drain(enum store_drain_kind k, const char *link, const char *what,
				int64_t until)
{
	struct store_drain d = { .kind = k, .until = until };
	char buf[PREFIX_STRLEN];
	const char *slash = strchr(what, '/');

	(void)snprintf(buf, sizeof(buf), "%.*s", (int)(slash - what), what);
	(void)snprintf(d.link, sizeof(d.link), "%s", link);
	d.what.addr = addr(buf);
	d.what.len = (uint8_t)atoi(slash + 1);
	d.origin = pfx(HOST56);
	return d;
}

static void test_drains(void **state)
{
	struct fx *f = fx_host(state, HOST56);
	struct store_drain add[3] = {
		drain(STORE_DRAIN_PROXY, "up0", "2001:db8:1200::5/128", T0 + 20),
		drain(STORE_DRAIN_ADDRESS, "eth0", "2001:db8:1200::6/64", T0 + 10),
		drain(STORE_DRAIN_ROUTE, "v6pd1", "2001:db8:1200::7/128", T0 + 30),
	};
	struct store_drain again = add[0], *v = NULL;
	struct store_renumber_batch b = { .add = add, .n_add = 3 };
	struct prefix to = pfx("2001:db8:3400::/56");
	size_t n;

	(void)snprintf(add[1].netns, sizeof(add[1].netns), "/run/netns/c1");
	assert_ok(store_renumber_commit(f->s, &to, &b));
	/* recording one again keeps its time */
	again.until = T0 + 99;
	b = (struct store_renumber_batch){ .add = &again, .n_add = 1 };
	assert_ok(store_renumber_commit(f->s, &to, &b));
	assert_ok(store_drain_list(f->s, &v, &n));
	assert_int_equal(n, 3);
	assert_int_equal(v[0].kind, STORE_DRAIN_ADDRESS);	/* soonest first */
	assert_string_equal(v[0].netns, "/run/netns/c1");
	assert_string_equal(astr(&v[0].what.addr), "2001:db8:1200::6");
	assert_int_equal(v[0].what.len, 64);
	assert_string_equal(pstr(&v[0].origin), HOST56);
	assert_int_equal(v[1].kind, STORE_DRAIN_PROXY);
	assert_true(v[1].until == T0 + 20);
	assert_string_equal(store_drain_kind_to_string(v[2].kind), "route");
	free(v);
	/* live again (the prefix came back): cancelled */
	b = (struct store_renumber_batch){ .cancel = &add[2], .n_cancel = 1 };
	assert_ok(store_renumber_commit(f->s, &to, &b));
	assert_ok(store_drain_forget(f->s, &add[0]));
	assert_ok(store_drain_list(f->s, &v, &n));
	assert_int_equal(n, 1);
	assert_int_equal(v[0].kind, STORE_DRAIN_ADDRESS);
	free(v);
}

static void test_pd_prefixes(void **state)
{
	struct fx *f = fx_host(state, HOST56);
	struct pdenv_known k[2] = {
		{ .interface = "wan0", .prefix = pfx("2001:db8:f000::/56"), .valid_until = T0 + 30,
		  .preferred_until = T0 + 20 },
		{ .interface = "wan1", .prefix = pfx("2001:db8:aa00::/48"),
		  .valid_until = INT64_MAX, .preferred_until = INT64_MAX },
	}, *v = NULL;
	size_t n = 9;

	assert_ok(store_pd_load(f->s, &v, &n));
	assert_int_equal(n, 0);
	free(v);
	assert_ok(store_pd_save(f->s, k, 2));
	assert_ok(store_pd_load(f->s, &v, &n));
	assert_int_equal(n, 2);
	assert_string_equal(v[0].interface, "wan0");
	assert_string_equal(pstr(&v[0].prefix), "2001:db8:f000::/56");
	assert_true(v[0].valid_until == T0 + 30 && v[0].preferred_until == T0 + 20);
	assert_true(v[1].valid_until == INT64_MAX);
	free(v);
	assert_ok(store_pd_save(f->s, k + 1, 1));
	assert_ok(store_pd_load(f->s, &v, &n));
	assert_int_equal(n, 1);
	assert_string_equal(v[0].interface, "wan1");
	free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_pending_after_a_change),
		T(test_own_prefix_networks_never_pending),
		T(test_commit_skips_what_an_add_moved),
		T(test_record_goes_with_the_lease),
		T(test_bad_attachment_refused),
		T(test_drains),
		T(test_pd_prefixes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
