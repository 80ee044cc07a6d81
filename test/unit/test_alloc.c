/* alloc: slice overlap and lowest-free slice, IID choice with collisions. Pure: no I/O. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "addrgen.h"
#include "alloc.h"
#include "err.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static struct alloc_slice sl(uint64_t index, unsigned len)
{
	return (struct alloc_slice){ .index = index, .len = len };
}

static struct prefix slice_of(const char *addr, unsigned len)
{
	struct prefix p = { .len = (uint8_t)len };

	assert_int_equal(inet_pton(AF_INET6, addr, &p.addr), 1);
	return p;
}

static void kat_secret(struct addrgen_secret *s)
{
	for (int i = 0; i < ADDRGEN_SECRET_LEN; i++)
		s->key[i] = (uint8_t)i;
}

/* --- alloc_slice_overlaps --- */

static void test_overlaps(void **state)
{
	static const struct {
		uint64_t ai;
		unsigned al;
		uint64_t bi;
		unsigned bl;
		bool overlap;
	} v[] = {
		/* same length: equal index only */
		{ 0, 64, 0, 64, true },
		{ 0, 64, 1, 64, false },
		{ 255, 64, 255, 64, true },
		{ 255, 64, 254, 64, false },
		/* /64 slice 1 holds /80 slices 65536..131071 */
		{ 1, 64, 65535, 80, false },
		{ 1, 64, 65536, 80, true },
		{ 1, 64, 131071, 80, true },
		{ 1, 64, 131072, 80, false },
		/* symmetric */
		{ 65536, 80, 1, 64, true },
		{ 131072, 80, 1, 64, false },
		/* cuts through a 16-bit group: /60 slice 3 holds /64 slices 48..63 */
		{ 3, 60, 47, 64, false },
		{ 3, 60, 48, 64, true },
		{ 3, 60, 63, 64, true },
		{ 3, 60, 64, 64, false },
		/* one bit apart */
		{ 5, 64, 10, 65, true },
		{ 5, 64, 11, 65, true },
		{ 5, 64, 12, 65, false },
		/* /120 in /64: shift 56 */
		{ 2, 64, UINT64_C(2) << 56, 120, true },
		{ 2, 64, (UINT64_C(3) << 56) - 1, 120, true },
		{ 2, 64, UINT64_C(3) << 56, 120, false },
		{ 2, 64, (UINT64_C(2) << 56) - 1, 120, false },
		/* the top of a 64-bit wide index space */
		{ UINT64_MAX, 72, UINT64_MAX >> 8, 64, true },
		{ UINT64_MAX - 256, 72, UINT64_MAX >> 8, 64, false },
		/* shift of 64 and more: only the shorter slice 0 can hold a 64-bit index */
		{ 0, 1, UINT64_MAX, 65, true },
		{ 1, 1, UINT64_MAX, 65, false },
		{ 0, 2, 12345, 120, true },
		{ 1, 2, 12345, 120, false },
	};

	for (size_t i = 0; i < N_ELEMS(v); i++) {
		struct alloc_slice a = sl(v[i].ai, v[i].al), b = sl(v[i].bi, v[i].bl);

		assert_int_equal(alloc_slice_overlaps(&a, &b), v[i].overlap);
		assert_int_equal(alloc_slice_overlaps(&b, &a), v[i].overlap);
	}
}

/* --- alloc_slice_lowest_free --- */

static uint64_t lowest(const struct alloc_slice *used, size_t n, unsigned len, uint64_t count)
{
	uint64_t idx = UINT64_MAX;

	err_clear();
	assert_int_equal(alloc_slice_lowest_free(used, n, len, count, &idx), 0);
	return idx;
}

