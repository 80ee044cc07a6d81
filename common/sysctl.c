#include "sysctl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "netlink.h"

#define KEY_MAX 64

static int check(const char *ifname, const char *key)
{
	size_t n;
	int r = nl_ifname_validate(ifname);

	if (r < 0)
		return err_wrap(r, "sysctl");
	n = key ? strnlen(key, KEY_MAX + 1) : 0;
	if (n == 0 || n > KEY_MAX || strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789_") != n)
		return err_set(-EINVAL, "sysctl net.ipv6.conf.%s: key \"%.*s\": must be 1..%d of "
			       "[a-z0-9_]", ifname, KEY_MAX, key ? key : "", KEY_MAX);
	return 0;
}

int sysctl_ipv6_conf_set(const char *ifname, const char *key, int value)
{
	char path[128], buf[16];
	int fd = -1, len, r = check(ifname, key);
	ssize_t w;

	if (r < 0)
		return r;
	(void)snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/%s", ifname, key);
	len = snprintf(buf, sizeof(buf), "%d\n", value);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto errout;
	}
	/* Written only when it differs: every ADD asks for the same bridge settings, and a
	 * write of all/forwarding walks every interface of the namespace. */
	{
		char cur[16];
		ssize_t n = pread(fd, cur, sizeof(cur) - 1, 0);

		if (n == len && memcmp(cur, buf, (size_t)len) == 0) {
			(void)close(fd);
			return 0;
		}
	}
	w = pwrite(fd, buf, (size_t)len, 0);
	if (w < 0)
		r = -errno;
	else if (w != len)
		r = -EIO;
	if (close(fd) < 0 && r == 0)
		r = -errno;
errout:
	if (r < 0)
		r = err_set(r, "sysctl net.ipv6.conf.%s.%s = %d: %s", ifname, key, value,
			    strerror(-r));
	return r;
}

int sysctl_ipv6_conf_get(const char *ifname, const char *key, int *ret_value)
{
	char path[128], buf[32], *end;
	int fd = -1, r = check(ifname, key);
	ssize_t n;
	long v;

	if (r < 0)
		return r;
	(void)snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/%s", ifname, key);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto errout;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		r = -errno;
	(void)close(fd);
	if (r < 0)
		goto errout;
	buf[n] = '\0';
	errno = 0;
	v = strtol(buf, &end, 10);
	if (end == buf || (*end && strcmp(end, "\n")) || errno || v < INT_MIN || v > INT_MAX)
		return err_set(-EINVAL, "sysctl net.ipv6.conf.%s.%s: not an integer: \"%.*s\"",
			       ifname, key, (int)strcspn(buf, "\n"), buf);
	*ret_value = (int)v;
	return 0;
errout:
	return err_set(r, "sysctl net.ipv6.conf.%s.%s: %s", ifname, key, strerror(-r));
}
