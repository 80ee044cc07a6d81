/* The store's DNS part (schema v2): a v1 store made with the v1 schema's SQL opens under v2
 * with its leases intact; DNS records and settings round-trip. */
#include <errno.h>
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
#include <unistd.h>
#include <cmocka.h>

#include "err.h"
#include "store.h"

/* Schema version 1 as v6pd 0.1 created it (common/store_sqlite.c, migrations[0]). */
static const char v1_schema[] =
	"CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT NOT NULL) STRICT;"
	"CREATE TABLE networks ("
	"  name TEXT PRIMARY KEY, base TEXT NOT NULL, slice_len INTEGER NOT NULL,"
	"  slice_index INTEGER, per_container INTEGER NOT NULL, iid_mode TEXT NOT NULL,"
	"  max_leases INTEGER NOT NULL, retention INTEGER NOT NULL,"
	"  lease_count INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL) STRICT;"
	"CREATE TABLE slices ("
	"  base TEXT NOT NULL, slice_len INTEGER NOT NULL, idx INTEGER NOT NULL,"
	"  network TEXT NOT NULL, lease_key TEXT,"
	"  PRIMARY KEY (base, slice_len, idx)) STRICT;"
	"CREATE TABLE leases ("
	"  network TEXT NOT NULL REFERENCES networks(name), key TEXT NOT NULL,"
	"  slice_index INTEGER NOT NULL, iid INTEGER NOT NULL,"
	"  container_id TEXT NOT NULL, ifname TEXT NOT NULL, netns TEXT NOT NULL,"
	"  hostname TEXT NOT NULL, mac TEXT NOT NULL, state INTEGER NOT NULL,"
	"  pinned INTEGER NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL,"
	"  released INTEGER NOT NULL, expires INTEGER NOT NULL,"
	"  PRIMARY KEY (network, key), UNIQUE (network, slice_index, iid)) STRICT, WITHOUT ROWID;"
	"CREATE INDEX leases_attachment ON leases (network, container_id, ifname);"
	"CREATE INDEX leases_expiry ON leases (network, expires) WHERE state = 1 AND pinned = 0;"
	"CREATE TRIGGER leases_count_insert AFTER INSERT ON leases BEGIN"
	"  UPDATE networks SET lease_count = lease_count + 1 WHERE name = NEW.network; END;"
	"CREATE TRIGGER leases_count_delete AFTER DELETE ON leases BEGIN"
	"  UPDATE networks SET lease_count = lease_count - 1 WHERE name = OLD.network;"
	"  DELETE FROM slices WHERE network = OLD.network AND lease_key = OLD.key; END;"
	/* a v1 store with a network, its slice and two leases, one reserved */
	"INSERT INTO meta VALUES ('prefix', '2001:db8:1200::/56'), ('prefix_since', '1700000000');"
	"INSERT INTO networks (name, base, slice_len, slice_index, per_container, iid_mode,"
	"  max_leases, retention, created) VALUES ('web', '', 64, 3, 0, 'stable', 4096, 604800,"
	"  1700000000);"
	"INSERT INTO slices VALUES ('', 64, 3, 'web', NULL);"
	"INSERT INTO leases VALUES ('web', 'web1', 3, 4660, 'cid1', 'eth0', '/run/netns/a',"
	"  'web1', '02:00:00:00:00:01', 0, 0, 1700000000, 1700000001, 0, 0);"
	"INSERT INTO leases VALUES ('web', 'db/db-0', 3, 4661, 'cid2', 'eth0', '/run/netns/b',"
	"  'db-0', '', 1, 1, 1700000000, 1700000002, 1700000002, 0);"
	"PRAGMA application_id = 1983279204; PRAGMA user_version = 1;";

struct fx {
	char root[64];
	char dir[96];
	char db[128];
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	(void)snprintf(f->root, sizeof(f->root), "/tmp/v6pd-dnsstore-XXXXXX");
	if (!f || !mkdtemp(f->root))
		return -1;
	(void)snprintf(f->dir, sizeof(f->dir), "%s/state", f->root);
	(void)snprintf(f->db, sizeof(f->db), "%s/%s", f->dir, STORE_DB_FILE);
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

static int pragma_int(const char *db, const char *sql)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	int v = -1;

	assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	(void)sqlite3_finalize(st);
	(void)sqlite3_close(h);
	return v;
}

static void test_v1_store_opens_under_v2(void **state)
{
	struct fx *f = *state;
	struct store *s = NULL;
	struct lease l;
	struct lease *all = NULL;
	struct store_net_info n;
	struct store_dns_record d, *rows = NULL;
	size_t nl = 0, nr = 0;
	sqlite3 *h = NULL;
	char a[INET6_ADDRSTRLEN];

	assert_int_equal(mkdir(f->dir, 0700), 0);
	assert_int_equal(sqlite3_open(f->db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, v1_schema, NULL, NULL, NULL), SQLITE_OK);
	(void)sqlite3_close(h);
	assert_int_equal(chmod(f->db, 0600), 0);
	assert_int_equal(pragma_int(f->db, "PRAGMA user_version"), 1);

	assert_int_equal(store_open(f->dir, &s), 0);
	assert_int_equal(pragma_int(f->db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_true(STORE_SCHEMA_VERSION >= 2);	/* v3 (renumbering) came after */
	assert_int_equal(store_check(s), 0);
	/* the leases, as they were */
	assert_int_equal(store_lease_get(s, "web", "web1", &l), 0);
	assert_int_equal(l.state, LEASE_ACTIVE);
	assert_int_equal(l.slice_index, 3);
	assert_int_equal(l.iid, 4660);
	assert_string_equal(l.container_id, "cid1");
	assert_string_equal(l.hostname, "web1");
	assert_string_equal(l.mac, "02:00:00:00:00:01");
	assert_true(l.addr_known);
	assert_string_equal(prefix_addr_to_string(&l.addr, a, sizeof(a)), "2001:db8:1200:3::1234");
	assert_int_equal(store_lease_get(s, "web", "db/db-0", &l), 0);
	assert_int_equal(l.state, LEASE_RESERVED);
	assert_true(l.pinned);
	assert_int_equal(store_lease_list(s, NULL, &all, &nl), 0);
	assert_int_equal(nl, 2);
	free(all);
	assert_int_equal(store_network_get(s, "web", &n), 0);
	assert_int_equal(n.lease_count, 2);
	/* the v2 tables work */
	memset(&d, 0, sizeof(d));
	(void)snprintf(d.network, sizeof(d.network), "web");
	(void)snprintf(d.key, sizeof(d.key), "web1");
	(void)snprintf(d.backend, sizeof(d.backend), "rfc2136");
	(void)snprintf(d.target, sizeof(d.target), "127.0.0.1:53");
	(void)snprintf(d.name, sizeof(d.name), "web1.c.test.");
	(void)snprintf(d.zone, sizeof(d.zone), "c.test.");
	d.addr = l.addr;
	assert_int_equal(store_dns_update(s, &d, 1, NULL, 0), 0);
	assert_int_equal(store_dns_list(s, "web", NULL, NULL, &rows, &nr), 0);
	assert_int_equal(nr, 1);
	free(rows);
	/* the lease operations still work on the migrated store */
	assert_int_equal(store_lease_release(s, "web", "web1", 1700000100, &l), 0);
	assert_int_equal(l.state, LEASE_RESERVED);
	store_close(s);
	/* and it opens again without migrating twice */
	assert_int_equal(store_open(f->dir, &s), 0);
	assert_int_equal(store_lease_get(s, "web", "web1", &l), 0);
	store_close(s);
}

static struct store_dns_record rec(const char *key, const char *backend, const char *name,
				   const char *addr)
{
	struct store_dns_record d;

	memset(&d, 0, sizeof(d));
	(void)snprintf(d.network, sizeof(d.network), "web");
	(void)snprintf(d.key, sizeof(d.key), "%s", key);
	(void)snprintf(d.backend, sizeof(d.backend), "%s", backend);
	(void)snprintf(d.target, sizeof(d.target), "http://127.0.0.1:8081/api/v1/servers/localhost");
	(void)snprintf(d.name, sizeof(d.name), "%s", name);
	(void)snprintf(d.zone, sizeof(d.zone), "c.test.");
	(void)snprintf(d.ptr_zone, sizeof(d.ptr_zone), "8.b.d.0.1.0.0.2.ip6.arpa.");
	assert_int_equal(prefix_addr_from_string(addr, &d.addr), 0);
	d.state = STORE_DNS_PENDING;
	(void)snprintf(d.error, sizeof(d.error), "powerdns: HTTP 500");
	d.updated = 1700000000;
	return d;
}

static void test_records_and_settings(void **state)
{
	struct fx *f = *state;
	struct store *s = NULL;
	struct store_dns_record r[3], *v = NULL;
	struct store_name *nets = NULL;
	struct in6_addr a;
	size_t n = 0;
	char *text = NULL;

	assert_int_equal(store_open(f->dir, &s), 0);
	r[0] = rec("web1", "powerdns", "web1.c.test.", "2001:db8::1");
	r[1] = rec("web1", "hostsDir", "web1.c.test.", "2001:db8::1");
	r[2] = rec("web2", "powerdns", "web1.c.test.", "2001:db8::2");
	assert_int_equal(store_dns_update(s, r, 3, NULL, 0), 0);
	assert_int_equal(store_dns_list(s, "web", "web1", NULL, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].error, "powerdns: HTTP 500");
	assert_int_equal(v[0].state, STORE_DNS_PENDING);
	assert_int_equal(v[0].updated, 1700000000);
	assert_string_equal(v[0].ptr_zone, "8.b.d.0.1.0.0.2.ip6.arpa.");
	free(v);
	assert_int_equal(store_dns_list(s, NULL, NULL, "powerdns", &v, &n), 0);
	assert_int_equal(n, 2);
	free(v);
	/* by name (every address of an RRset) and by address */
	assert_int_equal(store_dns_find(s, "powerdns", r[0].target, "web1.c.test.", NULL, &v, &n), 0);
	assert_int_equal(n, 2);
	free(v);
	assert_int_equal(prefix_addr_from_string("2001:db8::2", &a), 0);
	assert_int_equal(store_dns_find(s, "powerdns", r[0].target, NULL, &a, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].key, "web2");
	free(v);
	/* replace in place, delete */
	r[0].state = STORE_DNS_PUBLISHED;
	r[0].error[0] = '\0';
	assert_int_equal(store_dns_update(s, &r[0], 1, &r[2], 1), 0);
	assert_int_equal(store_dns_list(s, "web", NULL, "powerdns", &v, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].state, STORE_DNS_PUBLISHED);
	assert_string_equal(v[0].error, "");
	free(v);
	/* bad input is refused before the transaction */
	(void)snprintf(r[1].name, sizeof(r[1].name), "a\nb");
	assert_int_equal(store_dns_update(s, &r[1], 1, NULL, 0), -EINVAL);
	/* settings */
	assert_int_equal(store_dns_config_get(s, "web", &text), -ENOENT);
	assert_non_null(strstr(err_msg(-ENOENT), "no DNS settings recorded"));
	assert_int_equal(store_dns_config_put(s, "web", "{\"zone\":\"c.test.\"}", 1), 0);
	assert_int_equal(store_dns_config_put(s, "web", "{\"zone\":\"d.test.\"}", 2), 0);
	assert_int_equal(store_dns_config_put(s, "db", "{\"zone\":\"db.test.\"}", 2), 0);
	assert_int_equal(store_dns_config_get(s, "web", &text), 0);
	assert_string_equal(text, "{\"zone\":\"d.test.\"}");
	free(text);
	assert_int_equal(store_dns_config_list(s, &nets, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(nets[0].name, "db");
	assert_string_equal(nets[1].name, "web");
	free(nets);
	store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_v1_store_opens_under_v2, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_records_and_settings, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
