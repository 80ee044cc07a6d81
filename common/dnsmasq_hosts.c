/* dnsmasq_hosts: the reservations (one file per MAC in a directory dnsmasq watches), the
 * DHCPv6 leases our dnsmasq must forget when a guest goes, and reloading a dnsmasq that reads
 * the reservations. See dnsmasq.h for what dnsmasq 2.90 was measured to do. */
#include "dnsmasq.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "dnsmasq_int.h"
#include "err.h"
#include "store.h"

#define LEASE_FILE_MAX (64 << 20)
#define HOST_FILE_MAX 4096

/* aa:bb:cc:dd:ee:ff in either case, to lower case */
static int mac_normalize(const char *mac, char ret[STORE_MAC_MAX])
{
	static const char hex[] = "0123456789abcdef";
	char out[STORE_MAC_MAX];

	if (!mac || strlen(mac) != 17)
		goto bad;
	for (int i = 0; i < 17; i++) {
		char c = mac[i];

		if (i % 3 == 2) {
			if (c != ':')
				goto bad;
			out[i] = ':';
			continue;
		}
		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!strchr(hex, c) || c == '\0')
			goto bad;
		out[i] = c;
	}
	out[17] = '\0';
	memcpy(ret, out, sizeof(out));
	return 0;
bad:
	return err_set(-EINVAL, "MAC \"%s\": must be aa:bb:cc:dd:ee:ff", mac ? mac : "");
}

static bool host_label_ok(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n <= 63 && name[0] != '-' && name[n - 1] != '-' &&
	       strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") == n;
}

int dnsmasq_hosts_dir(const char *state_dir, const char *network, char *buf, size_t size)
{
	int r;

	if ((r = dm_check_state_dir(state_dir)) < 0)
		return r;
	if ((r = config_check_name(network)) < 0)
		return err_wrap(r, "network");
	return dm_pathf(buf, size, "%s/" DM_HOSTS_SUBDIR "/%s", state_dir, network);
}

int dnsmasq_hosts_dir_ensure(const char *state_dir, const char *network, char *buf,
			     size_t size)
{
	char top[PATH_MAX];
	int r;

	if ((r = dnsmasq_hosts_dir(state_dir, network, buf, size)) < 0 ||
	    (r = dm_ensure_state_dir(state_dir)) < 0 ||
	    (r = dm_pathf(top, sizeof(top), "%s/" DM_HOSTS_SUBDIR, state_dir)) < 0 ||
	    (r = dm_ensure_dir(top, 0755)) < 0)
		return r;
	return dm_ensure_dir(buf, 0755);
}

/* SIGHUP to our dnsmasq, when one runs: it drops records of changed or removed files. */
static void hup(const char *state_dir)
{
	struct paths p;
	pid_t pid;

	if (dm_paths_init(state_dir, &p) < 0) {
		err_clear();
		return;
	}
	if ((pid = dm_running_pid(&p)) > 0)
		(void)kill(pid, SIGHUP);
}

int dnsmasq_host_put(const char *state_dir, const char *network, const char *mac,
		     const struct in6_addr *addr, const char *name)
{
	char dir[PATH_MAX], path[PATH_MAX], m[STORE_MAC_MAX], a[INET6_ADDRSTRLEN], line[400];
	char *old = NULL;
	bool existed;
	int r;

	if ((r = mac_normalize(mac, m)) < 0)
		return r;
	if (!addr)
		return err_set(-EINVAL, "reservation for %s: no address", m);
	if ((r = dnsmasq_hosts_dir(state_dir, network, dir, sizeof(dir))) < 0 ||
	    (r = dm_pathf(path, sizeof(path), "%s/%s", dir, m)) < 0)
		return r;
	(void)inet_ntop(AF_INET6, addr, a, sizeof(a));
	(void)snprintf(line, sizeof(line), "%s,[%s]%s%s\n", m, a, name && host_label_ok(name) ?
		       "," : "", name && host_label_ok(name) ? name : "");
	r = dm_read_file(path, HOST_FILE_MAX, &old, NULL);
	if (r < 0 && r != -ENOENT && r != -ENOTDIR)
		return r;
	existed = r == 0;
	if (existed && strcmp(old, line) == 0) {
		free(old);
		return 0;
	}
	free(old);
	/* Not durable (no fsync): the file is derived from the store, and every prepare and
	 * start that finds it different (or missing) rewrites it, so whatever a power loss
	 * leaves (the old file, the new one, an empty one) is repaired when the guests start
	 * again, before any of them asks for its address. An fsync would cost two disk flushes
	 * per interface on every `virsh start`. The directories are made (and their modes
	 * checked) when the write finds them missing. */
	r = dm_write_atomic(dir, m, line, strlen(line), 0644, false);
	if (r == -ENOENT) {
		err_clear();
		if ((r = dnsmasq_hosts_dir_ensure(state_dir, network, dir, sizeof(dir))) == 0)
			r = dm_write_atomic(dir, m, line, strlen(line), 0644, false);
	}
	if (r < 0)
		return r;
	if (!existed)
		return 0;
	hup(state_dir);
	return 1;
}

