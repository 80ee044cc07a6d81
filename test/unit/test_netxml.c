/* v6pdctl/netxml.c: v6pd's parts of a libvirt network's XML, on strings (no libvirt). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "err.h"
#include "netxml.h"

#define HOSTS "dhcp-hostsdir=/var/lib/v6pd/dhcp-hosts/vms"
#define DUID "00:02:00:00:7e:d9:76:36:70:64"

static struct netxml_want want(void)
{
	return (struct netxml_want){
		.address = "2001:db8:0:3::1",
		.prefix = 64,
		.host_id = DUID,
		.hosts_suffix = "/dhcp-hosts/vms",
		.options = { HOSTS, "dhcp-lease-max=4096", "ra-param=*,10,600" },
		.n_options = 3,
	};
}

/* The number of nodes xpath selects in xml ("dm" is the dnsmasq namespace). */
static int count(const char *xml, const char *xpath)
{
	xmlDocPtr doc = xmlReadMemory(xml, (int)strlen(xml), "t.xml", NULL, XML_PARSE_NONET);
	xmlXPathContextPtr ctx;
	xmlXPathObjectPtr o;
	int n;

	assert_non_null(doc);
	ctx = xmlXPathNewContext(doc);
	assert_int_equal(xmlXPathRegisterNs(ctx, (const xmlChar *)"dm",
					    (const xmlChar *)NETXML_DNSMASQ_NS), 0);
	o = xmlXPathEvalExpression((const xmlChar *)xpath, ctx);
	assert_non_null(o);
	n = o->nodesetval ? o->nodesetval->nodeNr : 0;
	xmlXPathFreeObject(o);
	xmlXPathFreeContext(ctx);
	xmlFreeDoc(doc);
	return n;
}

static void assert_has(const char *xml, const char *xpath, int n)
{
	int got = count(xml, xpath);

	if (got != n)
		fail_msg("%s: %d nodes, want %d, in\n%s", xpath, got, n, xml);
}

/* v6pd's parts exactly once, as wanted. */
static void assert_ours(const char *xml, const struct netxml_want *w)
{
	struct netxml_info i;

	assert_has(xml, "/network/ip[@family='ipv6' and @address='2001:db8:0:3::1' and "
			"@prefix='64']/dhcp/host[@id='" DUID "' and @ip='2001:db8:0:3::1']", 1);
	assert_has(xml, "/network/ip[@family='ipv6']/dhcp", 1);
	assert_has(xml, "/network/ip[@family='ipv6']/dhcp/*", 1);
	assert_has(xml, "/network/dm:options", 1);
	assert_has(xml, "/network/dm:options/dm:option[@value='" HOSTS "']", 1);
	assert_has(xml, "/network/dm:options/dm:option[@value='dhcp-lease-max=4096']", 1);
	assert_has(xml, "/network/dm:options/dm:option[@value='ra-param=*,10,600']", 1);
	assert_int_equal(netxml_inspect(xml, w, &i), 0);
	assert_true(i.up_to_date);
}

static void test_new_network(void **state)
{
	struct netxml_want w = want();
	struct netxml_info i;
	char *xml = NULL, *out = NULL;

	assert_int_equal(netxml_new("vm-net", &xml), 0);
	assert_has(xml, "/network/name[text()='vm-net']", 1);
	assert_has(xml, "/network/forward[@mode='route']", 1);
	assert_has(xml, "/network/ip", 0);
	assert_int_equal(netxml_inspect(xml, &w, &i), 0);
	assert_false(i.up_to_date);
	assert_string_equal(i.forward, "route");

	assert_int_equal(netxml_edit(xml, &w, &out, &i), 0);
	assert_false(i.up_to_date);
	assert_int_equal(i.n_removed, 0);
	assert_ours(out, &w);
	assert_has(out, "/network/forward[@mode='route']", 1);
	free(xml);
	free(out);
}

/* A name that needs escaping stays one text node. */
static void test_new_network_escapes_the_name(void **state)
{
	char *xml = NULL;

	assert_int_equal(netxml_new("a<b&c'd", &xml), 0);
	assert_has(xml, "/network/name[text()=\"a<b&c'd\"]", 1);
	free(xml);
}