static void test_lowest_free_basic(void **state)
{
	struct alloc_slice u[8];
	uint64_t idx = 42;

	/* nothing used: 0, whatever the length */
	assert_int_equal(lowest(NULL, 0, 64, 256), 0);
	assert_int_equal(lowest(NULL, 0, 120, UINT64_MAX), 0);
	/* 0, 1, 2 in turn */
	u[0] = sl(0, 64);
	assert_int_equal(lowest(u, 1, 64, 256), 1);
	u[1] = sl(1, 64);
	assert_int_equal(lowest(u, 2, 64, 256), 2);
	/* a gap is filled first, whatever the order of used[] */
	u[0] = sl(3, 64);
	u[1] = sl(0, 64);
	u[2] = sl(2, 64);
	assert_int_equal(lowest(u, 3, 64, 256), 1);
	u[3] = sl(1, 64);
	assert_int_equal(lowest(u, 4, 64, 256), 4);
	/* duplicates in used[] change nothing */
	u[0] = sl(0, 64);
	u[1] = sl(0, 64);
	u[2] = sl(0, 64);
	assert_int_equal(lowest(u, 3, 64, 256), 1);

	/* full: -ENOSPC, *ret untouched */
	u[0] = sl(0, 64);
	u[1] = sl(1, 64);
	err_clear();
	assert_int_equal(alloc_slice_lowest_free(u, 2, 64, 2, &idx), -ENOSPC);
	assert_int_equal(idx, 42);
	assert_string_equal(err_msg(-ENOSPC), "no free /64 slice (all 2 in use)");
	/* count 0: nothing to hand out */
	assert_int_equal(alloc_slice_lowest_free(NULL, 0, 64, 0, &idx), -ENOSPC);
	assert_int_equal(idx, 42);
	/* the last one */
	assert_int_equal(lowest(u, 2, 64, 3), 2);
}

static void test_lowest_free_mixed(void **state)
{
	struct alloc_slice u[8];
	uint64_t idx = 42;

	/* An /80 inside used /64 slice 0: the lowest free /80 is the first of /64 slice 1. */
	u[0] = sl(0, 64);
	assert_int_equal(lowest(u, 1, 80, UINT64_C(1) << 24), 65536);
	/* An /80 in /64 slice 1 (index 65536 + 5) makes /64 slice 1 taken for a /64. */
	u[1] = sl(65541, 80);
	assert_int_equal(lowest(u, 2, 64, 256), 2);
	/* but not for the next /80: 65536..65540 are free */
	assert_int_equal(lowest(u, 2, 80, UINT64_C(1) << 24), 65536);
	u[2] = sl(65536, 80);
	assert_int_equal(lowest(u, 3, 80, UINT64_C(1) << 24), 65537);

	/* A /60 (slice 0 = /64 slices 0..15) then a /64: 16. */
	u[0] = sl(0, 60);
	assert_int_equal(lowest(u, 1, 64, 256), 16);
	/* a /64 in the second /60: the lowest free /60 is 2 */
	u[1] = sl(17, 64);
	assert_int_equal(lowest(u, 2, 60, 16), 2);
	/* a /64 at 16 and the /60 0: the lowest free /64 is 18 (17 is used) */
	u[2] = sl(16, 64);
	assert_int_equal(lowest(u, 3, 64, 256), 18);

	/* /120s spread over a /64: a used /64 shadows 2^56 /120 slices. */
	u[0] = sl(0, 64);
	u[1] = sl(UINT64_C(1) << 56, 120);
	assert_int_equal(lowest(u, 2, 120, UINT64_MAX), (UINT64_C(1) << 56) + 1);

	/* A /56 of /64s: all of it used by two /57s is full. */
	u[0] = sl(1, 57);
	u[1] = sl(0, 57);
	assert_int_equal(alloc_slice_lowest_free(u, 2, 64, 256, &idx), -ENOSPC);
	assert_int_equal(idx, 42);
	/* ... and only half of it when one /57 is gone */
	assert_int_equal(lowest(u, 1, 64, 256), 0);
	assert_int_equal(lowest(&u[1], 1, 64, 256), 128);
	/* overlapping used slices (the sweep must keep the furthest end) */
	u[0] = sl(0, 62);	/* 0..3 */
	u[1] = sl(1, 64);
	u[2] = sl(0, 63);	/* 0..1 */
	u[3] = sl(4, 64);
	assert_int_equal(lowest(u, 4, 64, 256), 5);
	assert_int_equal(lowest(u, 4, 63, 128), 3);
	assert_int_equal(lowest(u, 4, 62, 64), 2);
}

