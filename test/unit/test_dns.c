/* dns: the "dns" config object (also through config_network_from_json), reverse zones, name
 * templates, secrets from files, and the hostsDir backend's rewriting against a real store in
 * a mkdtemp() directory. No network, no root. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "dns.h"
#include "dns_int.h"
#include "err.h"

/* --- helpers --- */

static json_t *js(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	if (!j)
		fail_msg("bad test JSON %s: %s", text, e.text);
	return j;
}

/* Parses a "dns" object for a /slice_len network; returns r, fills *c. */
static int parse(const char *text, unsigned slice_len, struct dns_config *c)
{
	json_t *j = js(text);
	int r;

	err_clear();
	r = dns_config_from_json(j, slice_len, false, c);
	json_decref(j);
	return r;
}

static void assert_refused(const char *text, unsigned slice_len, const char *needle)
{
	struct dns_config c;
	int r = parse(text, slice_len, &c);

	if (r >= 0)
		fail_msg("accepted: %s", text);
	if (!strstr(err_msg(r), needle))
		fail_msg("%s: message \"%s\" lacks \"%s\"", text, err_msg(r), needle);
}

static struct lease lease_of(const char *network, const char *key, const char *hostname,
			     const char *addr, unsigned slice_len)
{
	struct lease l;

	memset(&l, 0, sizeof(l));
	(void)snprintf(l.network, sizeof(l.network), "%s", network);
	(void)snprintf(l.key, sizeof(l.key), "%s", key);
	(void)snprintf(l.hostname, sizeof(l.hostname), "%s", hostname);
	assert_int_equal(prefix_addr_from_string(addr, &l.addr), 0);
	l.addr_known = true;
	l.slice.addr = l.addr;
	l.slice.len = (uint8_t)slice_len;
	for (unsigned b = slice_len; b < 128; b++)
		l.slice.addr.s6_addr[b / 8] &= (uint8_t) ~(0x80u >> (b % 8));
	return l;
}

static void render(const char *tmpl, const struct lease *l, const char *zone, int want,
		   const char *want_name)
{
	struct dns_name_vars v;
	char out[DNS_NAME_MAX];
	int r;

	dns_name_vars_from_lease(l, &v);
	err_clear();
	r = dns_name_render(tmpl, &v, zone, out);
	if (r != want)
		fail_msg("template %s: %d (%s), want %d", tmpl ? tmpl : "(default)", r, err_msg(r),
			 want);
	if (want == 0)
		assert_string_equal(out, want_name);
}

/* --- config --- */

static void test_config_defaults(void **state)
{
	struct dns_config c;

	assert_int_equal(parse("{\"zone\": \"Containers.Example.COM\"}", 64, &c), 0);
	assert_true(c.enabled);
	assert_string_equal(c.zone, "containers.example.com.");
	assert_string_equal(c.reverse_zone, "");
	assert_true(c.ptr);
	assert_int_equal(c.ttl, DNS_DEFAULT_TTL);
	assert_int_equal(c.on_release, DNS_RELEASE_REMOVE);
	assert_false(c.required);
	assert_int_equal(c.timeout, DNS_DEFAULT_TIMEOUT);
	assert_string_equal(c.name_template, "");
	assert_false(c.hosts || c.pdns || c.rfc2136);
}

static void test_config_cni_dns_is_not_ours(void **state)
{
	struct dns_config c;

	/* CNI's own "dns" (SPEC.md): nameservers, domain, search; it enables nothing */
	assert_int_equal(parse("{\"nameservers\": [\"2001:db8::53\"], \"domain\": \"x\"}", 64, &c),
			 0);
	assert_false(c.enabled);
	assert_int_equal(dns_config_from_json(NULL, 64, false, &c), 0);
	assert_false(c.enabled);
	assert_refused("{\"hostsDir\": \"/run/h\"}", 64, "\"dns.zone\": missing");
	assert_refused("[]", 64, "\"dns\": must be an object");
}

