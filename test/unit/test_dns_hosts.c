/* The hostsDir backend's edits (dns_hosts.c): an ADD or DEL edits the lines its ops touch
 * instead of rewriting the file from every record of the network, and must leave the very
 * bytes a rewrite from the store gives: random adds and removals of names that sort
 * differently with and without their final dot, several addresses per name, lines shared by
 * two keys; the store, not the op, decides a line (a writer that raced ours); a file missing
 * or not ours is rewritten whole. A real store and real files in a mkdtemp() directory. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dns.h"
#include "dns_int.h"
#include "store_fixture.h"

/* The store's fixture (a mkdtemp() root, the state dir in it) and the hosts directory beside
 * it, made by the first write. */
struct hx {
	struct fx *f;
	char dir[128];
	char path[160];
};

static struct hx hx_of(void **state)
{
	struct hx h = { .f = *state };

	fx_open(h.f);
	(void)snprintf(h.dir, sizeof(h.dir), "%s/hosts", h.f->root);
	(void)snprintf(h.path, sizeof(h.path), "%s/v6pd-web.hosts", h.dir);
	return h;
}

static char *slurp(const char *path)
{
	static char buf[1 << 16];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	assert_true(n >= 0);
	buf[n] = '\0';
	(void)close(fd);
	return buf;
}

static struct dns_op op_of(const struct hx *f, const char *key, const char *name, const char *addr,
			   bool add)
{
	struct dns_op o;

	memset(&o, 0, sizeof(o));
	(void)snprintf(o.row.network, sizeof(o.row.network), "web");
	(void)snprintf(o.row.key, sizeof(o.row.key), "%s", key);
	(void)snprintf(o.row.backend, sizeof(o.row.backend), "hostsDir");
	(void)snprintf(o.row.target, sizeof(o.row.target), "%s", f->dir);
	(void)snprintf(o.row.name, sizeof(o.row.name), "%s", name);
	(void)snprintf(o.row.zone, sizeof(o.row.zone), "c.test.");
	assert_int_equal(prefix_addr_from_string(addr, &o.row.addr), 0);
	o.add = add;
	o.row.state = add ? STORE_DNS_PENDING : STORE_DNS_STALE;
	return o;
}

/* What dns_publish() and dns_withdraw() do around the backend: the row first, the file,
 * then the outcome. */
static void run(struct hx *h, struct dns_op o)
{
	struct store *s = h->f->s;

	assert_int_equal(store_dns_update(s, &o.row, 1, NULL, 0), 0);
	assert_int_equal(dns_hosts_apply(s, "web", &o, 1), 0);
	assert_int_equal(o.err, 0);
	if (o.add) {
		o.row.state = STORE_DNS_PUBLISHED;
		assert_int_equal(store_dns_update(s, &o.row, 1, NULL, 0), 0);
	} else {
		assert_int_equal(store_dns_update(s, NULL, 0, &o.row, 1), 0);
	}
}

/* The edited file is what a rewrite from the store writes: the rewrite leaves it alone. */
static void assert_as_rewritten(struct hx *f)
{
	char edited[1 << 16];
	struct stat a, b;

	(void)snprintf(edited, sizeof(edited), "%s", slurp(f->path));
	assert_int_equal(stat(f->path, &a), 0);
	assert_int_equal(dns_hosts_write(f->f->s, "web", f->dir), 0);
	assert_int_equal(stat(f->path, &b), 0);
	assert_string_equal(slurp(f->path), edited);
	assert_int_equal(a.st_ino, b.st_ino);
}

static void test_edits_equal_rewrites(void **state)
{
	/* with and without the final dot these sort apart: "x.c.test" < "x.c.test-y" but
	 * "x.c.test-y." < "x.c.test." (the store orders names with their dot) */
	static const char *names[] = { "web1.c.test.", "web10.c.test.", "web1-x.c.test.",
				       "a.web1.c.test.", "web1.c.test-y.", "b.c.test." };
	static const char *addrs[] = { "2001:db8::1", "2001:db8::10", "2001:db8::2",
				       "2001:db8:0:1::a" };
	static const char *keys[] = { "k1", "k2" };
	struct hx hh = hx_of(state), *f = &hh;
	unsigned seed = 7;

	for (int i = 0; i < 300; i++) {
		const char *k = keys[rand_r(&seed) % 2];
		const char *n = names[rand_r(&seed) % 6], *a = addrs[rand_r(&seed) % 4];

		run(f, op_of(f, k, n, a, rand_r(&seed) % 3 != 0));
		assert_as_rewritten(f);
	}
	/* a file of a few hundred lines, where finding a line takes several halvings; the
	 * six names above stay among them */
	for (int i = 0; i < 1200; i++) {
		const char *a = addrs[rand_r(&seed) % 4];
		char n[64];

		(void)snprintf(n, sizeof(n), "w%u.c.test.", rand_r(&seed) % 150);
		run(f, op_of(f, keys[rand_r(&seed) % 2], n, a, rand_r(&seed) % 4 != 0));
		if (i % 10 == 0)
			run(f, op_of(f, "k1", names[rand_r(&seed) % 6], a, rand_r(&seed) % 2));
		assert_as_rewritten(f);
	}
	assert_true(strlen(slurp(f->path)) > 8000);
	assert_non_null(strstr(slurp(f->path), "# v6pd network web: written by v6pd"));
}