/* What libvirt gives back after a define: re-ordered, re-indented, our namespace prefix. */
static const char *const defined =
	"<network xmlns:dnsmasq='http://libvirt.org/schemas/network/dnsmasq/1.0'>\n"
	"  <name>vms</name>\n"
	"  <uuid>8ee3b8a5-67a7-4d0c-8d44-5d1c8a7e4b7e</uuid>\n"
	"  <forward mode='route'/>\n"
	"  <bridge name='virbr7' stp='on' delay='0'/>\n"
	"  <mac address='52:54:00:12:34:56'/>\n"
	"  <ip family='ipv6' address='2001:db8:0:3::1' prefix='64'>\n"
	"    <dhcp>\n"
	"      <host id='" DUID "' ip='2001:db8:0:3::1'/>\n"
	"    </dhcp>\n"
	"  </ip>\n"
	"  <dnsmasq:options>\n"
	"    <dnsmasq:option value='" HOSTS "'/>\n"
	"    <dnsmasq:option value='dhcp-lease-max=4096'/>\n"
	"    <dnsmasq:option value='ra-param=*,10,600'/>\n"
	"  </dnsmasq:options>\n"
	"</network>\n";

static void test_up_to_date_is_left_alone(void **state)
{
	struct netxml_want w = want();
	struct netxml_info i;
	char *out = NULL;

	assert_int_equal(netxml_edit(defined, &w, &out, &i), 0);
	assert_true(i.up_to_date);
	assert_int_equal(i.n_removed, 0);
	assert_string_equal(out, defined);
	assert_string_equal(i.bridge, "virbr7");
	assert_string_equal(i.forward, "route");
	free(out);
}

/* Editing twice gives the same document as editing once. */
static void test_edit_is_idempotent(void **state)
{
	struct netxml_want w = want();
	struct netxml_info i;
	char *once = NULL, *twice = NULL, *xml = NULL;

	assert_int_equal(netxml_new("vms", &xml), 0);
	assert_int_equal(netxml_edit(xml, &w, &once, &i), 0);
	assert_int_equal(netxml_edit(once, &w, &twice, &i), 0);
	assert_true(i.up_to_date);
	assert_string_equal(once, twice);
	free(xml);
	free(once);
	free(twice);
}

/* Everything of the user's is kept; every part of v6pd's old settings and anything that
 * would conflict with them goes. */
static void test_user_settings_kept_old_parts_replaced(void **state)
{
	static const char *const xml =
		"<network xmlns:dm='http://libvirt.org/schemas/network/dnsmasq/1.0'>"
		"<name>vms</name><uuid>8ee3b8a5-67a7-4d0c-8d44-5d1c8a7e4b7e</uuid>"
		"<forward mode='nat'><nat><port start='1024' end='65535'/></nat></forward>"
		"<bridge name='virbr7' stp='on' delay='0'/><mtu size='9000'/>"
		"<domain name='vms.example' localOnly='yes'/>"
		"<dns><host ip='192.168.50.10'><hostname>db</hostname></host></dns>"
		"<ip address='192.168.50.1' netmask='255.255.255.0'><dhcp>"
		"<range start='192.168.50.2' end='192.168.50.254'/></dhcp></ip>"
		/* a user's ULA without DHCP: kept */
		"<ip family='ipv6' address='fd00:1:2:3::1' prefix='64'/>"
		/* v6pd's <ip> of another prefix (renumbered): replaced */
		"<ip family='ipv6' address='2001:db8:ffff:3::1' prefix='64'><dhcp>"
		"<range start='2001:db8:ffff:3::2' end='2001:db8:ffff:3::1001'/></dhcp></ip>"
		/* an address in the slice without DHCP: replaced */
		"<ip family='ipv6' address='2001:db8:0:3::99' prefix='64'/>"
		"<route family='ipv6' address='2001:db8:9::' prefix='48' gateway='fd00:1:2:3::2'/>"
		"<dm:options>"
		"<dm:option value='dhcp-hostsdir=/srv/old-state/dhcp-hosts/vms'/>"
		"<dm:option value='log-dhcp'/>"
		"<dm:option value='ra-param=*,0,0'/>"
		"<dm:option value='dhcp-hostsdir=/srv/other/dhcp-hosts/vms2'/>"
		"<dm:option value='dhcp-lease-max=253'/>"
		"</dm:options></network>";
	struct netxml_want w = want();
	struct netxml_info i;
	char *out = NULL;

	assert_int_equal(netxml_edit(xml, &w, &out, &i), 0);
	assert_false(i.up_to_date);
	assert_ours(out, &w);
	assert_string_equal(i.forward, "nat");
	assert_string_equal(i.bridge, "virbr7");
	/* kept */
	assert_has(out, "/network/uuid[text()='8ee3b8a5-67a7-4d0c-8d44-5d1c8a7e4b7e']", 1);
	assert_has(out, "/network/forward[@mode='nat']/nat/port[@start='1024']", 1);
	assert_has(out, "/network/mtu[@size='9000']", 1);
	assert_has(out, "/network/domain[@name='vms.example' and @localOnly='yes']", 1);
	assert_has(out, "/network/dns/host[@ip='192.168.50.10']/hostname", 1);
	assert_has(out, "/network/ip[@address='192.168.50.1']/dhcp/range", 1);
	assert_has(out, "/network/ip[@address='fd00:1:2:3::1']", 1);
	assert_has(out, "/network/route[@gateway='fd00:1:2:3::2']", 1);
	assert_has(out, "/network/dm:options/dm:option[@value='log-dhcp']", 1);
	assert_has(out, "/network/dm:options/dm:option[@value='dhcp-hostsdir=/srv/other/"
			"dhcp-hosts/vms2']", 1);
	/* one options element, under the document's own prefix */
	assert_has(out, "/network/*[local-name()='options']", 1);
	assert_non_null(strstr(out, "<dm:options>"));
	/* replaced */
	assert_has(out, "/network/ip[@address='2001:db8:ffff:3::1']", 0);
	assert_has(out, "/network/ip[@address='2001:db8:0:3::99']", 0);
	assert_has(out, "//dm:option[@value='ra-param=*,0,0']", 0);
	assert_has(out, "//dm:option[starts-with(@value,'dhcp-hostsdir=/srv/old-state')]", 0);
	assert_has(out, "/network/ip", 3);
	/* the new <ip> follows the others, before <route> */
	assert_has(out, "/network/ip[@address='2001:db8:0:3::1']/following-sibling::route", 1);
	assert_int_equal(i.ipv4_range_size, 253);
	assert_int_equal(i.n_removed, 5);
	assert_string_equal(i.removed[0], "<ip> 2001:db8:ffff:3::1/64 (DHCPv6)");
	assert_string_equal(i.removed[1], "<ip> 2001:db8:0:3::99/64");
	assert_string_equal(i.removed[2],
			    "<dnsmasq:option> dhcp-hostsdir=/srv/old-state/dhcp-hosts/vms");
	assert_string_equal(i.removed[3], "<dnsmasq:option> ra-param=*,0,0");
	assert_string_equal(i.removed[4], "<dnsmasq:option> dhcp-lease-max=253");
	free(out);
}

