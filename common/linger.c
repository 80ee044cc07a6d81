/* linger.h: the lock, the socket and the peer check of the lingering servers. */
#include "linger.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <time.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "duration.h"
#include "err.h"
#include "tenv.h"

int linger_lock_path(const char *path, char *buf, size_t size)
{
	size_t n = strlen(path);
	const char *sfx = ".sock";

	if (n > strlen(sfx) && strcmp(path + n - strlen(sfx), sfx) == 0)
		n -= strlen(sfx);
	return snprintf(buf, size, "%.*s.lock", (int)n, path) < (int)size ? 0 : -ENAMETOOLONG;
}

int linger_take_lock(const char *path)
{
	char lp[sizeof(((struct sockaddr_un *)0)->sun_path) + 8], pid[24];
	int fd, n;

	if (linger_lock_path(path, lp, sizeof(lp)) < 0)
		return -ENAMETOOLONG;
	fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;

		(void)close(fd);
		return e == EWOULDBLOCK ? 0 : -e;
	}
	/* for people: whose lock it is; only a note, the lock is what counts */
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == 0)
		(void)!pwrite(fd, pid, (size_t)n, 0);
	return 1;
}

int linger_listen(const char *path, struct stat *ret_st)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	/* a socket left by a holder that died; anything else there is not ours to remove */
	if (lstat(path, &st) == 0 && (!S_ISSOCK(st.st_mode) || unlink(path) < 0))
		return -EEXIST;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* 0600: the directory keeps others out already; the socket says so too */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0600) < 0 ||
	    listen(fd, 128) < 0 ||
	    lstat(path, ret_st) < 0) {
		int e = errno;

		(void)close(fd);
		return -e;
	}
	return fd;
}

bool linger_socket_is(const char *path, const struct stat *st)
{
	struct stat now;

	return lstat(path, &now) == 0 && now.st_dev == st->st_dev && now.st_ino == st->st_ino;
}

int64_t linger_idle_seconds(const char *name, int64_t dflt)
{
	const char *v = tenv_get(name);
	int64_t s;

	if (!v || !v[0] || duration_from_string(v, &s) < 0) {
		err_clear();
		return dflt;
	}
	return s;
}

bool linger_peer_allowed(int fd, long *ret_uid)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 || len != sizeof(cr)) {
		*ret_uid = -1;
		return false;
	}
	*ret_uid = (long)cr.uid;
	return cr.uid == 0 || cr.uid == geteuid();
}

int64_t linger_now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int wait_for(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int64_t left = deadline - linger_now_ms();
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

int linger_send_all(int fd, const char *buf, size_t len, int64_t deadline)
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

int linger_recv_all(int fd, size_t max, int64_t deadline, char **ret, size_t *ret_len)
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
