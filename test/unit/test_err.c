#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "err.h"

static void test_set_returns_err(void **state)
{
	err_clear();
	assert_int_equal(err_set(-EINVAL, "sliceLength %d: must be 64..120", 200), -EINVAL);
	assert_string_equal(err_msg(-EINVAL), "sliceLength 200: must be 64..120");
}

static void test_wrap_prefixes(void **state)
{
	err_clear();
	(void)err_set(-ENOENT, "no such network");
	assert_int_equal(err_wrap(-ENOENT, "lease %s", "web/c1"), -ENOENT);
	assert_string_equal(err_msg(-ENOENT), "lease web/c1: no such network");
}

static void test_fallback_strerror(void **state)
{
	err_clear();
	assert_string_equal(err_msg(-ENOMEM), "Cannot allocate memory");
}

static void test_quote(void **state)
{
	char buf[ERR_QUOTE_BUFLEN], longin[100];

	assert_string_equal(err_quote("eth0", buf), "eth0");
	assert_string_equal(err_quote("a\"b\\c\n\x7f", buf), "a\\x22b\\x5cc\\x0a\\x7f");
	memset(longin, 'x', sizeof(longin) - 1);
	longin[sizeof(longin) - 1] = '\0';
	assert_int_equal(strlen(err_quote(longin, buf)), ERR_QUOTE_MAX + 3);
	assert_string_equal(buf + ERR_QUOTE_MAX, "...");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_returns_err),
		cmocka_unit_test(test_wrap_prefixes),
		cmocka_unit_test(test_fallback_strerror),
		cmocka_unit_test(test_quote),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
