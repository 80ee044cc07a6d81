#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "err.h"
#include "prefix.h"

static struct prefix P(const char *s)
{
	struct prefix p;

	err_clear();
	assert_int_equal(prefix_from_string(s, &p), 0);
	return p;
}

static struct in6_addr A(const char *s)
{
	struct in6_addr a;

	err_clear();
	assert_int_equal(prefix_addr_from_string(s, &a), 0);
	return a;
}

/* s parses to want (in RFC 5952 text) and to exactly these 16 bytes. */
static void check_parse(const char *s, const char *want, const uint8_t bytes[16], unsigned len)
{
	char buf[PREFIX_STRLEN];
	struct prefix p = P(s);

	assert_string_equal(prefix_to_string(&p, buf, sizeof(buf)), want);
	assert_int_equal(p.len, len);
	if (bytes)
		assert_memory_equal(p.addr.s6_addr, bytes, 16);
}

static void check_bad_prefix(const char *s, const char *msg)
{
	struct prefix p, untouched;

	memset(&p, 0xa5, sizeof(p));
	untouched = p;
	err_clear();
	assert_int_equal(prefix_from_string(s, &p), -EINVAL);
	assert_string_equal(err_msg(-EINVAL), msg);
	assert_memory_equal(&p, &untouched, sizeof(p));
}

static void check_bad_addr(const char *s, const char *msg)
{
	struct in6_addr a, untouched;

	memset(&a, 0xa5, sizeof(a));
	untouched = a;
	err_clear();
	assert_int_equal(prefix_addr_from_string(s, &a), -EINVAL);
	assert_string_equal(err_msg(-EINVAL), msg);
	assert_memory_equal(&a, &untouched, sizeof(a));
}

/* The index-th /len of p is want, and its index comes back. */
static void check_slice(const char *p, unsigned len, uint64_t index, const char *want)
{
	char buf[PREFIX_STRLEN];
	struct prefix base = P(p), s;
	uint64_t back = ~index;

	err_clear();
	assert_int_equal(prefix_slice(&base, len, index, &s), 0);
	assert_string_equal(prefix_to_string(&s, buf, sizeof(buf)), want);
	assert_int_equal(prefix_slice_index(&base, &s, &back), 0);
	assert_int_equal(back, index);
	assert_true(prefix_contains_prefix(&base, &s));
}

static void check_slice_fails(const char *p, unsigned len, uint64_t index, int err,
			      const char *msg)
{
	struct prefix base = P(p), s, untouched;

	memset(&s, 0xa5, sizeof(s));
	untouched = s;
	err_clear();
	assert_int_equal(prefix_slice(&base, len, index, &s), err);
	assert_string_equal(err_msg(err), msg);
	assert_memory_equal(&s, &untouched, sizeof(s));
}

static void check_index_fails(const char *p, const char *s, int err, const char *msg)
{
	struct prefix base = P(p), sl = P(s);
	uint64_t index = 42;

	err_clear();
	assert_int_equal(prefix_slice_index(&base, &sl, &index), err);
	assert_string_equal(err_msg(err), msg);
	assert_int_equal(index, 42);
}

