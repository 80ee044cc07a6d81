/* err: the last error's message, per thread.
 *
 * Core functions return 0 (or a count) on success and a negative errno on failure. A failing
 * function records one message naming the field and value at fault with err_set(); the
 * executable prints it once. Nothing in the core prints.
 */
#pragma once

/* Records the formatted message and returns err (a negative errno), so callers can write
 * `return err_set(-EINVAL, "sliceLength %d: must be 64..120", n);`. */
int err_set(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefixes the current message with "context: ", returns err. */
int err_wrap(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The last message, or strerror(-err) when none was recorded since err_clear(). Borrowed. */
const char *err_msg(int err);

void err_clear(void);

/* Bad input goes into messages quoted: at most 64 bytes of it, non-printable bytes, '"' and
 * '\\' as \xNN, "..." when cut. buf holds ERR_QUOTE_BUFLEN bytes; returns buf. */
#define ERR_QUOTE_MAX 64
#define ERR_QUOTE_BUFLEN (ERR_QUOTE_MAX * 4 + sizeof("..."))
const char *err_quote(const char *s, char *buf);
