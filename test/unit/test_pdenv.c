/* pdenv: the environments dhcpcd 9.4 and ISC dhclient 4.4 give their hooks, as recorded from
 * a real prefix delegation by Kea 2.2 (../shared/TESTING.md), and networkd's JSON. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "pdenv.h"

static struct prefix P(const char *s)
{
	struct prefix p;

	assert_int_equal(prefix_from_string(s, &p), 0);
	return p;
}

static void assert_prefix(const struct prefix *got, const char *want)
{
	char buf[PREFIX_STRLEN];

	assert_string_equal(prefix_to_string(got, buf, sizeof(buf)), want);
}

static struct pdenv parse_ok(const char *const *envp)
{
	struct pdenv ev;
	int r = pdenv_parse(envp, 0, &ev);

	if (r < 0)
		fail_msg("pdenv_parse: %s", err_msg(r));
	return ev;
}

static void test_dhcpcd_bound(void **state)
{
	const char *env[] = { "interface=pdc0", "protocol=dhcp6", "reason=BOUND6",
			      "new_dhcp6_ia_pd1_iaid=00000001",
			      "new_dhcp6_ia_pd1_prefix1=2001:db8:f000::",
			      "new_dhcp6_ia_pd1_prefix1_length=56",
			      "new_dhcp6_ia_pd1_prefix1_pltime=20",
			      "new_dhcp6_ia_pd1_prefix1_vltime=30", "new_dhcp6_ia_pd1_t1=10",
			      NULL };
	struct pdenv ev = parse_ok(env);

	assert_int_equal(ev.client, PDENV_DHCPCD);
	assert_int_equal(ev.kind, PDENV_REPLACE);
	assert_string_equal(ev.interface, "pdc0");
	assert_int_equal(ev.n, 1);
	assert_prefix(&ev.prefixes[0].prefix, "2001:db8:f000::/56");
	assert_int_equal(ev.prefixes[0].vltime, 30);
	assert_int_equal(ev.prefixes[0].pltime, 20);
	assert_true(ev.prefixes[0].has_iaid);
	assert_int_equal(ev.prefixes[0].iaid, 1);
}

/* A renumbering Renew: the new prefix and the withdrawn one (vltime 0), either order. */
static void renew_case(const char *const *env)
{
	struct pdenv_known known[PDENV_KNOWN_MAX];
	struct prefix cur = P("2001:db8:f000::/56"), got;
	size_t n = 0;
	struct pdenv bound = { .kind = PDENV_REPLACE, .interface = "pdc0", .n = 1 };
	struct pdenv ev = parse_ok(env);

	bound.prefixes[0] = (struct pdenv_prefix){ .prefix = cur, .vltime = 30, .pltime = 20 };
	pdenv_merge(known, &n, &bound, 1000);
	assert_int_equal(ev.n, 2);
	pdenv_merge(known, &n, &ev, 1010);
	assert_int_equal(n, 1);
	assert_int_equal(pdenv_choose(known, n, &cur, 1010, &got), 1);
	assert_prefix(&got, "2001:db8:f008::/56");
}

static void test_dhcpcd_renumber(void **state)
{
	const char *a[] = { "interface=pdc0", "reason=RENEW6",
			    "new_dhcp6_ia_pd1_prefix1=2001:db8:f008::",
			    "new_dhcp6_ia_pd1_prefix1_length=56",
			    "new_dhcp6_ia_pd1_prefix1_pltime=20",
			    "new_dhcp6_ia_pd1_prefix1_vltime=30",
			    "new_dhcp6_ia_pd1_prefix2=2001:db8:f000::",
			    "new_dhcp6_ia_pd1_prefix2_length=56",
			    "new_dhcp6_ia_pd1_prefix2_pltime=0",
			    "new_dhcp6_ia_pd1_prefix2_vltime=0",
			    "old_dhcp6_ia_pd1_prefix1=2001:db8:f000::", NULL };
	const char *b[] = { "interface=pdc0", "reason=RENEW6",
			    "new_dhcp6_ia_pd1_prefix2_vltime=30",
			    "new_dhcp6_ia_pd1_prefix1_vltime=0",
			    "new_dhcp6_ia_pd1_prefix1=2001:db8:f000::",
			    "new_dhcp6_ia_pd1_prefix2=2001:db8:f008::",
			    "new_dhcp6_ia_pd1_prefix1_length=56",
			    "new_dhcp6_ia_pd1_prefix2_length=56", NULL };

	renew_case(a);
	renew_case(b);
}