/* The lowest free slice by brute force: the first index that overlaps no used slice. */
static uint64_t lowest_brute(const struct alloc_slice *used, size_t n, unsigned len,
			     uint64_t count)
{
	for (uint64_t i = 0; i < count; i++) {
		struct alloc_slice c = sl(i, len);
		bool free_ = true;

		for (size_t k = 0; k < n && free_; k++)
			free_ = !alloc_slice_overlaps(&c, &used[k]);
		if (free_)
			return i;
	}
	return UINT64_MAX;
}

/* Random used sets in a small space, checked against the brute force. */
static void test_lowest_free_random(void **state)
{
	struct alloc_slice u[24];
	uint64_t state_ = 0x9e3779b97f4a7c15;

	for (int round = 0; round < 4000; round++) {
		/* base /52; slice lengths 53..60 (up to 256 slices) */
		unsigned len = 53 + (unsigned)(round % 8);
		uint64_t count = UINT64_C(1) << (len - 52), want, idx = 0;
		size_t n;
		int r;

		state_ = state_ * 6364136223846793005u + 1442695040888963407u;
		n = (state_ >> 33) % N_ELEMS(u);
		for (size_t k = 0; k < n; k++) {
			unsigned l;

			state_ = state_ * 6364136223846793005u + 1442695040888963407u;
			l = 53 + (unsigned)((state_ >> 40) % 8);
			u[k] = sl((state_ >> 13) % (UINT64_C(1) << (l - 52)), l);
		}
		want = lowest_brute(u, n, len, count);
		r = alloc_slice_lowest_free(u, n, len, count, &idx);
		if (want == UINT64_MAX) {
			assert_int_equal(r, -ENOSPC);
		} else {
			assert_int_equal(r, 0);
			assert_int_equal(idx, want);
		}
	}
}

/* Used slices at the very top of a 64-bit wide index space. */
static void test_lowest_free_wide(void **state)
{
	struct alloc_slice u[4];
	uint64_t idx = 42;

	/* Both halves of the space as /1 slices: no /64 is free (2^63 is in /1 slice 1). */
	u[0] = sl(0, 1);
	u[1] = sl(1, 1);
	err_clear();
	assert_int_equal(alloc_slice_lowest_free(u, 2, 64, UINT64_MAX, &idx), -ENOSPC);
	assert_int_equal(idx, 42);
	/* the lower half: 2^63 */
	assert_int_equal(lowest(u, 1, 64, UINT64_MAX), UINT64_C(1) << 63);
	/* /1 slice 0, /2 slice 2 and the last /56 (the last 256 /64 indexes): 3 * 2^62 */
	u[0] = sl(0, 1);
	u[1] = sl(2, 2);
	u[2] = sl(UINT64_MAX >> 8, 56);
	assert_int_equal(lowest(u, 3, 64, UINT64_MAX), UINT64_C(3) << 62);
	/* /2 slice 3, the last of the space, closes it */
	u[2] = sl(3, 2);
	assert_int_equal(alloc_slice_lowest_free(u, 3, 64, UINT64_MAX, &idx), -ENOSPC);
	assert_int_equal(idx, 42);
	/* /3 slices 6 and 7 do the same */
	u[2] = sl(6, 3);
	u[3] = sl(7, 3);
	assert_int_equal(alloc_slice_lowest_free(u, 4, 64, UINT64_MAX, &idx), -ENOSPC);
	assert_int_equal(idx, 42);
	assert_int_equal(lowest(u, 3, 64, UINT64_MAX), UINT64_C(7) << 61);
	/* a shorter slice 0 by 64 bits and more covers every index of the longer length */
	u[0] = sl(0, 1);
	assert_int_equal(alloc_slice_lowest_free(u, 1, 120, UINT64_MAX, &idx), -ENOSPC);
	assert_int_equal(idx, 42);
	u[0] = sl(1, 1);
	assert_int_equal(lowest(u, 1, 120, UINT64_MAX), 0);
}

