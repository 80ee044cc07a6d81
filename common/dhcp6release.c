/* dhcp6release: see dhcp6release.h. */
#include "dhcp6release.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "netlink.h"

#define STATUS_MAX (16 << 20)
#define DUID_MAX 130		/* RFC 8415 11.1: at most 128 octets + the type */
#define REPLY_WAIT_MS 300
#define CLIENT_PORT 546
#define SERVER_PORT 547
#define MSG_RELEASE 8
#define MSG_REPLY 7
#define OPT_CLIENTID 1
#define OPT_SERVERID 2
#define OPT_IA_NA 3
#define OPT_IAADDR 5
#define OPT_ELAPSED_TIME 8

struct lease6 {
	uint8_t client[DUID_MAX], server[DUID_MAX];
	size_t client_len, server_len;
	uint32_t iaid;
	struct in6_addr addr;
};

/* "00:04:ab:..." into bytes; false unless 1..DUID_MAX of them. */
static bool hex_bytes(const char *s, uint8_t *ret, size_t *ret_len)
{
	size_t n = 0;

	while (s && *s) {
		char hex[3] = { s[0], s[0] ? s[1] : '\0', '\0' };

		if (n == DUID_MAX || !isxdigit((unsigned char)hex[0]) ||
		    !isxdigit((unsigned char)hex[1]))
			return false;
		ret[n++] = (uint8_t)strtoul(hex, NULL, 16);
		s += 2;
		if (*s == ':')
			s++;
		else if (*s)
			return false;
	}
	*ret_len = n;
	return n > 0;
}

static bool read_lease(json_t *o, const char *mac, struct lease6 *ret)
{
	const char *m = json_string_value(json_object_get(o, "mac-address"));
	const char *ip = json_string_value(json_object_get(o, "ip-address"));
	const char *cid = json_string_value(json_object_get(o, "client-id"));
	const char *sid = json_string_value(json_object_get(o, "server-duid"));
	const char *iaid = json_string_value(json_object_get(o, "iaid"));
	char *end;
	unsigned long v;

	if (!m || !ip || !cid || !sid || !iaid || strcasecmp(m, mac) != 0 ||
	    inet_pton(AF_INET6, ip, &ret->addr) != 1 || !hex_bytes(cid, ret->client,
								   &ret->client_len) ||
	    !hex_bytes(sid, ret->server, &ret->server_len))
		return false;
	errno = 0;
	v = strtoul(iaid, &end, 10);
	if (errno || *end || end == iaid || v > UINT32_MAX)
		return false;
	ret->iaid = (uint32_t)v;
	return true;
}

static uint8_t *put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return p + 2;
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
	p = put16(p, v >> 16);
	return put16(p, v & 0xffff);
}

static uint8_t *put_opt(uint8_t *p, unsigned code, const void *data, size_t len)
{
	p = put16(p, code);
	p = put16(p, (unsigned)len);
	memcpy(p, data, len);
	return p + len;
}

/* The Release for l with transaction id xid; its length. */
static size_t build(const struct lease6 *l, const uint8_t xid[3], uint8_t *buf)
{
	uint8_t *p = buf;

	*p++ = MSG_RELEASE;
	memcpy(p, xid, 3);
	p += 3;
	p = put_opt(p, OPT_CLIENTID, l->client, l->client_len);
	p = put_opt(p, OPT_SERVERID, l->server, l->server_len);
	p = put_opt(p, OPT_ELAPSED_TIME, "\0\0", 2);
	/* IA_NA: IAID, T1 0, T2 0, and one IAADDR with both lifetimes 0 */
	p = put16(p, OPT_IA_NA);
	p = put16(p, 12 + 4 + 24);
	p = put32(p, l->iaid);
	p = put32(p, 0);
	p = put32(p, 0);
	p = put16(p, OPT_IAADDR);
	p = put16(p, 24);
	memcpy(p, &l->addr, 16);
	p += 16;
	p = put32(p, 0);	/* preferred lifetime */
	p = put32(p, 0);	/* valid lifetime */
	return (size_t)(p - buf);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A socket on bridge that sends to the servers' multicast group; bound to the client port
 * when it is free (dnsmasq answers whatever port asked). */
static int open_socket(const char *bridge, unsigned ifindex)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons(CLIENT_PORT) };
	int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0), one = 1, hops = 1;
	int idx = (int)ifindex;

	if (fd < 0)
		return err_set(-errno, "DHCPv6 release: socket: %s", strerror(errno));
	if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, bridge, (socklen_t)strlen(bridge)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &idx, sizeof(idx)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof(hops)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) {
		int e = errno;

		(void)close(fd);
		return err_set(-e, "DHCPv6 release on %s: %s", bridge, strerror(e));
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		sa.sin6_port = 0;
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			int e = errno;

			(void)close(fd);
			return err_set(-e, "DHCPv6 release on %s: bind: %s", bridge, strerror(e));
		}
	}
	return fd;
}