static void test_choose_stable(void **state)
{
	struct pdenv_known k[3] = {
		{ .interface = "e", .prefix = P("2001:db8:2::/48"), .valid_until = 500 },
		{ .interface = "e", .prefix = P("2001:db8:1::/48"), .valid_until = 900 },
		{ .interface = "e", .prefix = P("2001:db8:0::/48"), .valid_until = 900 },
	};
	struct prefix cur = P("2001:db8:2::/48"), other = P("2001:db8:9::/48"), got;

	/* the current one while it is valid, however short-lived */
	assert_int_equal(pdenv_choose(k, 3, &cur, 100, &got), 1);
	assert_prefix(&got, "2001:db8:2::/48");
	/* else the longest-lived, then the lowest */
	assert_int_equal(pdenv_choose(k, 3, &cur, 500, &got), 1);
	assert_prefix(&got, "2001:db8::/48");
	assert_int_equal(pdenv_choose(k, 3, &other, 100, &got), 1);
	assert_prefix(&got, "2001:db8::/48");
	assert_int_equal(pdenv_choose(k, 3, NULL, 900, &got), 0);
}

static void test_dhcpcd_withdraw_only(void **state)
{
	const char *env[] = { "interface=pdc0", "reason=RENEW6",
			      "new_dhcp6_ia_pd1_prefix1=2001:db8:f000::",
			      "new_dhcp6_ia_pd1_prefix1_length=56",
			      "new_dhcp6_ia_pd1_prefix1_vltime=0", NULL };
	struct pdenv_known k[PDENV_KNOWN_MAX] = {
		{ .interface = "pdc0", .prefix = P("2001:db8:f000::/56"), .valid_until = 2000 },
	};
	struct prefix cur = P("2001:db8:f000::/56"), got;
	size_t n = 1;
	struct pdenv ev = parse_ok(env);

	pdenv_merge(k, &n, &ev, 1000);
	assert_int_equal(n, 0);
	assert_int_equal(pdenv_choose(k, n, &cur, 1000, &got), 0);
}

static void test_dhcpcd_gone(void **state)
{
	const char *reasons[] = { "EXPIRE6", "RELEASE6", "STOPPED", "STOP6" };

	for (size_t i = 0; i < 4; i++) {
		char r[32];
		const char *env[] = { "interface=pdc0", r,
				      "old_dhcp6_ia_pd1_prefix1=2001:db8:f000::", NULL };
		struct pdenv_known k[PDENV_KNOWN_MAX] = {
			{ .interface = "pdc0", .prefix = P("2001:db8:f000::/56"),
			  .valid_until = 2000 },
			{ .interface = "eth9", .prefix = P("2001:db8:aa00::/56"),
			  .valid_until = 2000 },
		};
		size_t n = 2;
		struct pdenv ev;

		(void)snprintf(r, sizeof(r), "reason=%s", reasons[i]);
		ev = parse_ok(env);
		assert_int_equal(ev.kind, PDENV_REPLACE);
		assert_int_equal(ev.n, 0);
		pdenv_merge(k, &n, &ev, 1000);
		assert_int_equal(n, 1);
		assert_string_equal(k[0].interface, "eth9");
	}
}

static void test_dhcpcd_ignored(void **state)
{
	const char *env[] = { "interface=pdc0", "protocol=link", "reason=CARRIER", NULL };
	struct pdenv_known k[PDENV_KNOWN_MAX] = {
		{ .interface = "pdc0", .prefix = P("2001:db8:f000::/56"), .valid_until = 2000 },
	};
	size_t n = 1;
	struct pdenv ev = parse_ok(env);

	assert_int_equal(ev.kind, PDENV_IGNORE);
	pdenv_merge(k, &n, &ev, 1000);
	assert_int_equal(n, 1);
}

