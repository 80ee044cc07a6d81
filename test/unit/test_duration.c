#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "duration.h"
#include "err.h"

static void check_good(const char *s, int64_t want)
{
	int64_t v = -1;

	err_clear();
	assert_int_equal(duration_from_string(s, &v), 0);
	assert_int_equal(v, want);
}

static void check_bad(const char *s, int err, const char *msg)
{
	int64_t v = 42;

	err_clear();
	assert_int_equal(duration_from_string(s, &v), err);
	assert_string_equal(err_msg(err), msg);
	assert_int_equal(v, 42);
}

static void check_string(int64_t seconds, const char *want)
{
	char buf[DURATION_STRLEN];

	assert_string_equal(duration_to_string(seconds, buf, sizeof(buf)), want);
}

static void test_parse(void **state)
{
	check_good("0", 0);
	check_good("0s", 0);
	check_good("0d0h0m0s", 0);
	check_good("1s", 1);
	check_good("90s", 90);
	check_good("1m", 60);
	check_good("1m30s", 90);
	check_good("1h30m", 5400);
	check_good("90m", 5400);
	check_good("168h", 604800);
	check_good("7d", 604800);
	check_good("1d12h", 129600);
	check_good("1d2h3m4s", 93784);
	check_good("1d4s", 86404);
	check_good("25h", 90000);
	check_good("01h", 3600);
	check_good("9223372036854775807s", INT64_MAX);
	check_good("106751991167300d15h30m7s", INT64_MAX);
	check_good("153722867280912930m7s", INT64_MAX);
}

static void test_parse_bad(void **state)
{
	check_bad("", -EINVAL, "duration \"\": empty");
	check_bad("5", -EINVAL, "duration \"5\": missing unit (d, h, m or s)");
	check_bad("00", -EINVAL, "duration \"00\": missing unit (d, h, m or s)");
	check_bad("1h30", -EINVAL, "duration \"1h30\": missing unit (d, h, m or s)");
	check_bad("-5s", -EINVAL, "duration \"-5s\": negative durations are not allowed");
	check_bad("-0", -EINVAL, "duration \"-0\": negative durations are not allowed");
	check_bad("+5s", -EINVAL,
		  "duration \"+5s\": expected a number and a unit (d, h, m, s), like \"1h30m\"");
	check_bad("h", -EINVAL,
		  "duration \"h\": expected a number and a unit (d, h, m, s), like \"1h30m\"");
	check_bad(" 1h", -EINVAL,
		  "duration \" 1h\": expected a number and a unit (d, h, m, s), like \"1h30m\"");
	check_bad("1h ", -EINVAL,
		  "duration \"1h \": expected a number and a unit (d, h, m, s), like \"1h30m\"");
	check_bad("1h\t30m", -EINVAL,
		  "duration \"1h\\x0930m\": expected a number and a unit (d, h, m, s), "
		  "like \"1h30m\"");
	check_bad("1.5h", -EINVAL, "duration \"1.5h\": unknown unit \".\" (use d, h, m or s)");
	check_bad("5x", -EINVAL, "duration \"5x\": unknown unit \"x\" (use d, h, m or s)");
	check_bad("1H", -EINVAL, "duration \"1H\": unknown unit \"H\" (use d, h, m or s)");
	check_bad("1w", -EINVAL, "duration \"1w\": unknown unit \"w\" (use d, h, m or s)");
	check_bad("1ms", -EINVAL, "duration \"1ms\": expected a number and a unit (d, h, m, s), "
				  "like \"1h30m\"");
	check_bad("1\x7f", -EINVAL,
		  "duration \"1\\x7f\": unknown unit \"\\x7f\" (use d, h, m or s)");
	check_bad("1m1h", -EINVAL,
		  "duration \"1m1h\": units must go from largest to smallest (d, h, m, s)");
	check_bad("1s1d", -EINVAL,
		  "duration \"1s1d\": units must go from largest to smallest (d, h, m, s)");
	check_bad("1h1h", -EINVAL, "duration \"1h1h\": unit \"h\" repeated");
	check_bad("1d1h1h", -EINVAL, "duration \"1d1h1h\": unit \"h\" repeated");
	check_bad("9223372036854775808s", -ERANGE, "duration \"9223372036854775808s\": too large");
	check_bad("99999999999999999999", -ERANGE, "duration \"99999999999999999999\": too large");
	check_bad("106751991167301d", -ERANGE, "duration \"106751991167301d\": too large");
	check_bad("106751991167300d15h30m8s", -ERANGE,
		  "duration \"106751991167300d15h30m8s\": too large");
	check_bad("106751991167300d16h", -ERANGE, "duration \"106751991167300d16h\": too large");
}

static void test_to_string(void **state)
{
	char small[4];

	check_string(0, "0s");
	check_string(1, "1s");
	check_string(59, "59s");
	check_string(60, "1m");
	check_string(90, "1m30s");
	check_string(3600, "1h");
	check_string(5400, "1h30m");
	check_string(86399, "23h59m59s");
	check_string(86400, "1d");
	check_string(86401, "1d1s");
	check_string(90061, "1d1h1m1s");
	check_string(604800, "7d");
	check_string(INT64_MAX, "106751991167300d15h30m7s");
	check_string(-90, "-1m30s");
	check_string(INT64_MIN, "-106751991167300d15h30m8s");
	/* truncated to fit, always terminated */
	assert_string_equal(duration_to_string(5400, small, sizeof(small)), "1h3");
}

static void test_round_trip(void **state)
{
	char buf[DURATION_STRLEN];
	uint64_t x = 1;

	for (int i = 0; i < 100000; i++) {
		int64_t v = (int64_t)(x >> (i % 64)), back = -1;

		assert_int_equal(duration_from_string(duration_to_string(v, buf, sizeof(buf)),
						      &back), 0);
		assert_int_equal(back, v);
		x = x * 6364136223846793005u + 1442695040888963407u;
		x &= INT64_MAX;
	}
	for (int64_t v = 0; v < 200000; v += 7) {
		int64_t back = -1;

		assert_int_equal(duration_from_string(duration_to_string(v, buf, sizeof(buf)),
						      &back), 0);
		assert_int_equal(back, v);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_to_string),
		cmocka_unit_test(test_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
