/* Backend hostsDir: one hosts file per network in a directory that dnsmasq --hostsdir (or
 * CoreDNS's hosts plugin) watches. The file is a view of the store's rows: temp file, fsync,
 * rename, so a reader sees the old file or the new one, never a part, even after a power
 * loss. The directory is not fsynced: that would make the rename itself survive a power
 * loss, which the store does not promise for its own newest rows either
 * (synchronous=NORMAL), and it is a second journal commit on the ADD's path (0.3-4 ms
 * measured here); the file is a view the next write or `v6pdctl dns sync` puts right.
 *
 * A lock file serialises the writers of one network. An ADD or DEL edits the file it finds:
 * each line its ops touch is made to agree with the store as it is once the lock is taken
 * (there when a row of the network for that name and address, in this directory, is not
 * stale), the rest is copied, so its cost is the file's bytes, not a query of every record
 * of the network (5,000 records: ~25 ms of SQLite rows, ~0.3 ms of copying). Whoever edits a
 * line last read the store after every commit that concerns it, so concurrent writers leave
 * it right. Lines are kept in the order a rewrite from the store gives them (name with its
 * dot, then address: the store's ORDER BY), so an edited file and a rewritten one are the
 * same bytes. A file that is missing or does not start with our header is rewritten whole
 * from the store, and so is every file `dns sync` looks at (dns_hosts_write()). */
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

static void header(const char *network, char *buf, size_t size)
{
	(void)snprintf(buf, size, "# v6pd network %s: written by v6pd, do not edit\n", network);
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
	header(network, line, sizeof(line));
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

/* Opens dir (made when missing) and takes network's lock in it: *ret_dfd, *ret_lfd. */
static int open_locked(const char *network, const char *dir, int *ret_dfd, int *ret_lfd)
{
	char lock[STORE_NAME_MAX + 40];
	int dfd, lfd, r;

	(void)snprintf(lock, sizeof(lock), LOCK_FMT, DNS_HOSTS_PREFIX, network);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 && errno == ENOENT) {
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return err_set(-errno, "hostsDir %s: %s", dir, strerror(errno));
		dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (dfd < 0)
		return err_set(-errno, "hostsDir %s: %s", dir, strerror(errno));
	lfd = openat(dfd, lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lfd < 0) {
		r = err_set(-errno, "hostsDir %s: %s: %s", dir, lock, strerror(errno));
		(void)close(dfd);
		return r;
	}
	while ((r = flock(lfd, LOCK_EX)) < 0 && errno == EINTR)
		;
	if (r < 0) {
		r = err_set(-errno, "hostsDir %s: locking %s: %s", dir, lock, strerror(errno));
		(void)close(lfd);
		(void)close(dfd);
		return r;
	}
	*ret_dfd = dfd;
	*ret_lfd = lfd;
	return 0;
}

static void file_names(const char *network, char *final, size_t fsize, char *tmp, size_t tsize)
{
	(void)snprintf(final, fsize, "%s%s%s", DNS_HOSTS_PREFIX, network, DNS_HOSTS_SUFFIX);
	(void)snprintf(tmp, tsize, TEMP_FMT, DNS_HOSTS_PREFIX, network, DNS_HOSTS_SUFFIX);
}

/* The file rewritten from the store (under the lock), unless it holds that already. */
static int rewrite(struct store *s, const char *network, const char *dir, int dfd)
{
	char final[STORE_NAME_MAX + 32], tmp[STORE_NAME_MAX + 40];
	struct text t = { 0 };
	int r;

	file_names(network, final, sizeof(final), tmp, sizeof(tmp));
	if ((r = content(s, network, dir, &t)) == 0 && !same_content(dfd, final, &t))
		r = replace_file(dfd, dir, tmp, final, &t);
	free(t.buf);
	return r;
}

int dns_hosts_write(struct store *s, const char *network, const char *dir)
{
	int dfd, lfd, r;

	if ((r = open_locked(network, dir, &dfd, &lfd)) < 0)
		return r;
	r = rewrite(s, network, dir, dfd);
	(void)close(lfd);
	(void)close(dfd);
	return r;
}

/* ---- editing a file in place of a rewrite ---- */

/* The whole file open at fd, with room for a few more lines: 0 or a negative errno (no
 * message). */
static int read_file(int fd, struct text *t)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	t->cap = (size_t)st.st_size + 1024;
	t->buf = malloc(t->cap);
	if (!t->buf)
		return -ENOMEM;
	while (t->len < (size_t)st.st_size) {
		ssize_t k = read(fd, t->buf + t->len, (size_t)st.st_size - t->len);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -EIO;	/* shrunk under us: not ours to edit */
		t->len += (size_t)k;
	}
	t->buf[t->len] = '\0';
	return 0;
}