static void test_config_full(void **state)
{
	struct dns_config c;
	json_t *j;
	char *a, *b;

	assert_int_equal(
		parse("{\"zone\": \"c.test.\", \"reverseZone\": \"0.0.2.1.8.B.D.0.1.0.0.2.ip6.arpa\","
		      " \"ttl\": 60, \"name\": \"{name}-{network}\", \"onRelease\": \"keep\","
		      " \"required\": true, \"timeout\": \"5s\", \"hostsDir\": \"/run/v6pd/hosts\","
		      " \"powerdns\": {\"url\": \"http://127.0.0.1:8081/\", \"apiKeyFile\": \"/k\"},"
		      " \"rfc2136\": {\"server\": \"::1\", \"port\": 5353, \"keyFile\": \"/t\","
		      " \"algorithm\": \"HMAC-SHA512\"}}",
		      64, &c),
		0);
	assert_string_equal(c.reverse_zone, "0.0.2.1.8.b.d.0.1.0.0.2.ip6.arpa.");
	assert_int_equal(c.ttl, 60);
	assert_string_equal(c.name_template, "{name}-{network}");
	assert_int_equal(c.on_release, DNS_RELEASE_KEEP);
	assert_true(c.required);
	assert_int_equal(c.timeout, 5);
	assert_true(c.hosts && c.pdns && c.rfc2136);
	assert_string_equal(c.hosts_dir, "/run/v6pd/hosts");
	assert_string_equal(c.pdns_url, "http://127.0.0.1:8081");
	assert_string_equal(c.pdns_server_id, "localhost");
	assert_string_equal(c.rfc2136_server, "::1");
	assert_int_equal(c.rfc2136_port, 5353);
	assert_string_equal(c.rfc2136_algorithm, "hmac-sha512");
	/* the stored form reads back the same */
	j = dns_config_to_json(&c);
	assert_non_null(j);
	a = json_dumps(j, JSON_SORT_KEYS);
	{
		struct dns_config d;

		assert_int_equal(dns_config_from_json(j, 0, false, &d), 0);
		json_decref(j);
		j = dns_config_to_json(&d);
		b = json_dumps(j, JSON_SORT_KEYS);
		assert_string_equal(a, b);
		assert_memory_equal(&c, &d, sizeof(c));
	}
	free(a);
	free(b);
	json_decref(j);
}