/* --- alloc_iid --- */

struct taken_set {
	uint64_t iid[8];
	size_t n;
	unsigned calls;
	int fail;		/* returned by every call when nonzero */
	bool all;		/* every IID taken */
	bool saw_reserved;	/* taken() was asked about a reserved IID */
	unsigned host_bits;
};

static int taken(void *ctx, uint64_t iid)
{
	struct taken_set *t = ctx;

	t->calls++;
	if (addrgen_iid_reserved(iid, t->host_bits))
		t->saw_reserved = true;
	if (t->fail)
		return t->fail;
	if (t->all)
		return 1;
	for (size_t i = 0; i < t->n; i++)
		if (t->iid[i] == iid)
			return 1;
	return 0;
}

static void test_iid_stable_counter(void **state)
{
	struct addrgen_secret sec;
	struct prefix slice = slice_of("2001:db8:0:7::", 64);
	struct alloc_iid_request rq = {
		.mode = IID_STABLE, .secret = &sec, .network = "web", .key = "default/nginx",
		.slice = &slice,
	};
	struct taken_set t = { .host_bits = 64 };
	uint64_t iid = 0, c0, c1, c2;

	kat_secret(&sec);
	c0 = addrgen_stable(&sec, "web", "default/nginx", 0, 64);
	c1 = addrgen_stable(&sec, "web", "default/nginx", 1, 64);
	c2 = addrgen_stable(&sec, "web", "default/nginx", 2, 64);
	/* the known answers of test_addrgen */
	assert_int_equal(c0, UINT64_C(0x5a55c7ed5fa83764));
	assert_int_equal(c1, UINT64_C(0xadd4f9bc3dfce876));

	/* nothing taken: counter 0 */
	assert_int_equal(alloc_iid(&rq, taken, &t, &iid), 0);
	assert_int_equal(iid, c0);
	assert_int_equal(t.calls, 1);
	/* counter 0 taken: counter 1 */
	t = (struct taken_set){ .host_bits = 64, .iid = { c0 }, .n = 1 };
	assert_int_equal(alloc_iid(&rq, taken, &t, &iid), 0);
	assert_int_equal(iid, c1);
	assert_int_equal(t.calls, 2);
	/* 0 and 1 taken: counter 2 */
	t = (struct taken_set){ .host_bits = 64, .iid = { c1, c0 }, .n = 2 };
	assert_int_equal(alloc_iid(&rq, taken, &t, &iid), 0);
	assert_int_equal(iid, c2);
	assert_int_equal(t.calls, 3);
	/* an unrelated IID taken changes nothing */
	t = (struct taken_set){ .host_bits = 64, .iid = { c2 }, .n = 1 };
	assert_int_equal(alloc_iid(&rq, taken, &t, &iid), 0);
	assert_int_equal(iid, c0);

	/* the prefix is not an input of stable */
	slice = slice_of("2001:db8:ffff:1::", 64);
	t = (struct taken_set){ .host_bits = 64 };
	assert_int_equal(alloc_iid(&rq, taken, &t, &iid), 0);
	assert_int_equal(iid, c0);

	/* a /80 slice: 48 host bits */
	slice = slice_of("2001:db8:0:7:1::", 80);
	t = (struct taken_set){ .host_bits = 48 };
	assert_int_equal(alloc_iid(&rq, taken, &t, &iid), 0);
	assert_int_equal(iid, UINT64_C(0x0000c7ed5fa83764));
}