/* Any difference in v6pd's parts makes an edit. */
static void test_differences_are_seen(void **state)
{
	static const char *const variants[][2] = {
		{ "prefix='64'>", "prefix='80'>" },
		{ "ip='2001:db8:0:3::1'/>", "ip='2001:db8:0:3::2'/>" },
		{ "id='" DUID "'", "id='00:01:02'" },
		{ "<host id=", "<host name='x' id=" },
		{ "</dhcp>", "<range start='2001:db8:0:3::2' end='2001:db8:0:3::9'/></dhcp>" },
		{ "dhcp-lease-max=4096", "dhcp-lease-max=100" },
		{ "<dnsmasq:option value='ra-param=*,10,600'/>\n", "" },
		{ "<dnsmasq:option value='" HOSTS "'/>\n", "" },
	};
	struct netxml_want w = want();

	for (size_t k = 0; k < sizeof(variants) / sizeof(variants[0]); k++) {
		const char *at = strstr(defined, variants[k][0]);
		char xml[4096], *out = NULL;
		struct netxml_info i;

		assert_non_null(at);
		(void)snprintf(xml, sizeof(xml), "%.*s%s%s", (int)(at - defined), defined,
			       variants[k][1], at + strlen(variants[k][0]));
		assert_int_equal(netxml_edit(xml, &w, &out, &i), 0);
		if (i.up_to_date)
			fail_msg("variant %zu seen as up to date", k);
		assert_ours(out, &w);
		free(out);
	}
}

/* The same DUID and address written differently. */
static void test_equal_spellings_are_up_to_date(void **state)
{
	struct netxml_want w = want();
	struct netxml_info i;

	w.address = "2001:0db8:0000:0003:0000:0000:0000:0001";
	w.host_id = "00:02:00:00:7E:D9:76:36:70:64";
	assert_int_equal(netxml_inspect(defined, &w, &i), 0);
	assert_true(i.up_to_date);
}