static void test_config_errors_name_the_key(void **state)
{
	assert_refused("{\"zone\": 5}", 64, "\"dns.zone\": must be a string");
	assert_refused("{\"zone\": \"a..b\"}", 64, "\"dns.zone\" \"a..b\": empty label");
	assert_refused("{\"zone\": \"a b\"}", 64, "' ' is not allowed");
	assert_refused("{\"zone\": \"z\", \"ttl\": 0}", 64, "\"dns.ttl\" 0: must be 1..");
	assert_refused("{\"zone\": \"z\", \"ttl\": \"60\"}", 64, "\"dns.ttl\": must be an integer");
	assert_refused("{\"zone\": \"z\", \"onRelease\": \"later\"}", 64,
		       "\"dns.onRelease\" \"later\": must be \"remove\" or \"keep\"");
	assert_refused("{\"zone\": \"z\", \"required\": 1}", 64,
		       "\"dns.required\": must be true or false");
	assert_refused("{\"zone\": \"z\", \"timeout\": \"2m\"}", 64, "\"dns.timeout\"");
	assert_refused("{\"zone\": \"z\", \"name\": \"{nme}\"}", 64, "unknown variable {nme}");
	assert_refused("{\"zone\": \"z\", \"name\": \"{name\"}", 64, "'{' without '}'");
	assert_refused("{\"zone\": \"z\", \"hostsDir\": \"rel/dir\"}", 64,
		       "\"dns.hostsDir\" \"rel/dir\": must be an absolute path");
	assert_refused("{\"zone\": \"z\", \"powerdns\": {\"apiKeyFile\": \"/k\"}}", 64,
		       "\"dns.powerdns.url\": missing");
	assert_refused("{\"zone\": \"z\", \"powerdns\": {\"url\": \"ftp://x\", \"apiKeyFile\": "
		       "\"/k\"}}",
		       64, "\"dns.powerdns.url\" \"ftp://x\": must start with http://");
	assert_refused("{\"zone\": \"z\", \"powerdns\": {\"url\": \"http://x\"}}", 64,
		       "\"dns.powerdns.apiKeyFile\": missing");
	assert_refused("{\"zone\": \"z\", \"powerdns\": {\"url\": \"http://x\", "
		       "\"apiKeyFile\": \"k\"}}",
		       64, "\"dns.powerdns.apiKeyFile\" \"k\": must be an absolute path");
	/* a secret written inline is refused, not ignored, and not repeated */
	assert_refused("{\"zone\": \"z\", \"powerdns\": {\"url\": \"http://x\", \"apiKey\": "
		       "\"s3cr3t-inline\", \"apiKeyFile\": \"/k\"}}",
		       64, "\"dns.powerdns.apiKey\": unknown key (known: url, serverId, apiKeyFile");
	assert_null(strstr(err_msg(-EINVAL), "s3cr3t-inline"));
	assert_refused("{\"zone\": \"z\", \"rfc2136\": {\"server\": \"::1\", \"keyFile\": \"/t\","
		       " \"secret\": \"s3cr3t-inline\"}}",
		       64, "\"dns.rfc2136.secret\": unknown key (known: server, port, keyFile, "
			   "algorithm; secrets come from files only)");
	assert_null(strstr(err_msg(-EINVAL), "s3cr3t-inline"));
	assert_refused("{\"zone\": \"z\", \"rfc2136\": {\"server\": \"::1\", \"port\": 0, "
		       "\"keyFile\": \"/t\"}}",
		       64, "\"dns.rfc2136.port\" 0: must be 1..65535");
	assert_refused("{\"zone\": \"z\", \"rfc2136\": {\"server\": \"::1\"}}", 64,
		       "\"dns.rfc2136.keyFile\": missing");
	assert_refused("{\"zone\": \"z\", \"rfc2136\": {\"server\": \"::1\", \"keyFile\": \"/t\","
		       " \"algorithm\": \"hmac-md5\"}}",
		       64, "\"dns.rfc2136.algorithm\" \"hmac-md5\": must be hmac-sha256");
	assert_refused("{\"zone\": \"z\", \"rfc2136\": 7}", 64, "\"dns.rfc2136\": must be an object");
}

static void test_config_reverse_zone(void **state)
{
	struct dns_config c;

	/* a slice length that is not a multiple of 4 has no zone cut of its own */
	assert_refused("{\"zone\": \"z\"}", 65, "/65 is not a multiple of 4");
	assert_refused("{\"zone\": \"z\"}", 65, "the zone of the /64");
	assert_int_equal(parse("{\"zone\": \"z\", \"ptr\": false}", 65, &c), 0);
	assert_int_equal(parse("{\"zone\": \"z\", \"reverseZone\": \"8.b.d.0.1.0.0.2.ip6.arpa.\"}", 65,
			       &c),
			 0);
	assert_int_equal(parse("{\"zone\": \"z\"}", 80, &c), 0);
	assert_refused("{\"zone\": \"z\", \"reverseZone\": \"example.com\"}", 64,
		       "must be a zone under ip6.arpa");
	assert_refused("{\"zone\": \"z\", \"reverseZone\": \"ip6.arpa\"}", 64,
		       "must be a zone under ip6.arpa");
	assert_refused("{\"zone\": \"z\", \"reverseZone\": \"10.8.b.d.ip6.arpa\"}", 64,
		       "single hex digits (nibbles)");
	{
		json_t *j = js("{\"zone\": \"z\"}");

		assert_true(dns_config_from_json(j, 64, true, &c) < 0);
		assert_non_null(strstr(err_msg(-EINVAL), "needed with \"perContainerSlice\""));
		json_decref(j);
	}
}