static void test_iid_exhausted(void **state)
{
	struct addrgen_secret sec;
	struct prefix slice = slice_of("2001:db8::", 64);
	struct alloc_iid_request rq = {
		.mode = IID_STABLE, .secret = &sec, .network = "web", .key = "k1", .slice = &slice,
	};
	struct taken_set t = { .host_bits = 64, .all = true };
	uint64_t iid = 42;

	kat_secret(&sec);
	err_clear();
	assert_int_equal(alloc_iid(&rq, taken, &t, &iid), -ENOSPC);
	assert_int_equal(iid, 42);
	assert_int_equal(t.calls, ALLOC_MAX_COUNTER);
	assert_string_equal(err_msg(-ENOSPC), "no free IID for key \"k1\" after 256 tries");

	/* taken() failing: its error, at once */
	t = (struct taken_set){ .host_bits = 64, .fail = -EIO };
	assert_int_equal(alloc_iid(&rq, taken, &t, &iid), -EIO);
	assert_int_equal(iid, 42);
	assert_int_equal(t.calls, 1);
}

/* In a /120 (8 host bits) 0, 1 and 128..255 are reserved: more than half of the space. A key
 * whose first IIDs are reserved must skip them without asking taken(). */
static void test_iid_reserved_skipped(void **state)
{
	struct addrgen_secret sec;
	struct prefix slice = slice_of("2001:db8::100", 120);
	struct alloc_iid_request rq = {
		.mode = IID_STABLE, .secret = &sec, .network = "narrow", .slice = &slice,
	};
	char key[32];
	int found = 0;

	kat_secret(&sec);
	for (int k = 0; k < 200 && found < 20; k++) {
		struct taken_set t = { .host_bits = 8 };
		uint64_t iid = 0, want = 0;
		uint32_t counter = 0;

		(void)snprintf(key, sizeof(key), "key-%d", k);
		if (!addrgen_iid_reserved(addrgen_stable(&sec, "narrow", key, 0, 8), 8))
			continue;
		found++;
		while (addrgen_iid_reserved(want = addrgen_stable(&sec, "narrow", key, counter, 8),
					    8))
			counter++;
		rq.key = key;
		assert_int_equal(alloc_iid(&rq, taken, &t, &iid), 0);
		assert_int_equal(iid, want);
		assert_true(iid >= 2 && iid < 128);
		assert_false(t.saw_reserved);
		assert_int_equal(t.calls, 1);
	}
	assert_int_equal(found, 20);

	/* Every result over many keys: never reserved, never taken() about a reserved one. */
	for (int k = 0; k < 2000; k++) {
		struct taken_set t = { .host_bits = 8 };
		uint64_t iid = 0;

		(void)snprintf(key, sizeof(key), "many-%d", k);
		rq.key = key;
		assert_int_equal(alloc_iid(&rq, taken, &t, &iid), 0);
		assert_false(addrgen_iid_reserved(iid, 8));
		assert_false(t.saw_reserved);
	}
}

static void test_iid_rfc7217(void **state)
{
	struct addrgen_secret sec;
	struct prefix slice = slice_of("2001:db8:0:7::", 64);
	struct alloc_iid_request rq = {
		.mode = IID_RFC7217, .secret = &sec, .network = "web", .key = "k", .slice = &slice,
	};
	struct taken_set t = { .host_bits = 64 };
	uint64_t iid = 0, c0, c1;

	kat_secret(&sec);
	c0 = addrgen_rfc7217(&sec, &slice, "web", "k", 0);
	c1 = addrgen_rfc7217(&sec, &slice, "web", "k", 1);
	assert_int_equal(alloc_iid(&rq, taken, &t, &iid), 0);
	assert_int_equal(iid, c0);
	t = (struct taken_set){ .host_bits = 64, .iid = { c0 }, .n = 1 };
	assert_int_equal(alloc_iid(&rq, taken, &t, &iid), 0);
	assert_int_equal(iid, c1);
	/* the prefix is an input: another slice, another IID */
	slice = slice_of("2001:db8:0:8::", 64);
	t = (struct taken_set){ .host_bits = 64 };
	assert_int_equal(alloc_iid(&rq, taken, &t, &iid), 0);
	assert_int_not_equal(iid, c0);
	assert_int_equal(iid, addrgen_rfc7217(&sec, &slice, "web", "k", 0));
}