static void test_dhcpcd_two_ias(void **state)
{
	const char *env[] = { "interface=pdc0", "reason=BOUND6",
			      "new_dhcp6_ia_pd1_iaid=00000001",
			      "new_dhcp6_ia_pd1_prefix1=2001:db8:1100::",
			      "new_dhcp6_ia_pd1_prefix1_length=56",
			      "new_dhcp6_ia_pd1_prefix1_vltime=100",
			      "new_dhcp6_ia_pd2_iaid=0000000a",
			      "new_dhcp6_ia_pd2_prefix1=2001:db8:2200::",
			      "new_dhcp6_ia_pd2_prefix1_length=48",
			      "new_dhcp6_ia_pd2_prefix1_vltime=50", NULL };
	struct pdenv ev = parse_ok(env), ev2;
	struct pdenv_filter f = { .interface = "pdc0", .has_iaid = true, .iaid = 10 };
	struct pdenv_filter other = { .interface = "eth1" };

	assert_int_equal(ev.n, 2);
	ev2 = ev;
	assert_false(pdenv_filter_apply(&ev2, &other));
	assert_true(pdenv_filter_apply(&ev, &f));
	assert_int_equal(ev.n, 1);
	assert_prefix(&ev.prefixes[0].prefix, "2001:db8:2200::/48");
	assert_int_equal(ev.prefixes[0].pltime, 50);	/* no _pltime: the valid lifetime */
}

/* dhclient -P: one call per prefix; the withdrawal comes in its own call. */
static void test_dhclient_sequence(void **state)
{
	const char *bound[] = { "interface=pdc0", "reason=BOUND6", "dad_wait_time=0",
				"new_iaid=ea:68:fd:64", "new_ip6_prefix=2001:db8:f000::/56",
				"new_max_life=30", "new_preferred_life=20", NULL };
	const char *renew_new[] = { "interface=pdc0", "reason=RENEW6",
				    "new_iaid=ea:68:fd:64",
				    "new_ip6_prefix=2001:db8:f008::/56", "new_max_life=30",
				    "new_preferred_life=20", "old_iaid=ea:68:fd:64", NULL };
	const char *renew_old[] = { "interface=pdc0", "reason=RENEW6",
				    "new_ip6_prefix=2001:db8:f000::/56", "new_max_life=0",
				    "new_preferred_life=0",
				    "old_ip6_prefix=2001:db8:f000::/56", "old_max_life=30", NULL };
	const char *depref[] = { "interface=pdc0", "reason=DEPREF6",
				 "cur_ip6_prefix=2001:db8:f000::/56", NULL };
	const char *expire[] = { "interface=pdc0", "reason=EXPIRE6",
				 "old_ip6_prefix=2001:db8:f000::/56", "old_max_life=0", NULL };
	struct pdenv_known k[PDENV_KNOWN_MAX];
	struct prefix cur, got;
	size_t n = 0;
	struct pdenv ev = parse_ok(bound);

	assert_int_equal(ev.client, PDENV_DHCLIENT);
	assert_int_equal(ev.kind, PDENV_UPDATE);
	assert_int_equal(ev.prefixes[0].iaid, 0xea68fd64);
	pdenv_merge(k, &n, &ev, 1000);
	assert_int_equal(pdenv_choose(k, n, NULL, 1000, &cur), 1);
	assert_prefix(&cur, "2001:db8:f000::/56");
	/* the new prefix first: the current one is still valid and stays */
	ev = parse_ok(renew_new);
	pdenv_merge(k, &n, &ev, 1010);
	assert_int_equal(n, 2);
	assert_int_equal(pdenv_choose(k, n, &cur, 1010, &got), 1);
	assert_prefix(&got, "2001:db8:f000::/56");
	/* then its withdrawal */
	ev = parse_ok(renew_old);
	pdenv_merge(k, &n, &ev, 1010);
	assert_int_equal(pdenv_choose(k, n, &cur, 1010, &got), 1);
	assert_prefix(&got, "2001:db8:f008::/56");
	ev = parse_ok(depref);
	assert_int_equal(ev.kind, PDENV_IGNORE);
	ev = parse_ok(expire);
	assert_int_equal(ev.kind, PDENV_UPDATE);
	assert_int_equal(ev.prefixes[0].vltime, 0);
	pdenv_merge(k, &n, &ev, 1011);
	assert_int_equal(n, 1);
	assert_prefix(&k[0].prefix, "2001:db8:f008::/56");
	/* the new prefix expires unless renewed */
	assert_int_equal(pdenv_choose(k, n, &got, 1040, &got), 0);
}

