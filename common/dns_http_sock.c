/* What both ends of v6pd-dns-http's protocol share (dns_http.h): where the lingering helper
 * listens, how long it lingers, and the socket I/O with deadlines. */
#include "dns_http.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "duration.h"
#include "err.h"

int64_t dns_http_now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int dns_http_socket_path(const char *state_dir, char *buf, size_t size)
{
	struct stat st;
	int n;

	if (!state_dir || state_dir[0] != '/')
		return -EINVAL;
	/* thread-self: the main thread may be inside a container's namespace meanwhile */
	if (stat("/proc/thread-self/ns/net", &st) < 0)
		return -errno;
	n = snprintf(buf, size, "%s%sdns-http-%llu.sock", state_dir,
		     state_dir[strlen(state_dir) - 1] == '/' ? "" : "/",
		     (unsigned long long)st.st_ino);
	if (n < 0 || (size_t)n >= size || (size_t)n >= DNS_HTTP_SOCKET_MAX)
		return -ENAMETOOLONG;
	return 0;
}

int64_t dns_http_idle_seconds(void)
{
	const char *v = getenv(DNS_HTTP_IDLE_ENV);
	int64_t s;

	if (!v || !v[0] || duration_from_string(v, &s) < 0) {
		err_clear();
		return DNS_HTTP_IDLE_DEFAULT;
	}
	return s;
}

static int wait_for(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int64_t left = deadline - dns_http_now_ms();
	int k;

	if (left <= 0)
		return -ETIMEDOUT;
	k = poll(&p, 1, left > 60000 ? 60000 : (int)left);
	if (k < 0)
		return errno == EINTR ? 0 : -errno;
	return 0;	/* ready, or the next send/recv says EAGAIN and we wait again */
}

/* send() and recv() on a socket (MSG_DONTWAIT: the fd's own mode does not matter), write()
 * and read() on anything else (a pipe: the one-shot helper run by hand), after poll(). */
static ssize_t out(int fd, const char *buf, size_t len)
{
	ssize_t k = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);

	return k < 0 && errno == ENOTSOCK ? write(fd, buf, len) : k;
}

static ssize_t in(int fd, char *buf, size_t len)
{
	ssize_t k = recv(fd, buf, len, MSG_DONTWAIT);

	return k < 0 && errno == ENOTSOCK ? read(fd, buf, len) : k;
}

int dns_http_send_all(int fd, const char *buf, size_t len, int64_t deadline)
{
	while (len > 0) {
		ssize_t k = out(fd, buf, len);
		int r;

		if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
			if ((r = wait_for(fd, POLLOUT, deadline)) < 0)
				return r;
			continue;
		}
		if (k < 0)
			return -errno;
		buf += k;
		len -= (size_t)k;
	}
	return 0;
}

int dns_http_recv_all(int fd, size_t max, int64_t deadline, char **ret, size_t *ret_len)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap), *nb;
	int r = 0;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t k;

		if (len + 1 == cap) {
			nb = cap < max + 1 ? realloc(buf, cap * 2 < max + 1 ? cap * 2 : max + 1) : NULL;
			if (!nb) {
				r = cap < max + 1 ? -ENOMEM : -EMSGSIZE;
				break;
			}
			cap = cap * 2 < max + 1 ? cap * 2 : max + 1;
			buf = nb;
		}
		k = in(fd, buf + len, cap - 1 - len);
		if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
			if ((r = wait_for(fd, POLLIN, deadline)) < 0)
				break;
			continue;
		}
		if (k < 0) {
			r = -errno;
			break;
		}
		if (k == 0)
			break;
		len += (size_t)k;
	}
	if (r < 0) {
		free(buf);
		return r;
	}
	buf[len] = '\0';
	*ret = buf;
	*ret_len = len;
	return 0;
}