static void test_parse_forms(void **state)
{
	static const uint8_t db8[16] = { 0x20, 0x01, 0x0d, 0xb8 };
	static const uint8_t zero[16];
	static const uint8_t one[16] = { [15] = 1 };
	static const uint8_t mapped[16] = { [10] = 0xff, 0xff, 1, 2, 3, 4 };
	static const uint8_t ones[16] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	check_parse("2001:db8::/32", "2001:db8::/32", db8, 32);
	check_parse("2001:0db8:0000:0000:0000:0000:0000:0000/56", "2001:db8::/56", db8, 56);
	check_parse("2001:db8:0:0:0:0:0:0/64", "2001:db8::/64", db8, 64);
	check_parse("2001:DB8::/48", "2001:db8::/48", db8, 48);
	check_parse("::/0", "::/0", zero, 0);
	check_parse("::/128", "::/128", zero, 128);
	check_parse("::1/128", "::1/128", one, 128);
	check_parse("::ffff:1.2.3.4/128", "::ffff:1.2.3.4/128", mapped, 128);
	check_parse("::FFFF:1.2.3.4/128", "::ffff:1.2.3.4/128", mapped, 128);
	check_parse("0:0:0:0:0:ffff:102:304/128", "::ffff:1.2.3.4/128", mapped, 128);
	check_parse("FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF/128",
		    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", ones, 128);
	check_parse("8000::/1", "8000::/1", NULL, 1);
	check_parse("2001:db8:0:ab00::/56", "2001:db8:0:ab00::/56", NULL, 56);
	/* RFC 5952 section 4: the first longest run of zeros, never a single group */
	check_parse("2001:db8:0:0:1:0:0:1/128", "2001:db8::1:0:0:1/128", NULL, 128);
	check_parse("1:0:0:2:0:0:0:3/128", "1:0:0:2::3/128", NULL, 128);
	check_parse("1:2:3:4:5:6:7:0/128", "1:2:3:4:5:6:7:0/128", NULL, 128);
	check_parse("1:0:2:3:4:5:6:7/128", "1:0:2:3:4:5:6:7/128", NULL, 128);
	/* glibc's inet_ntop would say ::0.1.0.2 and ::0.1.0.0 here */
	check_parse("::1:2/128", "::1:2/128", NULL, 128);
	check_parse("::1:0/128", "::1:0/128", NULL, 128);
	check_parse("::1.2.3.4/128", "::102:304/128", NULL, 128);
	check_parse("::ffff:0/128", "::ffff:0/128", NULL, 128);
	check_parse("::ffff:0:0/96", "::ffff:0.0.0.0/96", NULL, 96);
}

static void test_parse_lengths(void **state)
{
	char in[PREFIX_STRLEN], want[PREFIX_STRLEN];

	for (unsigned len = 0; len <= 128; len++) {
		(void)snprintf(in, sizeof(in), "::/%u", len);
		check_parse(in, in, NULL, len);
		(void)snprintf(in, sizeof(in), "8000::/%u", len);
		(void)snprintf(want, sizeof(want), len ? "8000::/%u" : "::/%u", len);
		if (len)
			check_parse(in, want, NULL, len);
		else
			check_bad_prefix(in, "prefix \"8000::/0\": host bits set beyond /0");
	}
}

static void test_parse_bad(void **state)
{
	static const struct {
		const char *in, *msg;
	} bad[] = {
		{ "", "prefix \"\": empty" },
		{ "2001:db8::1/56", "prefix \"2001:db8::1/56\": host bits set beyond /56" },
		{ "2001:db8:0:1::/56", "prefix \"2001:db8:0:1::/56\": host bits set beyond /56" },
		{ "::1/127", "prefix \"::1/127\": host bits set beyond /127" },
		{ "fe80::1%eth0/64", "prefix \"fe80::1%eth0/64\": zone ids are not allowed" },
		{ "fe80::1/64%eth0", "prefix \"fe80::1/64%eth0\": zone ids are not allowed" },
		{ "2001:db8::", "prefix \"2001:db8::\": missing \"/LENGTH\"" },
		{ "2001:db8::/", "prefix \"2001:db8::/\": missing length after \"/\"" },
		{ "/64", "prefix \"/64\": not an IPv6 address before \"/\"" },
		{ "2001:db8::/064", "prefix \"2001:db8::/064\": length has a leading zero" },
		{ "::/00", "prefix \"::/00\": length has a leading zero" },
		{ "::/+5", "prefix \"::/+5\": length is not a decimal number" },
		{ "::/-1", "prefix \"::/-1\": length is not a decimal number" },
		{ "::/0x40", "prefix \"::/0x40\": length is not a decimal number" },
		{ "::/64/64", "prefix \"::/64/64\": length is not a decimal number" },
		{ "::/129", "prefix \"::/129\": length is out of range 0..128" },
		{ "::/99999999999999999999", "prefix \"::/99999999999999999999\": "
					    "length is out of range 0..128" },
		{ " ::/0", "prefix \" ::/0\": whitespace is not allowed" },
		{ "::/0 ", "prefix \"::/0 \": whitespace is not allowed" },
		{ "::/ 0", "prefix \"::/ 0\": whitespace is not allowed" },
		{ "::\t/0", "prefix \"::\\x09/0\": whitespace is not allowed" },
		{ "::/0\n", "prefix \"::/0\\x0a\": whitespace is not allowed" },
		{ "10.0.0.0/8", "prefix \"10.0.0.0/8\": not an IPv6 address before \"/\"" },
		{ ":::/0", "prefix \":::/0\": not an IPv6 address before \"/\"" },
		{ "1::2::3/128", "prefix \"1::2::3/128\": not an IPv6 address before \"/\"" },
		{ "12345::/16", "prefix \"12345::/16\": not an IPv6 address before \"/\"" },
		{ "1:2:3:4:5:6:7:8:9/128",
		  "prefix \"1:2:3:4:5:6:7:8:9/128\": not an IPv6 address before \"/\"" },
		{ "::ffff:1.2.3.256/128",
		  "prefix \"::ffff:1.2.3.256/128\": not an IPv6 address before \"/\"" },
		{ "2001:db8:\"::/56", "prefix \"2001:db8:\\x22::/56\": not an IPv6 address before \"/\"" },
		{ "2001:db8::\x01/64", "prefix \"2001:db8::\\x01/64\": not an IPv6 address before \"/\"" },
		{ "0000000000000000000000000000000000000000000000000000000000000000000/64",
		  "prefix \"0000000000000000000000000000000000000000000000000000000000000000...\": "
		  "not an IPv6 address before \"/\"" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_bad_prefix(bad[i].in, bad[i].msg);
}

static void test_addr(void **state)
{
	char buf[INET6_ADDRSTRLEN];
	struct in6_addr a = A("2001:DB8:0:0:1::1");

	assert_string_equal(prefix_addr_to_string(&a, buf, sizeof(buf)), "2001:db8::1:0:0:1");
	a = A("::");
	assert_string_equal(prefix_addr_to_string(&a, buf, sizeof(buf)), "::");
	a = A("::ffff:192.0.2.1");
	assert_string_equal(prefix_addr_to_string(&a, buf, sizeof(buf)), "::ffff:192.0.2.1");
	/* a short buffer gets a truncated, terminated string */
	a = A("2001:db8::1");
	assert_string_equal(prefix_addr_to_string(&a, buf, 5), "2001");

	check_bad_addr("", "address \"\": empty");
	check_bad_addr("2001:db8::/64", "address \"2001:db8::/64\": a prefix length is not allowed here");
	check_bad_addr("fe80::1%eth0", "address \"fe80::1%eth0\": zone ids are not allowed");
	check_bad_addr("2001:db8::1 ", "address \"2001:db8::1 \": whitespace is not allowed");
	check_bad_addr("192.0.2.1", "address \"192.0.2.1\": not an IPv6 address");
	check_bad_addr("2001:db8:::1", "address \"2001:db8:::1\": not an IPv6 address");
}

static void test_to_string_truncates(void **state)
{
	char buf[8];
	struct prefix p = P("2001:db8::/56");

	assert_string_equal(prefix_to_string(&p, buf, sizeof(buf)), "2001:db");
	p = P("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");
	assert_string_equal(prefix_to_string(&p, buf, sizeof(buf)), "ffff:ff");
}

static void test_slice_count(void **state)
{
	struct prefix p = P("2001:db8::/56");

	assert_int_equal(prefix_slice_count(&p, 64), 256);
	assert_int_equal(prefix_slice_count(&p, 57), 2);
	assert_int_equal(prefix_slice_count(&p, 80), UINT64_C(1) << 24);
	assert_int_equal(prefix_slice_count(&p, 119), UINT64_C(1) << 63);
	assert_int_equal(prefix_slice_count(&p, 120), UINT64_MAX);	/* 2^64, saturated */
	assert_int_equal(prefix_slice_count(&p, 56), 0);
	assert_int_equal(prefix_slice_count(&p, 121), 0);
	assert_int_equal(prefix_slice_count(&p, 0), 0);
	p = P("::/0");
	assert_int_equal(prefix_slice_count(&p, 63), UINT64_C(1) << 63);
	assert_int_equal(prefix_slice_count(&p, 64), UINT64_MAX);
	assert_int_equal(prefix_slice_count(&p, 120), UINT64_MAX);
	p = P("2001:db8::1/128");
	assert_int_equal(prefix_slice_count(&p, 120), 0);
	p = P("2001:db8::/119");
	assert_int_equal(prefix_slice_count(&p, 120), 2);
	p = P("2001:db8::/120");
	assert_int_equal(prefix_slice_count(&p, 120), 0);
}

static void test_slice_boundaries(void **state)
{
	/* /64 slices of a /63: two of them */
	check_slice("2001:db8::/63", 64, 0, "2001:db8::/64");
	check_slice("2001:db8::/63", 64, 1, "2001:db8:0:1::/64");
	check_slice_fails("2001:db8::/63", 64, 2, -ERANGE,
			  "prefix \"2001:db8::/63\": slice index 2 is out of range "
			  "(it holds 2 /64 slices)");
	/* a /56: the first, the last, one past the last */
	check_slice("2001:db8:0:ab00::/56", 64, 0, "2001:db8:0:ab00::/64");
	check_slice("2001:db8:0:ab00::/56", 64, 255, "2001:db8:0:abff::/64");
	check_slice_fails("2001:db8:0:ab00::/56", 64, 256, -ERANGE,
			  "prefix \"2001:db8:0:ab00::/56\": slice index 256 is out of range "
			  "(it holds 256 /64 slices)");
	check_slice_fails("2001:db8:0:ab00::/56", 64, UINT64_MAX, -ERANGE,
			  "prefix \"2001:db8:0:ab00::/56\": slice index 18446744073709551615 is "
			  "out of range (it holds 256 /64 slices)");
	/* slice lengths outside (P.len, 120] */
	check_slice_fails("2001:db8::/56", 56, 0, -EINVAL,
			  "prefix \"2001:db8::/56\": slice length 56 is not in 57..120");
	check_slice_fails("2001:db8::/56", 48, 0, -EINVAL,
			  "prefix \"2001:db8::/56\": slice length 48 is not in 57..120");
	check_slice_fails("2001:db8::/56", 121, 0, -EINVAL,
			  "prefix \"2001:db8::/56\": slice length 121 is not in 57..120");
	check_slice_fails("2001:db8::/56", 128, 0, -EINVAL,
			  "prefix \"2001:db8::/56\": slice length 128 is not in 57..120");
	check_slice_fails("2001:db8::/120", 120, 0, -EINVAL,
			  "prefix \"2001:db8::/120\": too long to cut slices from "
			  "(slices are /120 at most)");
	check_slice_fails("2001:db8::1/128", 120, 0, -EINVAL,
			  "prefix \"2001:db8::1/128\": too long to cut slices from "
			  "(slices are /120 at most)");
	/* the shortest and longest slices */
	check_slice("2001:db8::/119", 120, 1, "2001:db8::100/120");
	check_slice("::/0", 1, 1, "8000::/1");
	check_slice_fails("::/0", 1, 2, -ERANGE,
			  "prefix \"::/0\": slice index 2 is out of range (it holds 2 /1 slices)");
}

static void test_slice_mid_group(void **state)
{
	/* /56 -> /80: 24 index bits, 8 in group 3 and 16 in group 4 */
	check_slice("2001:db8:0:ab00::/56", 80, 0, "2001:db8:0:ab00::/80");
	check_slice("2001:db8:0:ab00::/56", 80, 1, "2001:db8:0:ab00:1::/80");
	check_slice("2001:db8:0:ab00::/56", 80, 0xcd1234, "2001:db8:0:abcd:1234::/80");
	check_slice("2001:db8:0:ab00::/56", 80, 0xffffff, "2001:db8:0:abff:ffff::/80");
	check_slice_fails("2001:db8:0:ab00::/56", 80, 0x1000000, -ERANGE,
			  "prefix \"2001:db8:0:ab00::/56\": slice index 16777216 is out of range "
			  "(it holds 16777216 /80 slices)");
	/* /60 -> /64: the low nibble of group 3 */
	check_slice("2001:db8:0:ab0::/60", 64, 0, "2001:db8:0:ab0::/64");
	check_slice("2001:db8:0:ab0::/60", 64, 5, "2001:db8:0:ab5::/64");
	check_slice("2001:db8:0:ab0::/60", 64, 15, "2001:db8:0:abf::/64");
	check_slice_fails("2001:db8:0:ab0::/60", 64, 16, -ERANGE,
			  "prefix \"2001:db8:0:ab0::/60\": slice index 16 is out of range "
			  "(it holds 16 /64 slices)");
	/* /44 -> /52: the low nibble of group 2 and the high nibble of group 3 */
	check_slice("2001:db8:a0::/44", 52, 1, "2001:db8:a0:1000::/52");
	check_slice("2001:db8:a0::/44", 52, 0x10, "2001:db8:a1::/52");
	check_slice("2001:db8:a0::/44", 52, 0x5c, "2001:db8:a5:c000::/52");
	check_slice("2001:db8:a0::/44", 52, 0xff, "2001:db8:af:f000::/52");
	check_slice_fails("2001:db8:a0::/44", 52, 0x100, -ERANGE,
			  "prefix \"2001:db8:a0::/44\": slice index 256 is out of range "
			  "(it holds 256 /52 slices)");
	/* /0 -> /64: the index is the whole upper half */
	check_slice("::/0", 64, 0, "::/64");
	check_slice("::/0", 64, 1, "0:0:0:1::/64");
	check_slice("::/0", 64, UINT64_C(0x20010db800000001), "2001:db8:0:1::/64");
	check_slice("::/0", 64, UINT64_MAX, "ffff:ffff:ffff:ffff::/64");
	/* /57 -> /120: 63 index bits from the middle of group 3 to the middle of group 7 */
	check_slice("2001:db8:0:80::/57", 120, 0, "2001:db8:0:80::/120");
	check_slice("2001:db8:0:80::/57", 120, 1, "2001:db8:0:80::100/120");
	check_slice("2001:db8:0:80::/57", 120, UINT64_C(1) << 62, "2001:db8:0:c0::/120");
	check_slice("2001:db8:0:80::/57", 120, (UINT64_C(1) << 63) - 1,
		    "2001:db8:0:ff:ffff:ffff:ffff:ff00/120");
	check_slice_fails("2001:db8:0:80::/57", 120, UINT64_C(1) << 63, -ERANGE,
			  "prefix \"2001:db8:0:80::/57\": slice index 9223372036854775808 is out "
			  "of range (it holds 9223372036854775808 /120 slices)");
	/* /0 -> /120 and /56 -> /120: wider than 64 bits, so every index is valid */
	check_slice("::/0", 120, UINT64_MAX, "::ff:ffff:ffff:ffff:ff00/120");
	check_slice("::/0", 120, 0x1234, "::12:3400/120");
	check_slice("2001:db8::/56", 120, UINT64_MAX, "2001:db8:0:ff:ffff:ffff:ffff:ff00/120");
	check_slice("2001:db8::/56", 120, 0, "2001:db8::/120");
}

static void test_slice_round_trip(void **state)
{
	static const char *const bases[] = { "::/0", "2001:db8::/32", "2001:db8:a0::/44",
					     "2001:db8::/56", "2001:db8:0:80::/57",
					     "2001:db8:0:ab0::/60", "2001:db8::/63", "2001:db8::/64",
					     "2001:db8::fe00/119" };
	uint64_t x = UINT64_C(0x9e3779b97f4a7c15);

	for (size_t b = 0; b < sizeof(bases) / sizeof(bases[0]); b++) {
		struct prefix p = P(bases[b]);

		for (unsigned len = p.len + 1u; len <= PREFIX_SLICE_MAX; len++) {
			unsigned width = len - p.len;
			uint64_t count = prefix_slice_count(&p, len);
			uint64_t idx[] = { 0, 1, count - 1, width < 64 ? x % count : x };

			for (size_t i = 0; i < sizeof(idx) / sizeof(idx[0]); i++) {
				struct prefix s;
				uint64_t back;

				assert_int_equal(prefix_slice(&p, len, idx[i], &s), 0);
				assert_int_equal(s.len, len);
				assert_true(prefix_contains_prefix(&p, &s));
				assert_int_equal(prefix_slice_index(&p, &s, &back), 0);
				assert_int_equal(back, idx[i]);
			}
			if (width < 64) {
				struct prefix s;

				assert_int_equal(prefix_slice(&p, len, count, &s), -ERANGE);
			}
			x = x * 6364136223846793005u + 1442695040888963407u;
		}
	}
}

static void test_slice_index(void **state)
{
	struct prefix p = P("2001:db8::/56"), s = P("2001:db8:0:ff::1/128");
	uint64_t index;

	check_index_fails("2001:db8::/56", "2001:db9::/64", -EINVAL,
			  "slice \"2001:db9::/64\" is not inside prefix \"2001:db8::/56\"");
	check_index_fails("2001:db8::/56", "2001:db8:0:100::/64", -EINVAL,
			  "slice \"2001:db8:0:100::/64\" is not inside prefix \"2001:db8::/56\"");
	check_index_fails("2001:db8::/56", "2001:db8::/56", -EINVAL,
			  "prefix \"2001:db8::/56\": slice length 56 is not in 57..120");
	check_index_fails("2001:db8::/56", "2001:db8::/48", -EINVAL,
			  "prefix \"2001:db8::/56\": slice length 48 is not in 57..120");
	check_index_fails("2001:db8::/56", "2001:db8::/121", -EINVAL,
			  "prefix \"2001:db8::/56\": slice length 121 is not in 57..120");
	/* 2^64 and above do not fit */
	check_index_fails("::/0", "0:0:0:100::/120", -ERANGE,
			  "prefix \"::/0\": the index of slice \"0:0:0:100::/120\" does not fit in "
			  "64 bits");
	check_index_fails("::/0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff00/120", -ERANGE,
			  "prefix \"::/0\": the index of slice "
			  "\"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff00/120\" does not fit in 64 bits");
	check_index_fails("2001:db8::/55", "2001:db8:0:1ff:ffff:ffff:ffff:ff00/120", -ERANGE,
			  "prefix \"2001:db8::/55\": the index of slice "
			  "\"2001:db8:0:1ff:ffff:ffff:ffff:ff00/120\" does not fit in 64 bits");
	/* 2^64 - 1 does */
	p = P("::/0");
	s = P("0:0:0:ff:ffff:ffff:ffff:ff00/120");
	assert_int_equal(prefix_slice_index(&p, &s, &index), 0);
	assert_int_equal(index, UINT64_MAX);
	p = P("2001:db8::/55");
	s = P("2001:db8:0:ff:ffff:ffff:ffff:ff00/120");
	assert_int_equal(prefix_slice_index(&p, &s, &index), 0);
	assert_int_equal(index, UINT64_MAX);
	/* bits of S past S.len are ignored: the slice holding an address */
	p = P("2001:db8::/56");
	s.addr = A("2001:db8:0:ff::1");
	s.len = 64;
	assert_int_equal(prefix_slice_index(&p, &s, &index), 0);
	assert_int_equal(index, 255);
}

static void test_contains(void **state)
{
	struct prefix p = P("2001:db8:0:ab00::/56"), all = P("::/0"), one = P("2001:db8::1/128");
	struct in6_addr a;

	a = A("2001:db8:0:ab00::");
	assert_true(prefix_contains(&p, &a));
	a = A("2001:db8:0:abff:ffff:ffff:ffff:ffff");
	assert_true(prefix_contains(&p, &a));
	a = A("2001:db8:0:aaff:ffff:ffff:ffff:ffff");
	assert_false(prefix_contains(&p, &a));
	a = A("2001:db8:0:ac00::");
	assert_false(prefix_contains(&p, &a));
	a = A("::");
	assert_true(prefix_contains(&all, &a));
	a = A("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	assert_true(prefix_contains(&all, &a));
	a = A("2001:db8::1");
	assert_true(prefix_contains(&one, &a));
	a = A("2001:db8::");
	assert_false(prefix_contains(&one, &a));
	a = A("2001:db8::2");
	assert_false(prefix_contains(&one, &a));

	assert_true(prefix_contains_prefix(&p, &p));
	assert_true(prefix_contains_prefix(&all, &all));
	assert_true(prefix_contains_prefix(&all, &p));
	assert_false(prefix_contains_prefix(&p, &all));
	assert_true(prefix_contains_prefix(&p, &(struct prefix){ P("2001:db8:0:abff::/64").addr, 64 }));
	assert_true(prefix_contains_prefix(&p, &(struct prefix){
		A("2001:db8:0:abff:ffff:ffff:ffff:ffff"), 128 }));
	assert_false(prefix_contains_prefix(&p, &(struct prefix){ P("2001:db8:0:aa00::/55").addr,
								  55 }));
	assert_false(prefix_contains_prefix(&p, &(struct prefix){ P("2001:db8:0:ac00::/64").addr,
								  64 }));
	assert_false(prefix_contains_prefix(&p, &(struct prefix){ P("2001:db8:0:aa00::/56").addr,
								  56 }));
	assert_true(prefix_contains_prefix(&one, &one));
}

static void test_host(void **state)
{
	char buf[INET6_ADDRSTRLEN];
	struct prefix s = P("2001:db8:0:1::/64");
	struct in6_addr a;

	prefix_addr_with_host(&s, UINT64_C(0x0211223344556677), &a);
	assert_string_equal(prefix_addr_to_string(&a, buf, sizeof(buf)),
			    "2001:db8:0:1:211:2233:4455:6677");
	assert_int_equal(prefix_addr_low64(&a), UINT64_C(0x0211223344556677));
	prefix_addr_with_host(&s, 1, &a);
	assert_string_equal(prefix_addr_to_string(&a, buf, sizeof(buf)), "2001:db8:0:1::1");
	/* /80: 48 host bits, the rest of host is ignored */
	s = P("2001:db8:0:1:abcd::/80");
	prefix_addr_with_host(&s, UINT64_MAX, &a);
	assert_string_equal(prefix_addr_to_string(&a, buf, sizeof(buf)),
			    "2001:db8:0:1:abcd:ffff:ffff:ffff");
	assert_int_equal(prefix_addr_low64(&a), UINT64_C(0xabcdffffffffffff));
	/* /120: 8 host bits */
	s = P("2001:db8::100/120");
	prefix_addr_with_host(&s, 0x1234, &a);
	assert_string_equal(prefix_addr_to_string(&a, buf, sizeof(buf)), "2001:db8::134");
	/* /56: host fills the low 64 bits, the 8 above stay zero */
	s = P("2001:db8::/56");
	prefix_addr_with_host(&s, UINT64_MAX, &a);
	assert_string_equal(prefix_addr_to_string(&a, buf, sizeof(buf)),
			    "2001:db8::ffff:ffff:ffff:ffff");
	/* /128: no host bits at all */
	s = P("2001:db8::1/128");
	prefix_addr_with_host(&s, UINT64_MAX, &a);
	assert_string_equal(prefix_addr_to_string(&a, buf, sizeof(buf)), "2001:db8::1");
	/* /0: everything is host, but host has 64 bits */
	s = P("::/0");
	prefix_addr_with_host(&s, 2, &a);
	assert_string_equal(prefix_addr_to_string(&a, buf, sizeof(buf)), "::2");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_forms),
		cmocka_unit_test(test_parse_lengths),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_to_string_truncates),
		cmocka_unit_test(test_slice_count),
		cmocka_unit_test(test_slice_boundaries),
		cmocka_unit_test(test_slice_mid_group),
		cmocka_unit_test(test_slice_round_trip),
		cmocka_unit_test(test_slice_index),
		cmocka_unit_test(test_contains),
		cmocka_unit_test(test_host),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
