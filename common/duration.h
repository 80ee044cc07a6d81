/* duration: "168h", "7d", "1h30m", "90s", "0" <-> seconds. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* "-106751991167300d15h30m8s" plus NUL, with room to spare */
#define DURATION_STRLEN 32

/* Units s, m, h, d (and a bare "0"); sums of them from the largest unit to the smallest,
 * each unit at most once ("1d12h", "90s"; not "1m1h", "1h1h", "5", "1.5h", "1H", " 1h").
 * -EINVAL for bad text, -ERANGE beyond INT64_MAX seconds. The message quotes the input. */
int duration_from_string(const char *s, int64_t *ret_seconds);

/* The largest units first, zero components left out: 604800 -> "7d", 5400 -> "1h30m",
 * 90 -> "1m30s", 0 -> "0s". A negative value gets a leading '-' (which
 * duration_from_string refuses). Truncates to fit size; DURATION_STRLEN always fits.
 * Returns buf. */
char *duration_to_string(int64_t seconds, char *buf, size_t size);