static void test_dhclient_no_prefix(void **state)
{
	const char *env[] = { "interface=pdc0", "reason=BOUND6", "dad_wait_time=0",
			      "new_ip6_address=2001:db8:ffff::5", NULL };
	struct pdenv ev = parse_ok(env);

	assert_int_equal(ev.client, PDENV_DHCLIENT);
	assert_int_equal(ev.kind, PDENV_IGNORE);
}

static void expect_einval(const char *const *env, const char *needle)
{
	struct pdenv ev;
	int r;

	err_clear();
	r = pdenv_parse(env, 0, &ev);
	assert_int_equal(r, -EINVAL);
	if (!strstr(err_msg(r), needle))
		fail_msg("message \"%s\" lacks \"%s\"", err_msg(r), needle);
}

static void test_malformed(void **state)
{
	const char *hostbits[] = { "reason=BOUND6", "new_dhcp6_ia_pd1_prefix1=2001:db8:f000::1",
				   "new_dhcp6_ia_pd1_prefix1_length=56",
				   "new_dhcp6_ia_pd1_prefix1_vltime=30", NULL };
	const char *nolen[] = { "reason=BOUND6", "new_dhcp6_ia_pd1_prefix1=2001:db8:f000::",
				"new_dhcp6_ia_pd1_prefix1_vltime=30", NULL };
	const char *badlife[] = { "reason=BOUND6", "new_dhcp6_ia_pd1_prefix1=2001:db8:f000::",
				  "new_dhcp6_ia_pd1_prefix1_length=56",
				  "new_dhcp6_ia_pd1_prefix1_vltime=-1", NULL };
	const char *badlen[] = { "reason=BOUND6", "new_dhcp6_ia_pd1_prefix1=2001:db8::",
				 "new_dhcp6_ia_pd1_prefix1_length=129",
				 "new_dhcp6_ia_pd1_prefix1_vltime=1", NULL };
	const char *badiaid[] = { "reason=BOUND6", "new_dhcp6_ia_pd1_iaid=zz", NULL };
	const char *dhcl[] = { "reason=BOUND6", "dad_wait_time=0",
			       "new_ip6_prefix=2001:db8:f000::", "new_max_life=30", NULL };
	const char *dhcl2[] = { "reason=BOUND6", "new_ip6_prefix=2001:db8:f000::/56",
				"new_max_life=x", NULL };

	expect_einval(hostbits, "new_dhcp6_ia_pd1_prefix1");
	expect_einval(nolen, "_length");
	expect_einval(badlife, "new_dhcp6_ia_pd1_prefix1_vltime");
	expect_einval(badlen, "not a prefix length");
	expect_einval(badiaid, "new_dhcp6_ia_pd1_iaid");
	expect_einval(dhcl, "new_ip6_prefix");
	expect_einval(dhcl2, "new_max_life");
}

static void test_not_dhcp(void **state)
{
	const char *env[] = { "PATH=/bin", "HOME=/root", NULL };
	struct pdenv ev;

	assert_int_equal(pdenv_parse(env, 0, &ev), -ENOENT);
	assert_int_equal(pdenv_parse(NULL, 0, &ev), -ENOENT);
}