/* The netconf carries "dns"; config.c reads it with the network's slice length. */
static void test_config_network_from_json(void **state)
{
	struct net_config nc;
	json_t *j = js("{\"sliceLength\": 80, \"dns\": {\"zone\": \"web.test\", \"hostsDir\": "
		       "\"/run/h\"}}");

	assert_int_equal(config_network_from_json(j, "web", &nc), 0);
	assert_true(nc.dns.enabled);
	assert_string_equal(nc.dns.zone, "web.test.");
	assert_true(nc.dns.hosts);
	json_decref(j);
	j = js("{\"sliceLength\": 66, \"dns\": {\"zone\": \"web.test\"}}");
	err_clear();
	assert_int_equal(config_network_from_json(j, "web", &nc), -EINVAL);
	assert_non_null(strstr(err_msg(-EINVAL), "/66 is not a multiple of 4"));
	json_decref(j);
	j = js("{}");
	assert_int_equal(config_network_from_json(j, "web", &nc), 0);
	assert_false(nc.dns.enabled);
	json_decref(j);
}

/* --- names --- */

static void test_reverse_names(void **state)
{
	struct prefix p;
	struct in6_addr a;
	char out[DNS_NAME_MAX];

	assert_int_equal(prefix_from_string("2001:db8:1200:1::/64", &p), 0);
	assert_int_equal(dns_reverse_zone(&p, out), 0);
	assert_string_equal(out, "1.0.0.0.0.0.2.1.8.b.d.0.1.0.0.2.ip6.arpa.");
	assert_int_equal(prefix_from_string("2001:db8:1200:1:abcd::/80", &p), 0);
	assert_int_equal(dns_reverse_zone(&p, out), 0);
	assert_string_equal(out, "d.c.b.a.1.0.0.0.0.0.2.1.8.b.d.0.1.0.0.2.ip6.arpa.");
	assert_int_equal(prefix_from_string("2001:db8:1200::/56", &p), 0);
	assert_int_equal(dns_reverse_zone(&p, out), 0);
	assert_string_equal(out, "0.0.0.0.2.1.8.b.d.0.1.0.0.2.ip6.arpa.");
	assert_int_equal(prefix_from_string("2001:db8:1200::/65", &p), 0);
	err_clear();
	assert_int_equal(dns_reverse_zone(&p, out), -EINVAL);
	assert_non_null(strstr(err_msg(-EINVAL), "/65 is not a multiple of 4"));
	assert_int_equal(prefix_addr_from_string("2001:db8::567:89ab", &a), 0);
	dns_reverse_name(&a, out);
	assert_string_equal(out, "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2."
				 "ip6.arpa.");
	assert_true(dns_name_in_zone(out, "8.b.d.0.1.0.0.2.ip6.arpa."));
	assert_true(dns_name_in_zone("a.b.", "a.b."));
	assert_false(dns_name_in_zone("xa.b.", "a.b."));
	assert_false(dns_name_in_zone("b.", "a.b."));
}

static void test_templates(void **state)
{
	/* Podman: K8S_POD_NAME = the container name, which keys the lease */
	struct lease podman = lease_of("web", "web1", "web1", "2001:db8::1", 64);
	/* a pod: key "NAMESPACE/NAME", hostname NAME */
	struct lease pod = lease_of("k8s", "default/nginx-0", "nginx-0", "2001:db8::2", 64);
	/* a VM (libvirt-hook/ops.c): key "UUID/MAC", hostname the domain name */
	struct lease vm = lease_of("vms", "6f1c3a2e-0000-4000-8000-000000000001/52:54:00:00:00:01",
				   "Debian12", "2001:db8::3", 64);
	struct lease noname = lease_of("web", "0123abcd", "", "2001:db8::4", 64);

	render(NULL, &podman, "c.test.", 0, "web1.c.test.");
	render("", &pod, "c.test.", 0, "nginx-0.default.c.test.");
	render(NULL, &vm, "vm.test.", 0, "debian12.vm.test.");
	render("{name}.{network}", &podman, "c.test.", 0, "web1.web.c.test.");
	render("{name}.", &podman, "c.test.", 0, "web1.c.test.");
	render("host-{namespace}", &pod, "c.test.", 0, "host-default.c.test.");
	render(NULL, &noname, "c.test.", -ENODATA, NULL);
	render("{namespace}", &podman, "c.test.", -ENODATA, NULL);
	render("{key}", &pod, "c.test.", -EINVAL, NULL);	/* '/' */
	render("{key}", &vm, "c.test.", -EINVAL, NULL);
	render("a..{name}", &podman, "c.test.", -EINVAL, NULL);
	render("{name}{name}{name}{name}{name}{name}{name}{name}{name}{name}{name}{name}{name}"
	       "{name}{name}{name}",
	       &podman, "c.test.", -EINVAL, NULL);	/* a 64-byte label */
	render("{name}{namespace}", &podman, "c.test.", -ENODATA, NULL);
	assert_non_null(strstr(err_msg(-ENODATA), "no {namespace}"));
}