/* Parts put back as they were are not reported as replaced. */
static void test_only_real_changes_are_reported(void **state)
{
	const char *drop = "    <dnsmasq:option value='ra-param=*,10,600'/>\n";
	const char *at = strstr(defined, drop);
	struct netxml_want w = want();
	struct netxml_info i;
	char xml[4096], *out = NULL;

	(void)snprintf(xml, sizeof(xml), "%.*s%s", (int)(at - defined), defined,
		       at + strlen(drop));
	assert_int_equal(netxml_edit(xml, &w, &out, &i), 0);
	assert_false(i.up_to_date);
	assert_int_equal(i.n_removed, 0);
	assert_ours(out, &w);
	free(out);
}

static void test_domain_taps(void **state)
{
	static const char *const dom =
		"<domain type='qemu'><name>vm</name><devices>"
		"<interface type='network'><source network='vms' portid='x' bridge='virbr7'/>"
		"<target dev='vnet3'/><mac address='52:54:00:00:00:01'/></interface>"
		"<interface type='network'><source network='other'/><target dev='vnet4'/>"
		"</interface>"
		"<interface type='bridge'><source bridge='vms'/><target dev='vnet5'/></interface>"
		"<interface type='network'><source network='vms'/></interface>"
		"<interface type='network'><source network='vms'/>"
		"<target dev='a-name-far-too-long-for-a-link'/></interface>"
		"<disk type='file'/>"
		"<interface type='network'><source network='vms'/><target dev='vnet9'/>"
		"</interface></devices></domain>";
	char taps[4][16];

	assert_int_equal(netxml_domain_taps(dom, "vms", taps, 4), 2);
	assert_string_equal(taps[0], "vnet3");
	assert_string_equal(taps[1], "vnet9");
	assert_int_equal(netxml_domain_taps(dom, "vms", taps, 1), 1);
	assert_int_equal(netxml_domain_taps(dom, "none", taps, 4), 0);
	assert_int_equal(netxml_domain_taps("<domain/>", "vms", taps, 4), 0);
	assert_int_equal(netxml_domain_taps("<network/>", "vms", taps, 4), -EINVAL);
	assert_non_null(strstr(err_msg(-EINVAL), "not <domain>"));
	err_clear();
}

static void test_isolated_and_default_forward(void **state)
{
	struct netxml_want w = want();
	struct netxml_info i;
	char *out = NULL;

	assert_int_equal(netxml_inspect("<network><name>x</name></network>", &w, &i), 0);
	assert_string_equal(i.forward, "");
	assert_int_equal(netxml_inspect("<network><name>x</name><forward/></network>", &w, &i),
			 0);
	assert_string_equal(i.forward, "nat");
	/* an isolated network is edited like any other, and gets the namespace declared */
	assert_int_equal(netxml_edit("<network><name>x</name></network>", &w, &out, &i), 0);
	assert_ours(out, &w);
	assert_non_null(strstr(out, "xmlns:dnsmasq=\"" NETXML_DNSMASQ_NS "\""));
	free(out);
}

static void test_refused(void **state)
{
	static const struct {
		const char *xml;
		int r;
		const char *msg;
	} cases[] = {
		{ "<network><name>br</name><forward mode='bridge'/><bridge name='br0'/></network>",
		  -EOPNOTSUPP, "libvirt network \"br\" has <forward mode='bridge'>" },
		{ "<network><name>h</name><forward mode='hostdev'/></network>", -EOPNOTSUPP,
		  "<forward mode='hostdev'>" },
		{ "<domain><name>d</name></domain>", -EINVAL, "not <network>" },
		{ "<network><name>x</name>", -EINVAL, "network XML: line 1" },
		{ "", -EINVAL, "empty" },
		{ "<!DOCTYPE network [<!ENTITY a 'b'>]><network><name>&a;</name></network>",
		  -EINVAL, "DOCTYPE" },
	};
	struct netxml_want w = want();

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct netxml_info i;
		char *out = NULL;
		int r = netxml_edit(cases[k].xml, &w, &out, &i);

		if (r != cases[k].r || !strstr(err_msg(r), cases[k].msg))
			fail_msg("case %zu: %d \"%s\", want %d \"%s\"", k, r, err_msg(r),
				 cases[k].r, cases[k].msg);
		assert_null(out);
		err_clear();
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_network),
		cmocka_unit_test(test_new_network_escapes_the_name),
		cmocka_unit_test(test_up_to_date_is_left_alone),
		cmocka_unit_test(test_edit_is_idempotent),
		cmocka_unit_test(test_user_settings_kept_old_parts_replaced),
		cmocka_unit_test(test_differences_are_seen),
		cmocka_unit_test(test_equal_spellings_are_up_to_date),
		cmocka_unit_test(test_only_real_changes_are_reported),
		cmocka_unit_test(test_domain_taps),
		cmocka_unit_test(test_isolated_and_default_forward),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
