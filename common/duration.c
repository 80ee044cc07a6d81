#include "duration.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

static const struct {
	char name;
	int64_t seconds;
} units[] = {
	{ 'd', 86400 },
	{ 'h', 3600 },
	{ 'm', 60 },
	{ 's', 1 },
};
#define NUNITS (sizeof(units) / sizeof(units[0]))

static size_t unit_find(char c)
{
	size_t u;

	for (u = 0; u < NUNITS; u++)
		if (units[u].name == c)
			break;
	return u;
}

int duration_from_string(const char *s, int64_t *ret_seconds)
{
	char q[ERR_QUOTE_BUFLEN], uq[ERR_QUOTE_BUFLEN];
	int64_t total = 0;
	size_t next = 0;	/* the largest unit still allowed */
	const char *c = s;

	assert(s && ret_seconds);
	if (!*s)
		return err_set(-EINVAL, "duration \"\": empty");
	if (!strcmp(s, "0")) {
		*ret_seconds = 0;
		return 0;
	}
	if (*s == '-')
		return err_set(-EINVAL, "duration \"%s\": negative durations are not allowed",
			       err_quote(s, q));

	while (*c) {
		int64_t n = 0;
		size_t u;

		if (*c < '0' || *c > '9')
			return err_set(-EINVAL, "duration \"%s\": expected a number and a unit "
				       "(d, h, m, s), like \"1h30m\"", err_quote(s, q));
		for (; *c >= '0' && *c <= '9'; c++) {
			if (n > (INT64_MAX - (*c - '0')) / 10)
				return err_set(-ERANGE, "duration \"%s\": too large", err_quote(s, q));
			n = n * 10 + (*c - '0');
		}
		if (!*c)
			return err_set(-EINVAL, "duration \"%s\": missing unit (d, h, m or s)",
				       err_quote(s, q));
		u = unit_find(*c);
		if (u == NUNITS)
			return err_set(-EINVAL, "duration \"%s\": unknown unit \"%s\" "
				       "(use d, h, m or s)", err_quote(s, q),
				       err_quote((char[]){ *c, '\0' }, uq));
		if (u + 1 == next)
			return err_set(-EINVAL, "duration \"%s\": unit \"%c\" repeated", err_quote(s, q),
				       *c);
		if (u < next)
			return err_set(-EINVAL, "duration \"%s\": units must go from largest to "
				       "smallest (d, h, m, s)", err_quote(s, q));
		if (n > (INT64_MAX - total) / units[u].seconds)
			return err_set(-ERANGE, "duration \"%s\": too large", err_quote(s, q));
		total += n * units[u].seconds;
		next = u + 1;
		c++;
	}
	*ret_seconds = total;
	return 0;
}

char *duration_to_string(int64_t seconds, char *buf, size_t size)
{
	char tmp[DURATION_STRLEN];
	/* the magnitude, INT64_MIN included */
	uint64_t v = seconds < 0 ? -(uint64_t)seconds : (uint64_t)seconds;
	size_t n = 0;

	assert(buf && size > 0);
	if (seconds < 0)
		tmp[n++] = '-';
	if (v == 0)
		n += (size_t)snprintf(tmp + n, sizeof(tmp) - n, "0s");
	for (size_t u = 0; u < NUNITS; u++) {
		uint64_t q = v / (uint64_t)units[u].seconds;

		v %= (uint64_t)units[u].seconds;
		if (q)
			n += (size_t)snprintf(tmp + n, sizeof(tmp) - n, "%" PRIu64 "%c", q,
					      units[u].name);
	}
	(void)snprintf(buf, size, "%s", tmp);
	return buf;
}