static void test_record_for_lease(void **state)
{
	struct dns_config c;
	struct dns_record rec;
	struct lease l = lease_of("web", "web1", "web1", "2001:db8:0:1::5", 64);

	assert_int_equal(parse("{\"zone\": \"c.test\"}", 64, &c), 0);
	assert_int_equal(dns_record_for_lease(&c, &l, &rec), 0);
	assert_string_equal(rec.name, "web1.c.test.");
	assert_string_equal(rec.zone, "c.test.");
	assert_string_equal(rec.ptr_zone, "1.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.");
	assert_int_equal(parse("{\"zone\": \"c.test\", \"ptr\": false}", 64, &c), 0);
	assert_int_equal(dns_record_for_lease(&c, &l, &rec), 0);
	assert_string_equal(rec.ptr_zone, "");
	assert_int_equal(parse("{\"zone\": \"c.test\", \"reverseZone\": \"9.9.ip6.arpa\"}", 64, &c),
			 0);
	err_clear();
	assert_int_equal(dns_record_for_lease(&c, &l, &rec), -EINVAL);
	assert_non_null(strstr(err_msg(-EINVAL), "outside \"dns.reverseZone\" 9.9.ip6.arpa."));
	l.addr_known = false;
	assert_int_equal(dns_record_for_lease(&c, &l, &rec), -ENODATA);
	/* keep: a reserved lease stays wanted */
	l = lease_of("web", "web1", "web1", "2001:db8:0:1::5", 64);
	l.state = LEASE_RESERVED;
	assert_int_equal(parse("{\"zone\": \"c.test\"}", 64, &c), 0);
	assert_false(dns_lease_wanted(&c, &l));
	assert_int_equal(parse("{\"zone\": \"c.test\", \"onRelease\": \"keep\"}", 64, &c), 0);
	assert_true(dns_lease_wanted(&c, &l));
}

/* --- secrets --- */

struct fx {
	char root[64];
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	(void)snprintf(f->root, sizeof(f->root), "/tmp/v6pd-dns-XXXXXX");
	if (!mkdtemp(f->root))
		return -1;
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

