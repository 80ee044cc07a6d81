/* cni-plugin/quick.c's reading of the netconf, against jansson's: whenever the quick path is
 * sure of a state directory, it is the one cni-plugin/front.c would take. Common netconfs
 * (compact, indented, Python's ", " separators, the IPAM role) must be read by the quick
 * path; 200,000 mutated ones (escapes, duplicates, other types, truncation, nesting, bytes
 * changed) may be given up, never read differently. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "../../cni-plugin/quick.c"
#include "serve.h"

/* 1: quick read it, and as jansson does; 0: quick gave up. Fails on a disagreement. */
static int agree(const char *text, size_t len)
{
	struct span got;
	json_t *j;
	const char *want;

	if (!state_dir(text, len, &got))
		return 0;
	j = json_loadb(text, len, 0, NULL);
	if (!j)
		return 1;	/* not JSON: the server's jansson says so, as the caller's would */
	want = serve_state_dir(j);
	if (!want || strlen(want) != got.n || memcmp(want, got.s, got.n) != 0) {
		fprintf(stderr, "quick read \"%.*s\", jansson \"%s\" in:\n%.*s\n", (int)got.n, got.s,
			want ? want : "(none)", (int)len, text);
		fail();
	}
	json_decref(j);
	return 1;
}

static const char *const common[] = {
	"{\"cniVersion\":\"1.1.0\",\"name\":\"web\",\"type\":\"v6pd\",\"stateDir\":\"/var/lib/x\"}",
	"{\"cniVersion\": \"1.0.0\", \"name\": \"web\", \"type\": \"v6pd\", \"mode\": \"bridge\"}",
	"{\n\t\"cniVersion\": \"0.4.0\",\n\t\"name\": \"n\",\n\t\"type\": \"v6pd\",\n"
	"\t\"dns\": {\"nameservers\": [\"2001:db8::53\"], \"zone\": \"c.example.\"},\n"
	"\t\"stateDir\": \"/run/v6pd/\"\n}\n",
	"{\"type\": \"bridge\", \"name\": \"b\", \"isGateway\": true, \"ipam\": {\"type\": \"v6pd\", "
	"\"stateDir\": \"/srv/v6pd\", \"prefix\": \"2001:db8::/56\"}, \"cniVersion\": \"1.0.0\"}",
	"{\"type\":\"macvlan\",\"master\":\"eth0\",\"ipam\":{\"type\":\"v6pd\"}}",
	"{\"cniVersion\": \"1.1.0\", \"name\": \"n\", \"type\": \"v6pd\", \"stateDir\": \"/s\", "
	"\"runtimeConfig\": {\"mac\": \"aa:bb:cc:dd:ee:ff\", \"ips\": [\"2001:db8::5/64\"]}, "
	"\"prevResult\": {\"cniVersion\": \"1.1.0\", \"interfaces\": [{\"name\": \"eth0\", "
	"\"mac\": \"8a:00:7e:a7:be:46\", \"mtu\": 1500, \"sandbox\": \"/run/netns/c1\"}], "
	"\"ips\": [{\"address\": \"2001:db8::1/64\", \"gateway\": \"fe80::1\", \"interface\": 0}], "
	"\"routes\": [{\"dst\": \"::/0\", \"gw\": \"fe80::1\"}], \"dns\": {}}, "
	"\"args\": {\"cni\": {\"v6pd\": {\"key\": \"k\"}}}, \"x\": [1, -2.5e3, null, false, {}]}",
};

static void the_common_netconfs_are_read_by_the_quick_path(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++) {
		if (agree(common[i], strlen(common[i])) != 1) {
			fprintf(stderr, "given up: %s\n", common[i]);
			fail();
		}
	}
}

/* xorshift: the same cases on every run */
static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;
static unsigned rnd(unsigned n)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return (unsigned)(rnd_state % n);
}

static const char *const pieces[] = {
	"\"stateDir\": \"/a\"", "\"stateDir\":\"/b/\"", "\"stateDir\": \"rel\"",
	"\"stateDir\": 5", "\"stateDir\": \"\\/esc\"", "\"state\\u0044ir\": \"/u\"",
	"\"type\": \"v6pd\"", "\"type\": \"bridge\"", "\"type\": [\"v6pd\"]", "\"type\":\"v6p\\u0064\"",
	"\"ipam\": {\"stateDir\": \"/i\"}", "\"ipam\": {\"type\": \"v6pd\"}", "\"ipam\": \"/s\"",
	"\"ipam\": {\"x\": {\"stateDir\": \"/deep\"}, \"stateDir\": \"/j\"}", "\"ipam\": null",
	"\"cniVersion\": \"1.0.0\"", "\"name\": \"n\"", "\"x\": [[[[]]]]", "\"y\": {\"stateDir\": \"/no\"}",
	"\"z\": \"a \\\" \\\\ b\"", "\"n\": -1.5e-3", "\"t\": true", "\"u\": \"\xc3\xa9\"",
};

static size_t compose(char *buf, size_t cap)
{
	size_t n = 0, k = 1 + rnd(6);

	n += (size_t)snprintf(buf + n, cap - n, "%s{", rnd(4) ? "" : " \n");
	for (size_t i = 0; i < k && n < cap - 200; i++)
		n += (size_t)snprintf(buf + n, cap - n, "%s%s%s", i ? (rnd(2) ? "," : " ,\n ") : "",
				      pieces[rnd(sizeof(pieces) / sizeof(pieces[0]))],
				      rnd(3) ? "" : " ");
	n += (size_t)snprintf(buf + n, cap - n, "}%s", rnd(4) ? "" : "\n ");
	return n;
}

static void mutate(char *buf, size_t *len)
{
	static const char bytes[] = "{}[]\":,\\ ab/0-e\t\n";

	switch (rnd(5)) {
	case 0:	/* a byte changed */
		buf[rnd((unsigned)*len)] = bytes[rnd(sizeof(bytes) - 1)];
		break;
	case 1:	/* truncated */
		*len = rnd((unsigned)*len);
		break;
	case 2:	/* a trailing byte */
		buf[(*len)++] = bytes[rnd(sizeof(bytes) - 1)];
		break;
	default:
		break;
	}
}

static void mutated_netconfs_are_read_as_jansson_reads_them_or_given_up(void **state)
{
	char buf[4096];
	unsigned read = 0;

	(void)state;
	for (int i = 0; i < 200000; i++) {
		size_t len = compose(buf, sizeof(buf) - 8);

		mutate(buf, &len);
		read += (unsigned)agree(buf, len);
	}
	/* not everything given up: the property above was tested on many read ones */
	assert_true(read > 20000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_common_netconfs_are_read_by_the_quick_path),
		cmocka_unit_test(mutated_netconfs_are_read_as_jansson_reads_them_or_given_up),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
