#include "store_fixture.h"

#include <arpa/inet.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "addrgen.h"

int fx_setup(void **state)
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

int fx_teardown(void **state)
{
	struct fx *f = *state;
	int r;

	store_close(f->s);
	r = nftw(f->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return r;
}

void fx_open(struct fx *f)
{
	int r;

	store_close(f->s);
	f->s = NULL;
	err_clear();
	r = store_open(f->dir, &f->s);
	if (r < 0)
		fail_msg("store_open %s: %s", f->dir, err_msg(r));
}

struct fx *fx_host(void **state, const char *host)
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

const char *astr(const struct in6_addr *a)
{
	static char buf[8][INET6_ADDRSTRLEN];
	static int i;

	i = (i + 1) % 8;
	return prefix_addr_to_string(a, buf[i], sizeof(buf[i]));
}

const char *pstr(const struct prefix *p)
{
	static char buf[8][PREFIX_STRLEN];
	static int i;

	i = (i + 1) % 8;
	return prefix_to_string(p, buf[i], sizeof(buf[i]));
}

struct prefix pfx(const char *s)
{
	struct prefix p;

	assert_int_equal(prefix_from_string(s, &p), 0);
	return p;
}

struct in6_addr addr(const char *s)
{
	struct in6_addr a;

	assert_int_equal(inet_pton(AF_INET6, s, &a), 1);
	return a;
}

struct store_network netcfg(const char *name)
{
	struct store_network n;

	store_network_init(&n, name);
	return n;
}

int acquire(struct store *s, const struct store_network *cfg, const char *key,
	    const char *cid, int64_t now, struct lease *ret)
{
	struct lease_request rq = { .key = key, .container_id = cid, .ifname = "eth0" };

	return store_lease_acquire(s, cfg, &rq, now, ret);
}

int acquire_want(struct store *s, const struct store_network *cfg, const char *key,
		 const char *want, int64_t now, struct lease *ret)
{
	struct in6_addr a = addr(want);
	struct lease_request rq = { .key = key, .container_id = "c-want", .ifname = "eth0",
				    .want = &a };

	return store_lease_acquire(s, cfg, &rq, now, ret);
}

void assert_lease_consistent(const struct lease *l, const struct prefix *base,
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

mode_t mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}