	(void)nftw(f->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static void put_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

static void test_secret_files(void **state)
{
	struct fx *f = *state;
	char path[128], buf[DNS_SECRET_MAX];
	struct dns_tsig_key k;

	(void)snprintf(path, sizeof(path), "%s/api.key", f->root);
	put_file(path, "s3cret-api-key\n", 0600);
	assert_int_equal(dns_secret_read("apiKeyFile", path, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "s3cret-api-key");
	put_file(path, "s3cret-api-key\n", 0640);
	err_clear();
	assert_int_equal(dns_secret_read("apiKeyFile", path, buf, sizeof(buf)), -EPERM);
	assert_non_null(strstr(err_msg(-EPERM), "group or others may access it (mode 0640)"));
	assert_null(strstr(err_msg(-EPERM), "s3cret"));
	put_file(path, "\n", 0600);
	assert_int_equal(dns_secret_read("apiKeyFile", path, buf, sizeof(buf)), -EINVAL);

	(void)snprintf(path, sizeof(path), "%s/tsig.key", f->root);
	/* as tsig-keygen writes it */
	put_file(path,
		 "key \"v6pd-Key\" {\n\talgorithm hmac-sha256;\n\tsecret "
		 "\"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=\";\n};\n",
		 0600);
	assert_int_equal(dns_tsig_key_read(path, &k), 0);
	assert_string_equal(k.name, "v6pd-key.");
	assert_string_equal(k.algorithm, "hmac-sha256");
	assert_string_equal(k.secret, "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=");
	dns_tsig_key_clear(&k);
	put_file(path, "# a comment\nkey k { algorithm HMAC-SHA512; secret \"YWJj\"; }; // end\n",
		 0600);
	assert_int_equal(dns_tsig_key_read(path, &k), 0);
	assert_string_equal(k.algorithm, "hmac-sha512");
	put_file(path, "key k { algorithm hmac-sha256; secret \"not base64!\"; };\n", 0600);
	err_clear();
	assert_int_equal(dns_tsig_key_read(path, &k), -EINVAL);
	assert_non_null(strstr(err_msg(-EINVAL), "the secret is not base64"));
	assert_null(strstr(err_msg(-EINVAL), "not base64!"));
	put_file(path, "key k {\n algorithm hmac-sha256\n secret \"YWJj\"; };\n", 0600);
	err_clear();
	assert_int_equal(dns_tsig_key_read(path, &k), -EINVAL);
	assert_non_null(strstr(err_msg(-EINVAL), "line 3: not BIND's key format"));
	put_file(path, "key k { algorithm hmac-sha256; secret \"YWJj\"; };\n", 0604);
	assert_int_equal(dns_tsig_key_read(path, &k), -EPERM);
	assert_int_equal(dns_tsig_key_read("/nonexistent/v6pd.key", &k), -ENOENT);
}

/* --- hostsDir --- */

static struct store_dns_record row(const char *key, const char *name, const char *addr,
				   const char *dir, enum store_dns_state st)
{
	struct store_dns_record d;

	memset(&d, 0, sizeof(d));
	(void)snprintf(d.network, sizeof(d.network), "web");
	(void)snprintf(d.key, sizeof(d.key), "%s", key);
	(void)snprintf(d.backend, sizeof(d.backend), "hostsDir");
	(void)snprintf(d.target, sizeof(d.target), "%s", dir);
	(void)snprintf(d.name, sizeof(d.name), "%s", name);
	(void)snprintf(d.zone, sizeof(d.zone), "c.test.");
	assert_int_equal(prefix_addr_from_string(addr, &d.addr), 0);
	d.state = st;
	return d;
}

static char *slurp(const char *path)
{
	static char buf[4096];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	assert_true(n >= 0);
	buf[n] = '\0';
	(void)close(fd);
	return buf;
}

static void test_hosts_rewrite(void **state)
{
	struct fx *f = *state;
	char state_dir[128], dir[128], path[192], tmp[192];
	struct store *s = NULL;
	struct store_dns_record rows[3];
	struct stat st1, st2;

	(void)snprintf(state_dir, sizeof(state_dir), "%s/state", f->root);
	(void)snprintf(dir, sizeof(dir), "%s/hosts", f->root);	/* made on first use */
	(void)snprintf(path, sizeof(path), "%s/v6pd-web.hosts", dir);
	(void)snprintf(tmp, sizeof(tmp), "%s/.v6pd-web.hosts.tmp", dir);
	assert_int_equal(store_open(state_dir, &s), 0);
	rows[0] = row("web1", "web1.c.test.", "2001:db8::1", dir, STORE_DNS_PUBLISHED);
	rows[1] = row("web2", "web2.c.test.", "2001:db8::2", dir, STORE_DNS_PENDING);
	rows[2] = row("web3", "web3.c.test.", "2001:db8::3", dir, STORE_DNS_STALE);
	assert_int_equal(store_dns_update(s, rows, 3, NULL, 0), 0);
	assert_int_equal(dns_hosts_write(s, "web", dir), 0);
	/* published and pending are in; stale is on its way out */
	assert_string_equal(slurp(path), "# v6pd network web: written by v6pd, do not edit\n"
					 "2001:db8::1 web1.c.test\n"
					 "2001:db8::2 web2.c.test\n");
	assert_int_equal(stat(path, &st1), 0);
	assert_int_equal(st1.st_mode & 07777, 0644);
	assert_int_equal(access(tmp, F_OK), -1);
	/* unchanged content: the file is left as it is (no rename, same inode) */
	assert_int_equal(dns_hosts_write(s, "web", dir), 0);
	assert_int_equal(stat(path, &st2), 0);
	assert_int_equal(st1.st_ino, st2.st_ino);
	/* a change replaces the file whole: a new inode, never an edited one */
	assert_int_equal(store_dns_update(s, NULL, 0, &rows[0], 1), 0);
	assert_int_equal(dns_hosts_write(s, "web", dir), 0);
	assert_int_equal(stat(path, &st2), 0);
	assert_int_not_equal(st1.st_ino, st2.st_ino);
	assert_string_equal(slurp(path), "# v6pd network web: written by v6pd, do not edit\n"
					 "2001:db8::2 web2.c.test\n");
	/* a file edited by hand is put back */
	put_file(path, "garbage\n", 0600);
	assert_int_equal(dns_hosts_write(s, "web", dir), 0);
	assert_string_equal(slurp(path), "# v6pd network web: written by v6pd, do not edit\n"
					 "2001:db8::2 web2.c.test\n");
	assert_int_equal(stat(path, &st2), 0);
	assert_int_equal(st2.st_mode & 07777, 0644);
	/* another network's rows and another directory's are not in this file */
	rows[0] = row("web9", "web9.c.test.", "2001:db8::9", "/elsewhere", STORE_DNS_PUBLISHED);
	(void)snprintf(rows[1].network, sizeof(rows[1].network), "db");
	assert_int_equal(store_dns_update(s, rows, 2, NULL, 0), 0);
	assert_int_equal(dns_hosts_write(s, "web", dir), 0);
	assert_string_equal(slurp(path), "# v6pd network web: written by v6pd, do not edit\n"
					 "2001:db8::2 web2.c.test\n");
	/* a directory that cannot be made: the message names it */
	err_clear();
	assert_true(dns_hosts_write(s, "web", "/proc/v6pd-none") < 0);
	assert_non_null(strstr(err_msg(-EIO), "hostsDir /proc/v6pd-none"));
	store_close(s);
}


/* --- publishing, withdrawing, renumbering, sync, export: through the hostsDir backend --- */

static struct lease acquire(struct store *s, const struct store_network *n, const char *key,
			    const char *hostname, int64_t now)
{
	struct lease_request req = { .key = key, .hostname = hostname, .container_id = "c1",
				     .ifname = "eth0" };
	struct lease l;

	assert_int_equal(store_lease_acquire(s, n, &req, now, &l), 0);
	return l;
}

static size_t rows_of(struct store *s, const char *key, enum store_dns_state st)
{
	struct store_dns_record *v = NULL;
	size_t n = 0, k = 0;

	assert_int_equal(store_dns_list(s, "web", key, NULL, &v, &n), 0);
	for (size_t i = 0; i < n; i++)
		k += v[i].state == st;
	free(v);
	return k;
}

static void test_publish_renumber_sync(void **state)
{
	struct fx *f = *state;
	char state_dir[128], dir[128], path[192], conf[256], a[INET6_ADDRSTRLEN], want[512];
	char *text = NULL;
	struct store *s = NULL;
	struct store_network n;
	struct dns_config c;
	struct dns_sync_report rep;
	struct prefix p;
	struct lease l, l2;

	(void)snprintf(state_dir, sizeof(state_dir), "%s/state", f->root);
	(void)snprintf(dir, sizeof(dir), "%s/hosts", f->root);
	(void)snprintf(path, sizeof(path), "%s/v6pd-web.hosts", dir);
	(void)snprintf(conf, sizeof(conf), "{\"zone\": \"c.test\", \"hostsDir\": \"%s\"}", dir);
	assert_int_equal(parse(conf, 64, &c), 0);
	assert_int_equal(store_open(state_dir, &s), 0);
	assert_int_equal(prefix_from_string("2001:db8:1200::/56", &p), 0);
	assert_int_equal(store_prefix_set(s, &p, 1000, NULL, NULL, NULL), 0);
	store_network_init(&n, "web");
	n.subnet_id = 1;
	l = acquire(s, &n, "web1", "web1", 1000);
	assert_int_equal(dns_publish(s, &c, &l, 1000), 0);
	(void)snprintf(want, sizeof(want), "# v6pd network web: written by v6pd, do not edit\n"
					   "%s web1.c.test\n",
		       prefix_addr_to_string(&l.addr, a, sizeof(a)));
	assert_string_equal(slurp(path), want);
	assert_int_equal(rows_of(s, "web1", STORE_DNS_PUBLISHED), 1);
	/* the same ADD again changes nothing */
	assert_int_equal(dns_publish(s, &c, &l, 1001), 0);
	assert_int_equal(rows_of(s, "web1", STORE_DNS_PUBLISHED), 1);

	/* a renumbering: the new address in, the old one out */
	assert_int_equal(prefix_from_string("2001:db8:3400::/56", &p), 0);
	assert_int_equal(store_prefix_set(s, &p, 2000, NULL, NULL, NULL), 0);
	assert_int_equal(store_lease_get(s, "web", "web1", &l2), 0);
	assert_memory_not_equal(&l.addr, &l2.addr, sizeof(l.addr));
	assert_int_equal(dns_lease_renumbered(s, &l2, 2000), 0);
	(void)snprintf(want, sizeof(want), "# v6pd network web: written by v6pd, do not edit\n"
					   "%s web1.c.test\n",
		       prefix_addr_to_string(&l2.addr, a, sizeof(a)));
	assert_string_equal(slurp(path), want);
	assert_int_equal(rows_of(s, "web1", STORE_DNS_PUBLISHED), 1);
	assert_int_equal(rows_of(s, "web1", STORE_DNS_STALE), 0);

	/* export: the zone-file fragment */
	assert_int_equal(dns_export(s, "web", &text), 0);
	(void)snprintf(want, sizeof(want), "web1.c.test.\t300\tIN\tAAAA\t%s\n", a);
	assert_non_null(strstr(text, want));
	assert_non_null(strstr(text, "ip6.arpa.\t300\tIN\tPTR\tweb1.c.test.\n"));
	free(text);

	/* DEL with onRelease keep: stays; remove: goes */
	assert_int_equal(store_lease_release(s, "web", "web1", 2100, &l2), 0);
	c.on_release = DNS_RELEASE_KEEP;
	assert_int_equal(dns_withdraw(s, &c, &l2, 2100), 0);
	assert_int_equal(rows_of(s, "web1", STORE_DNS_PUBLISHED), 1);
	c.on_release = DNS_RELEASE_REMOVE;
	assert_int_equal(dns_withdraw(s, &c, &l2, 2100), 0);
	assert_string_equal(slurp(path), "# v6pd network web: written by v6pd, do not edit\n");
	assert_int_equal(rows_of(s, "web1", STORE_DNS_PUBLISHED), 0);

	/* sync puts back what belongs (an active lease), removes what does not */
	l = acquire(s, &n, "web2", "web2", 2200);
	assert_int_equal(store_dns_update(s, NULL, 0, NULL, 0), 0);
	assert_int_equal(dns_sync(s, NULL, 2300, &rep), 0);
	assert_int_equal(rep.networks, 1);
	assert_int_equal(rep.published, 1);
	assert_int_equal(rep.removed, 0);
	assert_non_null(strstr(slurp(path), "web2.c.test"));
	assert_int_equal(store_lease_forget(s, "web", "web2"), 0);
	assert_int_equal(dns_sync(s, "web", 2400, &rep), 0);
	assert_int_equal(rep.removed, 1);
	assert_null(strstr(slurp(path), "web2.c.test"));
	assert_int_equal(dns_sync(s, "nosuchnet", 2400, &rep), -ENOENT);
	store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_defaults),
		cmocka_unit_test(test_config_cni_dns_is_not_ours),
		cmocka_unit_test(test_config_full),
		cmocka_unit_test(test_config_errors_name_the_key),
		cmocka_unit_test(test_config_reverse_zone),
		cmocka_unit_test(test_config_network_from_json),
		cmocka_unit_test(test_reverse_names),
		cmocka_unit_test(test_templates),
		cmocka_unit_test(test_record_for_lease),
		cmocka_unit_test_setup_teardown(test_secret_files, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_hosts_rewrite, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_publish_renumber_sync, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