/* Sends the Release and waits a little for dnsmasq's Reply, so that the lease is gone when
 * the call returns (a late answer changes nothing: the Release was sent). */
static int send_release(int fd, unsigned ifindex, const char *bridge, const struct lease6 *l)
{
	struct sockaddr_in6 to = { .sin6_family = AF_INET6, .sin6_port = htons(SERVER_PORT),
				   .sin6_scope_id = ifindex };
	uint8_t buf[512], xid[3];
	size_t len;
	int64_t deadline;

	if (getrandom(xid, sizeof(xid), 0) != (ssize_t)sizeof(xid))
		memcpy(xid, &l->iaid, sizeof(xid));
	len = build(l, xid, buf);
	(void)inet_pton(AF_INET6, "ff02::1:2", &to.sin6_addr);
	if (sendto(fd, buf, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		return err_set(-errno, "DHCPv6 release on %s: %s", bridge, strerror(errno));
	deadline = now_ms() + REPLY_WAIT_MS;
	for (int64_t left; (left = deadline - now_ms()) > 0;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint8_t r[1500];
		ssize_t n;

		if (poll(&p, 1, (int)left) <= 0)
			break;
		n = recv(fd, r, sizeof(r), MSG_DONTWAIT);
		if (n >= 4 && r[0] == MSG_REPLY && memcmp(r + 1, xid, 3) == 0)
			break;
	}
	return 0;
}

/* The leases of mac in the status file of one bridge. */
static int release_on(const char *status_dir, const char *bridge, const char *mac)
{
	char path[PATH_MAX];
	json_error_t je;
	json_t *root, *o;
	unsigned ifindex;
	struct stat st;
	size_t i;
	int fd = -1, r = 0, n = 0;

	if (nl_ifname_validate(bridge) < 0 || strchr(bridge, '/'))
		return err_set(-EINVAL, "bridge \"%s\": not an interface name", bridge);
	if ((size_t)snprintf(path, sizeof(path), "%s/%s.status", status_dir, bridge) >=
	    sizeof(path))
		return err_set(-ENAMETOOLONG, "%s: path too long", status_dir);
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > STATUS_MAX ||
	    !(ifindex = if_nametoindex(bridge)))
		return 0;	/* no leases, or no dnsmasq to tell */
	root = json_load_file(path, 0, &je);
	if (!root) {
		/* an empty file is libvirt's "no leases" too */
		return st.st_size == 0 ? 0
				       : err_set(-EINVAL, "%s: line %d: %s", path, je.line, je.text);
	}
	json_array_foreach(root, i, o) {
		struct lease6 l;

		if (!json_is_object(o) || !read_lease(o, mac, &l))
			continue;
		if (fd < 0 && (fd = open_socket(bridge, ifindex)) < 0) {
			r = fd;
			break;
		}
		if ((r = send_release(fd, ifindex, bridge, &l)) < 0)
			break;
		n++;
	}
	if (fd >= 0)
		(void)close(fd);
	json_decref(root);
	return r < 0 ? r : n;
}

int dhcp6_release_libvirt(const char *status_dir, const char *bridge, const char *mac)
{
	static const char suffix[] = ".status";
	struct dirent *e;
	DIR *dir;
	int r = 0, n = 0;

	if (bridge)
		return release_on(status_dir, bridge, mac);
	dir = opendir(status_dir);
	if (!dir)
		return errno == ENOENT ? 0 : err_set(-errno, "%s: %s", status_dir, strerror(errno));
	while ((e = readdir(dir))) {
		size_t len = strlen(e->d_name), sl = sizeof(suffix) - 1;
		char br[IF_NAMESIZE];
		int k;

		if (len <= sl || len - sl >= sizeof(br) || strcmp(e->d_name + len - sl, suffix) != 0)
			continue;
		(void)snprintf(br, sizeof(br), "%.*s", (int)(len - sl), e->d_name);
		if (nl_ifname_validate(br) < 0) {
			err_clear();
			continue;
		}
		if ((k = release_on(status_dir, br, mac)) < 0) {
			r = k;	/* the others are still told */
			continue;
		}
		n += k;
	}
	(void)closedir(dir);
	return r < 0 ? r : n;
}