/* strcmp(name + ".", dotted), name being nlen bytes without its dot. */
static int dotted_cmp(const char *name, size_t nlen, const char *dotted)
{
	size_t i;

	for (i = 0; i < nlen; i++)
		if (name[i] != dotted[i])	/* dotted's NUL included */
			return (unsigned char)name[i] - (unsigned char)dotted[i];
	if (dotted[i] != '.')
		return '.' - (unsigned char)dotted[i];
	return dotted[i + 1] ? -1 : 0;
}

/* Whether the line l of len bytes is one of ours ("ADDRESS NAME"), not a comment, a blank
 * line or another hand edit. */
static bool line_ours(const char *l, size_t len)
{
	return len > 0 && l[0] != '#' && memchr(l, ' ', len);
}

/* The key lines are ordered by: the name with its dot (the store's), then the address. l is
 * one of ours. */
static int line_cmp(const char *l, size_t len, const char *dotted, const char *addr)
{
	const char *sp = memchr(l, ' ', len);
	size_t alen, k;
	int c;

	alen = (size_t)(sp - l);
	if ((c = dotted_cmp(sp + 1, len - alen - 1, dotted)) != 0)
		return c;
	k = strlen(addr);
	c = memcmp(l, addr, alen < k ? alen : k);
	return c ? c : (alen > k) - (alen < k);
}

/* The length of the line at at, without its newline: *ret_next gets where the next starts. */
static size_t line_len(const struct text *t, size_t at, size_t *ret_next)
{
	const char *nl = memchr(t->buf + at, '\n', t->len - at);
	size_t len = nl ? (size_t)(nl - (t->buf + at)) : t->len - at;

	*ret_next = at + len + (nl ? 1 : 0);
	return len;
}

/* The first line of ours at or after at and before end (end when none): *ret_len and
 * *ret_next for it. */
static size_t line_ours_from(const struct text *t, size_t at, size_t end, size_t *ret_len,
			     size_t *ret_next)
{
	for (; at < end; at = *ret_next) {
		*ret_len = line_len(t, at, ret_next);
		if (line_ours(t->buf + at, *ret_len))
			return at;
	}
	return end;
}

/* Where the line for (dotted, addr) is in t, past its first line, or would go: *ret_at;
 * true when it is there. Our lines are in order, so the first one not before the key is
 * found by halving the bytes between two line starts (5,000 records: 13 lines looked at,
 * not 2,500). A line not of ours (a hand edit) says nothing about the order: the next of
 * ours is looked at instead. */
static bool line_find(const struct text *t, const char *dotted, const char *addr,
		      size_t *ret_at)
{
	size_t lo, hi = t->len, next, len, at;

	(void)line_len(t, 0, &lo);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		while (mid > lo && t->buf[mid - 1] != '\n')
			mid--;
		at = line_ours_from(t, mid, hi, &len, &next);
		if (at == hi)
			hi = mid;	/* none of ours in [mid, hi) */
		else if (line_cmp(t->buf + at, len, dotted, addr) < 0)
			lo = next;
		else
			hi = at;
	}
	*ret_at = lo;
	at = line_ours_from(t, lo, t->len, &len, &next);
	if (at < t->len && line_cmp(t->buf + at, len, dotted, addr) == 0) {
		*ret_at = at;
		return true;
	}
	return false;
}