static void test_iid_eui64(void **state)
{
	static const uint8_t mac[6] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55 };
	static const uint8_t mac_pmip[6] = { 0x00, 0x00, 0x5e, 0x00, 0x52, 0x13 };
	struct prefix slice = slice_of("2001:db8:0:7::", 64);
	struct alloc_iid_request rq = {
		.mode = IID_EUI64, .network = "web", .key = "k", .slice = &slice, .mac = mac,
	};
	struct taken_set t = { .host_bits = 64 };
	uint64_t iid = 42;

	assert_int_equal(alloc_iid(&rq, taken, &t, &iid), 0);
	assert_int_equal(iid, UINT64_C(0x021122fffe334455));
	assert_int_equal(t.calls, 1);

	/* taken: no counter to bump, -EADDRINUSE */
	iid = 42;
	t = (struct taken_set){ .host_bits = 64, .iid = { UINT64_C(0x021122fffe334455) }, .n = 1 };
	err_clear();
	assert_int_equal(alloc_iid(&rq, taken, &t, &iid), -EADDRINUSE);
	assert_int_equal(iid, 42);
	assert_int_equal(t.calls, 1);
	assert_string_equal(err_msg(-EADDRINUSE),
			    "the EUI-64 IID 021122fffe334455 is already leased");

	/* taken() failing */
	t = (struct taken_set){ .host_bits = 64, .fail = -EIO };
	assert_int_equal(alloc_iid(&rq, taken, &t, &iid), -EIO);

	/* no MAC */
	rq.mac = NULL;
	t = (struct taken_set){ .host_bits = 64 };
	err_clear();
	assert_int_equal(alloc_iid(&rq, taken, &t, &iid), -EINVAL);
	assert_int_equal(t.calls, 0);
	assert_string_equal(err_msg(-EINVAL), "iid \"eui64\" needs the interface's MAC address");

	/* a /80 has no room for an EUI-64 IID */
	rq.mac = mac;
	slice = slice_of("2001:db8:0:7:1::", 80);
	err_clear();
	assert_int_equal(alloc_iid(&rq, taken, &t, &iid), -EINVAL);
	assert_int_equal(t.calls, 0);
	assert_string_equal(err_msg(-EINVAL),
			    "iid \"eui64\": needs 64 host bits (a /64 slice), the slice has 48");

	/* 00:00:5e:00:52:13 gives 0200:5eff:fe00:5213 (RFC 6543 proxy mobile IPv6): reserved */
	rq.mac = mac_pmip;
	slice = slice_of("2001:db8:0:7::", 64);
	err_clear();
	assert_int_equal(alloc_iid(&rq, taken, &t, &iid), -EADDRNOTAVAIL);
	assert_int_equal(t.calls, 0);
	assert_int_equal(iid, 42);
	assert_string_equal(err_msg(-EADDRNOTAVAIL), "the EUI-64 IID 02005efffe005213 is reserved");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_overlaps),
		cmocka_unit_test(test_lowest_free_basic),
		cmocka_unit_test(test_lowest_free_mixed),
		cmocka_unit_test(test_lowest_free_random),
		cmocka_unit_test(test_lowest_free_wide),
		cmocka_unit_test(test_iid_stable_counter),
		cmocka_unit_test(test_iid_exhausted),
		cmocka_unit_test(test_iid_reserved_skipped),
		cmocka_unit_test(test_iid_rfc7217),
		cmocka_unit_test(test_iid_eui64),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