/* The address of a reservation line "mac,[addr]..." */
static int host_line_addr(const char *line, struct in6_addr *ret)
{
	const char *b = strchr(line, '['), *e = b ? strchr(b, ']') : NULL;
	char a[INET6_ADDRSTRLEN];

	if (!b || !e || (size_t)(e - b - 1) >= sizeof(a))
		return -EINVAL;
	memcpy(a, b + 1, (size_t)(e - b - 1));
	a[e - b - 1] = '\0';
	return inet_pton(AF_INET6, a, ret) == 1 ? 0 : -EINVAL;
}

int dnsmasq_host_unlink(const char *state_dir, const char *network, const char *mac,
			struct in6_addr *ret_addr)
{
	char dir[PATH_MAX], path[PATH_MAX], m[STORE_MAC_MAX];
	struct in6_addr addr = IN6ADDR_ANY_INIT;
	char *line = NULL;
	int r;

	if ((r = mac_normalize(mac, m)) < 0 ||
	    (r = dnsmasq_hosts_dir(state_dir, network, dir, sizeof(dir))) < 0 ||
	    (r = dm_pathf(path, sizeof(path), "%s/%s", dir, m)) < 0)
		return r;
	r = dm_read_file(path, HOST_FILE_MAX, &line, NULL);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (host_line_addr(line, &addr) < 0)
		addr = in6addr_any;
	free(line);
	/* no fsync of the directory: see dnsmasq_host_put(). A removal a power loss undoes
	 * leaves the reservation of a lease that is still reserved for that MAC. */
	if (unlink(path) < 0)
		return errno == ENOENT ? 0 : err_set(-errno, "%s: %s", path, strerror(errno));
	hup(state_dir);
	if (ret_addr)
		*ret_addr = addr;
	return 1;
}

static bool addr_in(const struct in6_addr *a, const struct in6_addr *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!IN6_IS_ADDR_UNSPECIFIED(&v[i]) && IN6_ARE_ADDR_EQUAL(a, &v[i]))
			return true;
	return false;
}

/* Counts (dry) or drops the DHCPv6 leases on any of addrs in dnsmasq's lease file: lines
 * "EXPIRY IAID ADDR NAME CLIENT-ID" after "duid SERVER-DUID"; IPv4 lines have a MAC in the
 * second field and never parse as an IPv6 address in the third. */
static int leases_drop(const struct paths *p, const struct in6_addr *addrs, size_t n,
		       bool dry)
{
	struct text t = { 0 };
	char *buf = NULL, *save = NULL;
	int r = dm_read_file(p->leases, LEASE_FILE_MAX, &buf, NULL), found = 0;

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	for (char *line = strtok_r(buf, "\n", &save); line && r == 0;
	     line = strtok_r(NULL, "\n", &save)) {
		char copy[512], *f[3] = { 0 }, *s2 = NULL;
		struct in6_addr a;
		int k = 0;

		(void)snprintf(copy, sizeof(copy), "%s", line);
		for (char *tok = strtok_r(copy, " ", &s2); tok && k < 3; tok = strtok_r(NULL, " ", &s2))
			f[k++] = tok;
		if (k == 3 && inet_pton(AF_INET6, f[2], &a) == 1 && addr_in(&a, addrs, n)) {
			found++;
			continue;
		}
		if (!dry)
			r = dm_text_addf(&t, "%s\n", line);
	}
	if (r == 0 && !dry && found)
		r = dm_write_atomic(p->dir, "leases", t.buf ? t.buf : "", t.len, 0644, true);
	free(t.buf);
	free(buf);
	return r < 0 ? r : found;
}

