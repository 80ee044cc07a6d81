/* Backend hostsDir: one hosts file per network in a directory that dnsmasq --hostsdir (or
 * CoreDNS's hosts plugin) watches. The file is a view of the store's rows, rewritten whole:
 * temp file, fsync, rename, so a reader sees the old file or the new one, never a part, even
 * after a power loss. The directory is not fsynced: that would make the rename itself
 * survive a power loss, which the store does not promise for its own newest rows either
 * (synchronous=NORMAL), and it is a second journal commit on the ADD's path (0.3-4 ms
 * measured here); the file is a view the next write or `v6pdctl dns sync` puts right. A
 * lock file serialises writers of one network, each of which reads the store after taking
 * it, so the last rename carries every committed row. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dns_int.h"
#include "err.h"

/* dnsmasq's inotify watch skips names that start with '.'; so do we for our helpers. */
#define LOCK_FMT ".%s%s.lock"
#define TEMP_FMT ".%s%s%s.tmp"

struct text {
	char *buf;
	size_t len, cap;
};

static int text_add(struct text *t, const char *s)
{
	size_t n = strlen(s);

	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 4096;
		char *nb;

		while (t->len + n + 1 > cap)
			cap *= 2;
		nb = realloc(t->buf, cap);
		if (!nb)
			return err_set(-ENOMEM, "out of memory");
		t->buf = nb;
		t->cap = cap;
	}
	memcpy(t->buf + t->len, s, n + 1);
	t->len += n;
	return 0;
}

static int content(struct store *s, const char *network, const char *dir, struct text *t)
{
	char line[INET6_ADDRSTRLEN + STORE_DNS_NAME_MAX + 8], prev[sizeof(line)] = "";
	char a[INET6_ADDRSTRLEN];
	struct store_dns_record *v = NULL;
	size_t n = 0;
	int r;

	if ((r = store_dns_list(s, network, NULL, DNS_BACKEND_HOSTS, &v, &n)) < 0)
		return r;
	(void)snprintf(line, sizeof(line), "# v6pd network %s: written by v6pd, do not edit\n",
		       network);
	r = text_add(t, line);
	for (size_t i = 0; i < n && r == 0; i++) {
		size_t nl = strlen(v[i].name);

		if (v[i].state == STORE_DNS_STALE || strcmp(v[i].target, dir) != 0)
			continue;
		/* hosts files take names without the root's dot */
		(void)snprintf(line, sizeof(line), "%s %.*s\n",
			       prefix_addr_to_string(&v[i].addr, a, sizeof(a)),
			       (int)(nl && v[i].name[nl - 1] == '.' ? nl - 1 : nl), v[i].name);
		if (strcmp(line, prev) == 0)
			continue;
		memcpy(prev, line, sizeof(prev));
		r = text_add(t, line);
	}
	free(v);
	return r;
}

/* Whether the file at name in dfd holds exactly t. */
static bool same_content(int dfd, const char *name, const struct text *t)
{
	char *buf;
	ssize_t k;
	size_t n = 0;
	bool same = false;
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return false;
	buf = malloc(t->len + 1);
	while (buf && n <= t->len && (k = read(fd, buf + n, t->len + 1 - n)) > 0)
		n += (size_t)k;
	same = buf && n == t->len && memcmp(buf, t->buf, n) == 0;
	free(buf);
	(void)close(fd);
	return same;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t k = write(fd, buf, len);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		buf += k;
		len -= (size_t)k;
	}
	return 0;
}

static int replace_file(int dfd, const char *dir, const char *tmp, const char *final,
			const struct text *t)
{
	int fd, r;

	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return err_set(-errno, "hostsDir %s: creating %s: %s", dir, tmp, strerror(errno));
	/* readable by dnsmasq, which runs as nobody; the umask may be tighter */
	if (fchmod(fd, 0644) < 0 || (r = write_all(fd, t->buf, t->len)) < 0 || fsync(fd) < 0) {
		r = -errno;
		(void)close(fd);
		(void)unlinkat(dfd, tmp, 0);
		return err_set(r, "hostsDir %s: writing %s: %s", dir, tmp, strerror(-r));
	}
	if (close(fd) < 0) {
		r = -errno;
		(void)unlinkat(dfd, tmp, 0);
		return err_set(r, "hostsDir %s: writing %s: %s", dir, tmp, strerror(-r));
	}
	if (renameat(dfd, tmp, dfd, final) < 0) {
		r = -errno;
		(void)unlinkat(dfd, tmp, 0);
		return err_set(r, "hostsDir %s: renaming %s to %s: %s", dir, tmp, final,
			       strerror(-r));
	}
	return 0;
}

int dns_hosts_write(struct store *s, const char *network, const char *dir)
{
	char final[STORE_NAME_MAX + 32], tmp[STORE_NAME_MAX + 40], lock[STORE_NAME_MAX + 40];
	struct text t = { 0 };
	int dfd, lfd = -1, r;

	(void)snprintf(final, sizeof(final), "%s%s%s", DNS_HOSTS_PREFIX, network,
		       DNS_HOSTS_SUFFIX);
	(void)snprintf(tmp, sizeof(tmp), TEMP_FMT, DNS_HOSTS_PREFIX, network, DNS_HOSTS_SUFFIX);
	(void)snprintf(lock, sizeof(lock), LOCK_FMT, DNS_HOSTS_PREFIX, network);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return err_set(-errno, "hostsDir %s: %s", dir, strerror(errno));
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return err_set(-errno, "hostsDir %s: %s", dir, strerror(errno));
	lfd = openat(dfd, lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lfd < 0) {
		r = err_set(-errno, "hostsDir %s: %s: %s", dir, lock, strerror(errno));
		goto out;
	}
	while ((r = flock(lfd, LOCK_EX)) < 0 && errno == EINTR)
		;
	if (r < 0) {
		r = err_set(-errno, "hostsDir %s: locking %s: %s", dir, lock, strerror(errno));
		goto out;
	}
	if ((r = content(s, network, dir, &t)) < 0)
		goto out;
	if (!same_content(dfd, final, &t))
		r = replace_file(dfd, dir, tmp, final, &t);
out:
	free(t.buf);
	if (lfd >= 0)
		(void)close(lfd);
	(void)close(dfd);
	return r;
}

int dns_hosts_apply(struct store *s, const char *network, struct dns_op *ops, size_t n)
{
	int first = 0;

	for (size_t i = 0; i < n; i++) {
		bool done = false;
		int r;

		for (size_t k = 0; k < i && !done; k++)
			done = strcmp(ops[k].row.target, ops[i].row.target) == 0;
		if (done)
			continue;
		r = dns_hosts_write(s, network, ops[i].row.target);
		for (size_t k = i; k < n; k++) {
			if (strcmp(ops[k].row.target, ops[i].row.target) != 0)
				continue;
			ops[k].err = r;
			if (r < 0)
				(void)snprintf(ops[k].row.error, sizeof(ops[k].row.error), "%s",
					       err_msg(r));
		}
		if (r < 0 && first == 0)
			first = r;
	}
	if (first < 0) {
		for (size_t i = 0; i < n; i++)
			if (ops[i].err == first)
				return err_set(first, "%s", ops[i].row.error);
	}
	return first;
}
