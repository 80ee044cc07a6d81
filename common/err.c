#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char err_buf[1024];

int err_set(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(err_buf, sizeof(err_buf), fmt, ap);
	va_end(ap);
	return err;
}

int err_wrap(int err, const char *fmt, ...)
{
	char prev[sizeof(err_buf)];
	size_t n;
	va_list ap;
	const char *src = err_buf[0] ? err_buf : strerror(-err);
	size_t len = strnlen(src, sizeof(prev) - 1);

	memcpy(prev, src, len);
	prev[len] = '\0';
	va_start(ap, fmt);
	(void)vsnprintf(err_buf, sizeof(err_buf), fmt, ap);
	va_end(ap);
	n = strlen(err_buf);
	if (n + 2 < sizeof(err_buf)) {
		memcpy(err_buf + n, ": ", 2);
		n += 2;
		len = len < sizeof(err_buf) - n - 1 ? len : sizeof(err_buf) - n - 1;
		memcpy(err_buf + n, prev, len);
		err_buf[n + len] = '\0';
	}
	return err;
}

const char *err_msg(int err)
{
	if (err_buf[0])
		return err_buf;
	return strerror(err < 0 ? -err : err);
}

void err_clear(void)
{
	err_buf[0] = '\0';
}

const char *err_quote(const char *s, char *buf)
{
	size_t n = 0;
	size_t i;

	for (i = 0; s[i] && i < ERR_QUOTE_MAX; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c > 0x7e || c == '"' || c == '\\')
			n += (size_t)snprintf(buf + n, ERR_QUOTE_BUFLEN - n, "\\x%02x", c);
		else
			buf[n++] = (char)c;
	}
	if (s[i])
		n += (size_t)snprintf(buf + n, ERR_QUOTE_BUFLEN - n, "...");
	buf[n] = '\0';
	return buf;
}
