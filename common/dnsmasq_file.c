/* dnsmasq_file: files written atomically and the state directory, for dnsmasq.c. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dnsmasq_int.h"
#include "err.h"

int dm_text_addf(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = t->cap - t->len;

		va_start(ap, fmt);
		n = vsnprintf(t->buf ? t->buf + t->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0)
			return err_set(-EINVAL, "formatting the dnsmasq configuration failed");
		if ((size_t)n < room) {
			t->len += (size_t)n;
			return 0;
		}
		size_t cap = t->cap ? t->cap * 2 : 1024;
		while (cap - t->len <= (size_t)n)
			cap *= 2;
		char *b = realloc(t->buf, cap);
		if (!b)
			return err_set(-ENOMEM, "out of memory");
		t->buf = b;
		t->cap = cap;
	}
}

int dm_pathf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size)
		return err_set(-ENAMETOOLONG, "path \"%.60s...\": too long", buf);
	return 0;
}

/* dnsmasq's configuration syntax has no quoting we can rely on for paths: keep to a safe
 * alphabet rather than write a line dnsmasq reads differently. */
int dm_check_state_dir(const char *state_dir)
{
	size_t len = state_dir ? strlen(state_dir) : 0;

	if (len == 0 || state_dir[0] != '/')
		return err_set(-EINVAL, "stateDir \"%s\": must be an absolute path",
			       state_dir ? state_dir : "");
	if (strspn(state_dir, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
			      "/._+-@") != len)
		return err_set(-EINVAL, "stateDir \"%s\": dnsmasq needs a path of "
			       "[A-Za-z0-9/._+@-] only", state_dir);
	return 0;
}

/* The whole file, NUL-terminated, in *ret (free()). -ENOENT without a message. */
int dm_read_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), r = 0;

	if (fd < 0)
		return errno == ENOENT ? -ENOENT : err_set(-errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		r = err_set(-errno, "%s: %s", path, strerror(errno));
		goto errout;
	}
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
		r = err_set(-EINVAL, "%s: not a regular file of at most %zu bytes", path, max);
		goto errout;
	}
	if (!(buf = malloc((size_t)st.st_size + 1))) {
		r = err_set(-ENOMEM, "out of memory");
		goto errout;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = err_set(-errno, "%s: %s", path, strerror(errno));
			goto errout;
		}
		if (n == 0 || (len += (size_t)n) == (size_t)st.st_size)
			break;
	}
	buf[len] = '\0';
	*ret = buf;
	if (ret_len)
		*ret_len = len;
	buf = NULL;
errout:
	free(buf);
	(void)close(fd);
	return r;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return err_set(-errno, "%s: %s", dir, strerror(errno));
	if (fsync(fd) < 0)
		r = err_set(-errno, "%s: fsync: %s", dir, strerror(errno));
	(void)close(fd);
	return r;
}

/* dir/name replaced by buf: temp ".name.XXXXXX" (dnsmasq skips dot files), rename; with
 * durable, fsync before the rename and of dir after it. A reader sees the old file or the
 * new one either way: the rename is atomic in the page cache, the fsyncs are for power loss. */
int dm_write_atomic(const char *dir, const char *name, const char *buf, size_t len,
		    mode_t mode, bool durable)
{
	char tmp[PATH_MAX], final[PATH_MAX];
	int fd, r;

	if ((r = dm_pathf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, name)) < 0 ||
	    (r = dm_pathf(final, sizeof(final), "%s/%s", dir, name)) < 0)
		return r;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return err_set(-errno, "%s: creating a temp file: %s", dir, strerror(errno));
	if (fchmod(fd, mode) < 0 || (r = write_all(fd, buf, len)) < 0 ||
	    (durable && fsync(fd) < 0)) {
		r = r < 0 ? r : -errno;
		(void)close(fd);
		goto fail;
	}
	if (close(fd) < 0) {
		r = -errno;
		goto fail;
	}
	if (rename(tmp, final) < 0) {
		r = -errno;
		goto fail;
	}
	return durable ? fsync_dir(dir) : 0;
fail:
	(void)unlink(tmp);
	return err_set(r, "%s: %s", final, strerror(-r));
}

/* mkdir (mode, whatever the umask) unless it exists as a directory. */
int dm_ensure_dir(const char *path, mode_t mode)
{
	struct stat st;

	if (mkdir(path, mode) == 0)
		return chmod(path, mode) < 0 ? err_set(-errno, "%s: chmod: %s", path,
						       strerror(errno)) : 0;
	if (errno != EEXIST)
		return err_set(-errno, "%s: %s", path, strerror(errno));
	if (stat(path, &st) < 0)
		return err_set(-errno, "%s: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return err_set(-ENOTDIR, "%s: not a directory", path);
	return 0;
}

/* The state directory (made 0700 like the store does, parents 0755) with o+x: dnsmasq drops
 * root and must reach state_dir/dhcp-hosts/. Traverse only: nothing in it becomes listable. */
int dm_ensure_state_dir(const char *state_dir)
{
	char tmp[PATH_MAX];
	struct stat st;
	int r;

	if ((r = dm_pathf(tmp, sizeof(tmp), "%s", state_dir)) < 0)
		return r;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return err_set(-errno, "stateDir %s: creating %s: %s", state_dir, tmp,
				       strerror(errno));
		*p = '/';
	}
	if (mkdir(state_dir, 0700) < 0 && errno != EEXIST)
		return err_set(-errno, "stateDir %s: %s", state_dir, strerror(errno));
	if (stat(state_dir, &st) < 0)
		return err_set(-errno, "stateDir %s: %s", state_dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return err_set(-ENOTDIR, "stateDir %s: not a directory", state_dir);
	if (!(st.st_mode & S_IXOTH) && chmod(state_dir, (st.st_mode & 07777) | S_IXOTH) < 0)
		return err_set(-errno, "stateDir %s: adding o+x for dnsmasq (which runs as "
			       "nobody): %s", state_dir, strerror(errno));
	/* dnsmasq would only log "Permission denied" and serve no reservation at all */
	for (char *p = strrchr(tmp, '/'); p; p = strrchr(tmp, '/')) {
		*p = '\0';
		if (stat(tmp[0] ? tmp : "/", &st) < 0)
			return err_set(-errno, "%s: %s", tmp[0] ? tmp : "/", strerror(errno));
		if (!(st.st_mode & S_IXOTH))
			return err_set(-EACCES, "stateDir %s: dnsmasq (which runs as nobody) cannot "
				       "reach it: %s has mode %04o, needs o+x", state_dir,
				       tmp[0] ? tmp : "/", (unsigned)(st.st_mode & 07777));
	}
	return 0;
}