static int text_insert(struct text *t, size_t at, const char *s)
{
	size_t n = strlen(s), tail = t->len - at;
	int r;

	if ((r = text_add(t, s)) < 0)	/* room, and the new bytes at the end */
		return r;
	memmove(t->buf + at + n, t->buf + at, tail);
	memcpy(t->buf + at, s, n);
	return 0;
}

static void text_remove_line(struct text *t, size_t at)
{
	size_t next, len;

	(void)line_len(t, at, &next);
	len = next - at;
	memmove(t->buf + at, t->buf + at + len, t->len - at - len + 1);
	t->len -= len;
}

/* Whether row's line belongs in network's file in dir, per the store now. */
static int line_wanted(struct store *s, const char *network, const char *dir,
		       const struct store_dns_record *row, bool *ret)
{
	struct store_dns_record *v = NULL;
	size_t n = 0;
	int r = store_dns_find(s, DNS_BACKEND_HOSTS, dir, row->name, NULL, &v, &n);

	*ret = false;
	for (size_t i = 0; r == 0 && i < n; i++)
		*ret = *ret || (strcmp(v[i].network, network) == 0 && v[i].state != STORE_DNS_STALE &&
				memcmp(&v[i].addr, &row->addr, sizeof(row->addr)) == 0);
	free(v);
	return r;
}

/* Brings the lines of the ops in ops[0..n) that are dir's in line with the store in
 * network's file there. */
static int edit_dir(struct store *s, const char *network, const char *dir,
		    const struct dns_op *ops, size_t n)
{
	char final[STORE_NAME_MAX + 32], tmp[STORE_NAME_MAX + 40], head[STORE_NAME_MAX + 64];
	char line[INET6_ADDRSTRLEN + STORE_DNS_NAME_MAX + 8], a[INET6_ADDRSTRLEN];
	struct text t = { 0 };
	bool changed = false;
	int dfd, lfd, old, r;

	if ((r = open_locked(network, dir, &dfd, &lfd)) < 0)
		return r;
	file_names(network, final, sizeof(final), tmp, sizeof(tmp));
	header(network, head, sizeof(head));
	/* the file a rename replaces is closed once the publication has its outcome: that
	 * last close frees its blocks (dns_close_later()) */
	old = openat(dfd, final, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (old < 0 || read_file(old, &t) < 0 || strncmp(t.buf, head, strlen(head)) != 0) {
		r = rewrite(s, network, dir, dfd);
		goto out;
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		const struct store_dns_record *row = &ops[i].row;
		size_t nl = strlen(row->name), at, k;
		bool want, there;

		for (k = 0; k < i; k++)
			if (strcmp(ops[k].row.name, row->name) == 0 &&
			    memcmp(&ops[k].row.addr, &row->addr, sizeof(row->addr)) == 0)
				break;
		if (k < i || strcmp(row->target, dir) != 0)
			continue;	/* the same line again, or another directory's */
		if ((r = line_wanted(s, network, dir, row, &want)) < 0)
			break;
		(void)prefix_addr_to_string(&row->addr, a, sizeof(a));
		there = line_find(&t, row->name, a, &at);
		if (want && !there) {
			(void)snprintf(line, sizeof(line), "%s %.*s\n", a,
				       (int)(nl && row->name[nl - 1] == '.' ? nl - 1 : nl), row->name);
			r = text_insert(&t, at, line);
			changed = true;
		} else if (!want && there) {
			text_remove_line(&t, at);
			changed = true;
		}
	}
	if (r == 0 && changed)
		r = replace_file(dfd, dir, tmp, final, &t);
out:
	if (old >= 0)
		dns_close_later(old);	/* a rewrite may have replaced it too */
	free(t.buf);
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
		r = edit_dir(s, network, ops[i].row.target, ops + i, n - i);
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
