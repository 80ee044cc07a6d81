/* The lease store tests' fixture and helpers (test_store_*.c, with store_fixture.c).
 *
 * Each test gets its own mkdtemp() directory under /tmp (the state dir is "state" inside
 * it, so store_open creates it), removed afterwards. Time is passed explicitly. */
#pragma once

#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <cmocka.h>

#include "err.h"
#include "prefix.h"
#include "store.h"

#define T0 INT64_C(1700000000)
#define HOST56 "2001:db8:1200::/56"

struct fx {
	char root[64];
	char dir[96];	/* the state dir: root/state */
	char db[128];	/* dir/leases.db */
	struct store *s;
};

int fx_setup(void **state);
int fx_teardown(void **state);
/* Opens the store into f->s (closing the one there). */
void fx_open(struct fx *f);
/* A store with the host prefix set. */
struct fx *fx_host(void **state, const char *host);

/* An address or prefix as a string, in one of eight buffers used in turn. */
const char *astr(const struct in6_addr *a);
const char *pstr(const struct prefix *p);
/* Parsed, or the test fails. */
struct prefix pfx(const char *s);
struct in6_addr addr(const char *s);

struct store_network netcfg(const char *name);
int acquire(struct store *s, const struct store_network *cfg, const char *key,
	    const char *cid, int64_t now, struct lease *ret);
int acquire_want(struct store *s, const struct store_network *cfg, const char *key,
		 const char *want, int64_t now, struct lease *ret);
/* The lease's address is its slice | IID, and the slice is slice_index of base. */
void assert_lease_consistent(const struct lease *l, const struct prefix *base,
			     unsigned slice_len);
mode_t mode_of(const char *path);

/* Asserts r == want and that the recorded message is exactly msg. */
#define assert_err(call, want, msg)                                 \
	do {                                                        \
		int r_;                                             \
		err_clear();                                        \
		r_ = (call);                                        \
		assert_int_equal(r_, (want));                       \
		assert_string_equal(err_msg(r_), (msg));            \
	} while (0)

#define assert_ok(call)                                                     \
	do {                                                                \
		int r_;                                                     \
		err_clear();                                                \
		r_ = (call);                                                \
		if (r_ < 0)                                                 \
			fail_msg("%s: %d: %s", #call, r_, err_msg(r_));     \
	} while (0)

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