static void test_store_decides(void **state)
{
	struct hx hh = hx_of(state), *f = &hh;
	struct store *s = f->f->s;
	struct dns_op o = op_of(f, "k1", "web1.c.test.", "2001:db8::1", true), p;

	run(f, o);
	assert_non_null(strstr(slurp(f->path), "2001:db8::1 web1.c.test\n"));
	/* another key holds the same line: removing k1's leaves it */
	run(f, op_of(f, "k2", "web1.c.test.", "2001:db8::1", true));
	run(f, op_of(f, "k1", "web1.c.test.", "2001:db8::1", false));
	assert_non_null(strstr(slurp(f->path), "2001:db8::1 web1.c.test\n"));
	/* an add whose row another writer made stale before we took the lock: left out */
	p = op_of(f, "k3", "web3.c.test.", "2001:db8::3", true);
	p.row.state = STORE_DNS_STALE;
	assert_int_equal(store_dns_update(s, &p.row, 1, NULL, 0), 0);
	p.row.state = STORE_DNS_PENDING;
	assert_int_equal(dns_hosts_apply(s, "web", &p, 1), 0);
	assert_null(strstr(slurp(f->path), "web3"));
	/* a removal whose row came back meanwhile: kept */
	p.row.state = STORE_DNS_PUBLISHED;
	assert_int_equal(store_dns_update(s, &p.row, 1, NULL, 0), 0);
	p.add = false;
	assert_int_equal(dns_hosts_apply(s, "web", &p, 1), 0);
	assert_non_null(strstr(slurp(f->path), "2001:db8::3 web3.c.test\n"));
	assert_as_rewritten(f);
}

static void test_missing_or_foreign_file_is_rewritten(void **state)
{
	struct hx hh = hx_of(state), *f = &hh;
	int fd;

	run(f, op_of(f, "k1", "web1.c.test.", "2001:db8::1", true));
	run(f, op_of(f, "k2", "web2.c.test.", "2001:db8::2", true));
	assert_int_equal(unlink(f->path), 0);
	run(f, op_of(f, "k3", "web3.c.test.", "2001:db8::3", true));
	assert_string_equal(slurp(f->path), "# v6pd network web: written by v6pd, do not edit\n"
					    "2001:db8::1 web1.c.test\n"
					    "2001:db8::2 web2.c.test\n"
					    "2001:db8::3 web3.c.test\n");
	/* not our header: nothing of it is kept */
	fd = open(f->path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "1.2.3.4 mine\n", 13), 13);
	assert_int_equal(close(fd), 0);
	run(f, op_of(f, "k3", "web3.c.test.", "2001:db8::3", false));
	assert_string_equal(slurp(f->path), "# v6pd network web: written by v6pd, do not edit\n"
					    "2001:db8::1 web1.c.test\n"
					    "2001:db8::2 web2.c.test\n");
	/* an op that changes nothing leaves the file alone */
	{
		struct stat a, b;
		struct dns_op o = op_of(f, "k1", "web1.c.test.", "2001:db8::1", true);

		assert_int_equal(stat(f->path, &a), 0);
		assert_int_equal(dns_hosts_apply(f->f->s, "web", &o, 1), 0);
		assert_int_equal(stat(f->path, &b), 0);
		assert_int_equal(a.st_ino, b.st_ino);
	}
}

/* Lines a hand added among ours (a comment, a blank line, a word) do not hide ours from
 * an edit: a line after them is found, removed, and not added twice. */
#define HAND "# a hand was here\n\nword\n"

static void test_hand_edited_lines_are_passed_over(void **state)
{
	struct hx hh = hx_of(state), *f = &hh;
	char name[32], addr[32], line[80], *text;
	int fd;

	for (int i = 0; i < 16; i++) {
		(void)snprintf(name, sizeof(name), "w%02d.c.test.", i);
		(void)snprintf(addr, sizeof(addr), "2001:db8::%x", i + 1);
		run(f, op_of(f, "k1", name, addr, true));
	}
	text = strdup(slurp(f->path));
	assert_non_null(text);
	fd = open(f->path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	assert_true(fd >= 0);
	/* the header and w00..w02, then the hand's lines, then the rest */
	for (int i = 0, nl = 0; text[i]; i++) {
		assert_int_equal(write(fd, text + i, 1), 1);
		if (text[i] == '\n' && ++nl == 4)
			assert_int_equal(write(fd, HAND, strlen(HAND)), (ssize_t)strlen(HAND));
	}
	assert_int_equal(close(fd), 0);
	free(text);
	/* every one of ours is found, wherever the halving lands */
	for (int i = 0; i < 16; i++) {
		(void)snprintf(name, sizeof(name), "w%02d.c.test.", i);
		(void)snprintf(addr, sizeof(addr), "2001:db8::%x", i + 1);
		run(f, op_of(f, "k2", name, addr, true));	/* already there: not again */
		run(f, op_of(f, "k1", name, addr, false));	/* k2 still holds it: kept */
		(void)snprintf(line, sizeof(line), "%s w%02d.c.test\n", addr, i);
		text = strstr(slurp(f->path), line);
		assert_non_null(text);
		assert_null(strstr(text + 1, line));
	}
	for (int i = 15; i >= 0; i--) {
		(void)snprintf(name, sizeof(name), "w%02d.c.test.", i);
		(void)snprintf(addr, sizeof(addr), "2001:db8::%x", i + 1);
		run(f, op_of(f, "k2", name, addr, false));
		(void)snprintf(line, sizeof(line), "%s w%02d.c.test\n", addr, i);
		assert_null(strstr(slurp(f->path), line));
	}
	assert_string_equal(slurp(f->path),
			    "# v6pd network web: written by v6pd, do not edit\n" HAND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_edits_equal_rewrites),
		T(test_store_decides),
		T(test_missing_or_foreign_file_is_rewritten),
		T(test_hand_edited_lines_are_passed_over),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