/* dnsmasq keeps its leases in memory and rewrites the file from them: stop it, drop them,
 * start it again (when it serves anything). Under the lock. */
static int leases_restart(const struct paths *p, pid_t pid, const struct in6_addr *addrs,
			  size_t n)
{
	int r;

	if ((r = dm_stop_all(p, pid)) < 0 || (r = leases_drop(p, addrs, n, false)) < 0 ||
	    (r = dm_served_count(p)) <= 0)
		return r;
	return dm_spawn_dnsmasq(p);
}

/* In the detached process of dnsmasq_leases_forget(): nobody waits for it, so a failure goes
 * to the log dnsmasq writes too. */
static void log_failure(const struct paths *p, int r)
{
	int fd = open(p->log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);

	if (fd < 0)
		return;
	(void)dprintf(fd, "v6pd: restarting dnsmasq to drop DHCPv6 leases failed: %s\n",
		      err_msg(r));
	(void)close(fd);
}

int dnsmasq_leases_forget(const char *state_dir, const struct in6_addr *addrs, size_t n,
			  bool wait)
{
	struct paths p;
	int r, found, fd = -1;
	pid_t pid;

	if (n == 0)
		return 0;
	if ((r = dm_paths_init(state_dir, &p)) < 0)
		return r;
	if (access(p.lock, F_OK) < 0)		/* no dnsmasq of ours ever ran here */
		return 0;
	if ((r = dm_lock_take(&p, &fd)) < 0)
		return r;
	if ((found = r = leases_drop(&p, addrs, n, true)) <= 0)
		goto out;
	pid = dm_running_pid(&p);
	if (!wait) {
		/* the worker inherits the locked descriptor: the lock is its until it exits */
		r = dm_detach(fd);
		if (r == 0)
			goto out;
		if (r > 0) {
			if ((r = leases_restart(&p, pid, addrs, n)) < 0)
				log_failure(&p, r);
			_exit(r < 0 ? 1 : 0);
		}
		err_clear();		/* could not detach: do it here */
	}
	r = leases_restart(&p, pid, addrs, n);
out:
	dm_lock_release(fd);
	return r < 0 ? r : found;
}

int dnsmasq_host_remove(const char *state_dir, const char *network, const char *mac)
{
	struct in6_addr addr;
	int r = dnsmasq_host_unlink(state_dir, network, mac, &addr);

	if (r <= 0)
		return r;
	r = dnsmasq_leases_forget(state_dir, &addr, 1, true);
	return r < 0 ? r : 1;
}

int dnsmasq_reload(const char *pid_file)
{
	pid_t pid = pid_file ? dm_read_pid(pid_file) : 0;

	if (!pid || !dm_proc_alive(pid) || !dm_proc_is_dnsmasq(pid, NULL))
		return 0;
	if (kill(pid, SIGHUP) < 0)
		return errno == ESRCH ? 0 : err_set(-errno, "SIGHUP to dnsmasq (pid %d): %s",
						    (int)pid, strerror(errno));
	return 1;
}

int dnsmasq_reload_libvirt(const char *network)
{
	char path[sizeof(DNSMASQ_LIBVIRT_PID_DIR) + STORE_NAME_MAX + 8];
	int r;

	if (!network || !network[0] || strchr(network, '/') || strcmp(network, ".") == 0 ||
	    strcmp(network, "..") == 0)
		return err_set(-EINVAL, "libvirt network name \"%s\": not a file name",
			       network ? network : "");
	if ((r = dm_pathf(path, sizeof(path), DNSMASQ_LIBVIRT_PID_DIR "/%s.pid", network)) < 0)
		return r;
	return dnsmasq_reload(path);
}
