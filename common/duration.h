/* duration: "168h", "7d", "1h30m", "90s", "0" <-> seconds. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Units s, m, h, d (and a bare "0"); sums of them in descending order. The message quotes
 * the input. */
int duration_from_string(const char *s, int64_t *ret_seconds);

/* "7d", "1h30m", "0s". */
char *duration_to_string(int64_t seconds, char *buf, size_t size);