static void test_iaid(void **state)
{
	uint32_t v;

	assert_int_equal(pdenv_iaid_from_string("ea:68:fd:64", &v), 0);
	assert_int_equal(v, 0xea68fd64);
	assert_int_equal(pdenv_iaid_from_string("0000000a", &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(pdenv_iaid_from_string("10", &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(pdenv_iaid_from_string("4294967295", &v), 0);
	assert_int_equal(v, UINT32_MAX);
	assert_int_equal(pdenv_iaid_from_string("4294967296", &v), -EINVAL);
	assert_int_equal(pdenv_iaid_from_string("ea:68:fd", &v), -EINVAL);
	assert_int_equal(pdenv_iaid_from_string("", &v), -EINVAL);
	assert_int_equal(pdenv_iaid_from_string("-1", &v), -EINVAL);
}

static void test_networkd(void **state)
{
	/* 2001:db8:f000::/56, valid until boot time 40 s, preferred until 30 s */
	const char *json =
		"V6PD_NETWORKD_JSON={\"Interfaces\": [{\"Name\": \"lo\"}, {\"Name\": \"wan\","
		"\"DHCPv6Client\": {\"Prefixes\": [{\"Prefix\": [32,1,13,184,240,0,0,0,0,0,0,0,0,0,"
		"0,0], \"PrefixLength\": 56, \"PreferredLifetimeUSec\": 30000000,"
		"\"ValidLifetimeUSec\": 40000000}, {\"Prefix\": \"2001:db8:f100::\","
		"\"PrefixLength\": 56}]}}]}";
	const char *env[] = { "IFACE=wan", "STATE=routable", json, NULL };
	const char *direct[] = { "IFACE=wan",
				 "V6PD_NETWORKD_JSON={\"Name\": \"wan\", \"DHCPv6Client\": {}}",
				 NULL };
	const char *bad[] = { "IFACE=wan", "V6PD_NETWORKD_JSON={\"Name\": ", NULL };
	const char *bytes[] = { "IFACE=wan",
				"V6PD_NETWORKD_JSON={\"DHCPv6Client\": {\"Prefixes\": [{\"Prefix\":"
				" [1,2], \"PrefixLength\": 56}]}}",
				NULL };
	struct pdenv ev;

	assert_int_equal(pdenv_parse(env, 10000000, &ev), 0);
	assert_int_equal(ev.client, PDENV_NETWORKD);
	assert_int_equal(ev.kind, PDENV_REPLACE);
	assert_string_equal(ev.reason, "routable");
	assert_int_equal(ev.n, 2);
	assert_prefix(&ev.prefixes[0].prefix, "2001:db8:f000::/56");
	assert_int_equal(ev.prefixes[0].vltime, 30);
	assert_int_equal(ev.prefixes[0].pltime, 20);
	assert_prefix(&ev.prefixes[1].prefix, "2001:db8:f100::/56");
	assert_int_equal(ev.prefixes[1].vltime, UINT32_MAX);
	/* past its deadline: withdrawn */
	assert_int_equal(pdenv_parse(env, 50000000, &ev), 0);
	assert_int_equal(ev.prefixes[0].vltime, 0);
	assert_int_equal(pdenv_parse(direct, 0, &ev), 0);
	assert_int_equal(ev.n, 0);
	assert_int_equal(pdenv_parse(bad, 0, &ev), -EINVAL);
	assert_int_equal(pdenv_parse(bytes, 0, &ev), -EINVAL);
	assert_non_null(strstr(err_msg(-EINVAL), "16 bytes"));
}

static void test_merge_expiry_and_forever(void **state)
{
	struct pdenv ev = { .kind = PDENV_UPDATE, .interface = "e", .n = 1 };
	struct pdenv_known k[PDENV_KNOWN_MAX];
	struct prefix got;
	size_t n = 0;

	ev.prefixes[0] = (struct pdenv_prefix){ .prefix = P("2001:db8::/48"), .vltime = UINT32_MAX,
						.pltime = UINT32_MAX };
	pdenv_merge(k, &n, &ev, 1000);
	assert_int_equal(n, 1);
	assert_true(k[0].valid_until == INT64_MAX);
	ev.prefixes[0] = (struct pdenv_prefix){ .prefix = P("2001:db8:1::/48"), .vltime = 5 };
	pdenv_merge(k, &n, &ev, 1000);
	assert_int_equal(n, 2);
	ev.kind = PDENV_IGNORE;
	pdenv_merge(k, &n, &ev, 1006);		/* the 5 s one has expired */
	assert_int_equal(n, 1);
	assert_int_equal(pdenv_choose(k, n, NULL, 1006, &got), 1);
	assert_prefix(&got, "2001:db8::/48");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dhcpcd_bound),
		cmocka_unit_test(test_dhcpcd_renumber),
		cmocka_unit_test(test_choose_stable),
		cmocka_unit_test(test_dhcpcd_withdraw_only),
		cmocka_unit_test(test_dhcpcd_gone),
		cmocka_unit_test(test_dhcpcd_ignored),
		cmocka_unit_test(test_dhcpcd_two_ias),
		cmocka_unit_test(test_dhclient_sequence),
		cmocka_unit_test(test_dhclient_no_prefix),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_not_dhcp),
		cmocka_unit_test(test_iaid),
		cmocka_unit_test(test_networkd),
		cmocka_unit_test(test_merge_expiry_and_forever),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
