/* dnsmasq: the one v6pd dnsmasq of a state directory and the interfaces it serves (the
 * reservations are in dnsmasq_hosts.c). See dnsmasq.h for what dnsmasq 2.90 was measured to
 * do; the comments here say why. */
#include "dnsmasq.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "dnsmasq_int.h"
#include "err.h"
#include "netlink.h"
#include "store.h"

#define RA_INTERVAL 10
#define RA_LIFETIME 600
#define STATE_FILE_MAX (1 << 20)

/* ---- input ---- */

/* A pattern "PREFIX*" stands for every interface whose name starts with PREFIX, present and
 * future: dnsmasq's own wildcard (a trailing '*') in interface=, ra-param= and a DHCPv6
 * constructor. With bind-dynamic it follows links and addresses as they come, so a new
 * interface matching a served pattern is served with no restart. */
static bool is_pattern(const char *iface)
{
	size_t n = strlen(iface);

	return n > 0 && iface[n - 1] == '*';
}

static int check_iface(const char *iface)
{
	char name[NL_IFNAMSIZ + 1];
	int r;

	if (iface && is_pattern(iface)) {
		/* the prefix must itself be an interface name: nothing else may be matched */
		(void)snprintf(name, sizeof(name), "%.*s", (int)strlen(iface) - 1, iface);
		if ((r = nl_ifname_validate(name)) < 0)
			return err_wrap(r, "interface pattern \"%s\"", iface);
	} else if ((r = nl_ifname_validate(iface)) < 0) {
		return r;
	}
	/* the kernel allows these; dnsmasq's option parser would split or cut the line there */
	if (strcspn(iface, ",#*=\"'\\") < strlen(iface) - is_pattern(iface))
		return err_set(-EINVAL, "interface name \"%s\": dnsmasq cannot serve a name with "
			       "',', '#', '*' (but a final one: a pattern), '=', quotes or '\\'",
			       iface);
	return 0;
}

/* Whether pattern (or name) serves iface. */
static bool iface_covers(const char *pattern, const char *iface)
{
	size_t n = strlen(pattern);

	if (!is_pattern(pattern))
		return strcmp(pattern, iface) == 0;
	return strncmp(pattern, iface, n - 1) == 0;
}

/* ---- the served set: state_dir/dnsmasq/interfaces ---- */

struct entry {
	char iface[NL_IFNAMSIZ + 1];	/* a name or a pattern "PREFIX*" */
	char network[STORE_NAME_MAX];
	unsigned prefixlen;
	struct in6_addr slice;		/* :: for a /64 (constructor) */
	bool off_link;
	struct in6_addr dns[DNSMASQ_DNS_MAX];
	size_t n_dns;
};

struct set {
	struct entry *v;
	size_t n;
};

static bool entry_eq(const struct entry *a, const struct entry *b)
{
	return strcmp(a->iface, b->iface) == 0 && strcmp(a->network, b->network) == 0 &&
	       a->prefixlen == b->prefixlen && IN6_ARE_ADDR_EQUAL(&a->slice, &b->slice) &&
	       a->off_link == b->off_link &&
	       a->n_dns == b->n_dns && memcmp(a->dns, b->dns, a->n_dns * sizeof(a->dns[0])) == 0;
}

static int entry_from_link(const struct dnsmasq_link *l, struct entry *ret)
{
	struct entry e = { 0 };
	int r;

	if (!l)
		return err_set(-EINVAL, "dnsmasq: no interface given");
	if ((r = config_check_name(l->network)) < 0)
		return err_wrap(r, "network");
	if ((r = check_iface(l->iface)) < 0)
		return r;
	if (l->prefixlen < 64 || l->prefixlen > 120)
		return err_set(-EINVAL, "interface \"%s\": prefix length %u: must be 64..120",
			       l->iface, l->prefixlen);
	if (l->n_dns > DNSMASQ_DNS_MAX || (l->n_dns && !l->dns))
		return err_set(-EINVAL, "interface \"%s\": %zu DNS servers: at most %d", l->iface,
			       l->n_dns, DNSMASQ_DNS_MAX);
	if (l->prefixlen != 64) {
		char a[INET6_ADDRSTRLEN];

		e.slice = l->slice;
		for (unsigned b = l->prefixlen; b < 128; b++)
			e.slice.s6_addr[b / 8] &= (uint8_t)~(0x80 >> (b % 8));
		if (IN6_IS_ADDR_UNSPECIFIED(&e.slice) || IN6_IS_ADDR_LINKLOCAL(&e.slice))
			return err_set(-EINVAL, "interface \"%s\": a /%u slice needs its prefix, "
				       "not %s (dnsmasq builds ranges from an interface's "
				       "addresses for /64 only)", l->iface, l->prefixlen,
				       inet_ntop(AF_INET6, &l->slice, a, sizeof(a)));
	}
	(void)snprintf(e.iface, sizeof(e.iface), "%s", l->iface);
	(void)snprintf(e.network, sizeof(e.network), "%s", l->network);
	e.prefixlen = l->prefixlen;
	e.off_link = l->off_link;
	e.n_dns = l->n_dns;
	if (l->n_dns)
		memcpy(e.dns, l->dns, l->n_dns * sizeof(e.dns[0]));
	*ret = e;
	return 0;
}

static int set_add(struct set *s, const struct entry *e)
{
	struct entry *v = realloc(s->v, (s->n + 1) * sizeof(*v));

	if (!v)
		return err_set(-ENOMEM, "out of memory");
	v[s->n++] = *e;
	s->v = v;
	return 0;
}

static int set_copy(const struct set *s, struct set *ret)
{
	struct set c = { 0 };

	if (s->n && !(c.v = malloc(s->n * sizeof(*c.v))))
		return err_set(-ENOMEM, "out of memory");
	if (s->n)
		memcpy(c.v, s->v, s->n * sizeof(*c.v));
	c.n = s->n;
	*ret = c;
	return 0;
}

static ssize_t set_find(const struct set *s, const char *iface)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].iface, iface) == 0)
			return (ssize_t)i;
	return -1;
}

/* One line per interface: IFACE NETWORK SLICE/LEN on-link|off-link DNS,...|-
 * (SLICE is :: for a /64, served by a constructor) */
static int set_parse_line(char *line, struct entry *ret)
{
	char *f[5], *save = NULL, *save2 = NULL;
	struct dnsmasq_link l = { 0 };
	struct in6_addr a[DNSMASQ_DNS_MAX];
	char *end;
	long len;
	int n = 0;

	for (char *t = strtok_r(line, " ", &save); t; t = strtok_r(NULL, " ", &save))
		if (n < 5)
			f[n++] = t;
		else
			return -EINVAL;
	if (n != 5)
		return -EINVAL;
	if (!(end = strchr(f[2], '/')))
		return -EINVAL;
	*end++ = '\0';
	if (inet_pton(AF_INET6, f[2], &l.slice) != 1)
		return -EINVAL;
	errno = 0;
	len = strtol(end, &end, 10);
	if (errno || *end || len < 0 || len > 128)
		return -EINVAL;
	l.network = f[1];
	l.iface = f[0];
	l.prefixlen = (unsigned)len;
	if (strcmp(f[3], "off-link") == 0)
		l.off_link = true;
	else if (strcmp(f[3], "on-link") != 0)
		return -EINVAL;
	l.dns = a;
	if (strcmp(f[4], "-") != 0)
		for (char *t = strtok_r(f[4], ",", &save2); t; t = strtok_r(NULL, ",", &save2)) {
			if (l.n_dns == DNSMASQ_DNS_MAX || inet_pton(AF_INET6, t, &a[l.n_dns]) != 1)
				return -EINVAL;
			l.n_dns++;
		}
	return entry_from_link(&l, ret);
}

static int set_read(const struct paths *p, struct set *ret)
{
	struct set s = { 0 };
	char *buf = NULL, *save = NULL;
	unsigned lineno = 0;
	int r = dm_read_file(p->set, STATE_FILE_MAX, &buf, NULL);

	if (r == -ENOENT) {
		*ret = s;
		return 0;
	}
	if (r < 0)
		return r;
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct entry e;

		lineno++;
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if ((r = set_parse_line(line, &e)) < 0) {
			r = err_set(-EINVAL, "%s: line %u is damaged; fix or delete the file",
				    p->set, lineno);
			goto errout;
		}
		if (set_find(&s, e.iface) < 0 && (r = set_add(&s, &e)) < 0)
			goto errout;
	}
	*ret = s;
	s.v = NULL;
errout:
	free(s.v);
	free(buf);
	return r;
}

static int set_write(const struct paths *p, const struct set *s)
{
	struct text t = { 0 };
	int r = dm_text_addf(&t, "# v6pd: the interfaces its dnsmasq serves\n");

	for (size_t i = 0; r == 0 && i < s->n; i++) {
		const struct entry *e = &s->v[i];
		char a[INET6_ADDRSTRLEN];

		r = dm_text_addf(&t, "%s %s %s/%u %s ", e->iface, e->network,
			         inet_ntop(AF_INET6, &e->slice, a, sizeof(a)), e->prefixlen,
			         e->off_link ? "off-link" : "on-link");
		for (size_t k = 0; r == 0 && k < e->n_dns; k++)
			r = dm_text_addf(&t, "%s%s", k ? "," : "",
				         inet_ntop(AF_INET6, &e->dns[k], a, sizeof(a)));
		if (r == 0)
			r = dm_text_addf(&t, "%s\n", e->n_dns ? "" : "-");
	}
	if (r == 0)
		r = dm_write_atomic(p->dir, "interfaces", t.buf, t.len, 0644, true);
	free(t.buf);
	return r;
}

int dm_served_count(const struct paths *p)
{
	struct set s;
	int r = set_read(p, &s);

	free(s.v);
	return r < 0 ? r : (int)s.n;
}

/* ---- the configuration ---- */

static int conf_write(const struct paths *p, const struct set *s)
{
	struct text t = { 0 };
	char hosts[PATH_MAX], a[INET6_ADDRSTRLEN];
	int r;

	r = dm_text_addf(&t, "# Generated by v6pd for %s; rewritten whenever the set of served "
		         "interfaces changes.\n"
		         "port=0\nno-resolv\nno-hosts\nbind-dynamic\nenable-ra\nquiet-ra\n"
		         "pid-file=%s\ndhcp-leasefile=%s\nlog-facility=%s\n",
		         p->state_dir, p->pid, p->leases, p->log);
	for (size_t i = 0; r == 0 && i < s->n; i++) {
		bool seen = false;

		for (size_t k = 0; k < i; k++)
			seen |= strcmp(s->v[k].network, s->v[i].network) == 0;
		if (seen)
			continue;
		if ((r = dnsmasq_hosts_dir(p->state_dir, s->v[i].network, hosts,
					   sizeof(hosts))) < 0 ||
		    (r = dm_ensure_dir(hosts, 0755)) < 0)
			break;
		r = dm_text_addf(&t, "dhcp-hostsdir=%s\n", hosts);
	}
	for (size_t i = 0; r == 0 && i < s->n; i++) {
		const struct entry *e = &s->v[i];
		bool dup = false, pat = is_pattern(e->iface);
		/* The tag of the interface's DHCPv6 replies and RAs, for its options: dnsmasq
		 * tags them with the interface's name; a pattern's range sets a tag of its own,
		 * "v6pd:PREFIX" (no interface name holds a ':'). */
		char tag[NL_IFNAMSIZ + 8];

		(void)snprintf(tag, sizeof(tag), "%s%.*s", pat ? "v6pd:" : "",
			       (int)(strlen(e->iface) - pat), e->iface);
		r = dm_text_addf(&t, "interface=%s\nra-param=%s,%d,%d\n", e->iface, e->iface,
			         RA_INTERVAL, RA_LIFETIME);
		/* static: addresses nobody reserved are never handed out. A constructor follows
		 * the interface's addresses, a renumbered slice included, but takes /64 only;
		 * a fixed range serves every interface with an address in it, so once. */
		if (r == 0 && e->prefixlen == 64)
			r = dm_text_addf(&t, "dhcp-range=%s%s%s::,constructor:%s,static%s,64,%s\n",
				         pat ? "set:" : "", pat ? tag : "", pat ? "," : "", e->iface,
				         e->off_link ? ",off-link" : "", DNSMASQ_LEASE_TIME);
		for (size_t k = 0; k < i && e->prefixlen != 64; k++)
			dup |= s->v[k].prefixlen == e->prefixlen && s->v[k].off_link == e->off_link &&
			       IN6_ARE_ADDR_EQUAL(&s->v[k].slice, &e->slice);
		if (r == 0 && e->prefixlen != 64 && !dup)
			r = dm_text_addf(&t, "dhcp-range=%s%s%s%s,static%s,%u,%s\n",
				         pat ? "set:" : "", pat ? tag : "", pat ? "," : "",
				         inet_ntop(AF_INET6, &e->slice, a, sizeof(a)),
				         e->off_link ? ",off-link" : "", e->prefixlen, DNSMASQ_LEASE_TIME);
		if (r == 0 && e->n_dns) {
			r = dm_text_addf(&t, "dhcp-option=tag:%s,option6:dns-server", tag);
			for (size_t k = 0; r == 0 && k < e->n_dns; k++)
				r = dm_text_addf(&t, ",[%s]",
					         inet_ntop(AF_INET6, &e->dns[k], a, sizeof(a)));
			if (r == 0)
				r = dm_text_addf(&t, "\n");
		}
	}
	if (r == 0)
		r = dm_write_atomic(p->dir, "dnsmasq.conf", t.buf, t.len, 0644, true);
	free(t.buf);
	return r;
}

/* Moves dnsmasq from serving old to serving new (pid: the running one, 0 for none). On
 * failure the old configuration is put back and started again, and the message is that of
 * the failure. */
static int apply(const struct paths *p, const struct set *old, const struct set *new, pid_t pid)
{
	int r;

	if ((r = conf_write(p, new)) < 0)
		return r;
	if ((r = dm_stop_all(p, pid)) < 0)
		return r;
	if (new->n == 0)
		return 0;
	if ((r = dm_spawn_dnsmasq(p)) == 0)
		return 0;
	{
		char msg[1024];

		(void)snprintf(msg, sizeof(msg), "%s", err_msg(r));
		if (old->n && conf_write(p, old) == 0)
			(void)dm_spawn_dnsmasq(p);
		return err_set(r, "%s", msg);
	}
}

/* ---- public ---- */

int dnsmasq_serve_link(const char *state_dir, const struct dnsmasq_link *l)
{
	struct set old = { 0 }, new = { 0 };
	struct entry e;
	struct paths p;
	char hosts[PATH_MAX];
	ssize_t i;
	pid_t pid;
	int r, fd = -1;

	if ((r = entry_from_link(l, &e)) < 0 || (r = dm_paths_init(state_dir, &p)) < 0 ||
	    (r = dm_lock_take(&p, &fd)) < 0)
		return r;
	if ((r = set_read(&p, &old)) < 0)
		goto out;
	pid = dm_running_pid(&p);
	i = set_find(&old, e.iface);
	if (i >= 0 && entry_eq(&old.v[i], &e) && pid)
		goto out;
	/* dnsmasq (re)starts: its reservations directory must be there (and reachable) */
	if ((r = dnsmasq_hosts_dir_ensure(state_dir, e.network, hosts, sizeof(hosts))) < 0 ||
	    (r = set_copy(&old, &new)) < 0)
		goto out;
	/* a pattern serves the interfaces it matches: their own entries go (an older v6pd
	 * served each tap by name) */
	for (size_t k = new.n; is_pattern(e.iface) && k-- > 0;)
		if (strcmp(new.v[k].iface, e.iface) != 0 && iface_covers(e.iface, new.v[k].iface))
			new.v[k] = new.v[--new.n];
	i = set_find(&new, e.iface);
	if (i >= 0)
		new.v[i] = e;
	else if ((r = set_add(&new, &e)) < 0)
		goto out;
	if ((r = apply(&p, &old, &new, pid)) < 0)
		goto out;
	r = set_write(&p, &new);
out:
	free(old.v);
	free(new.v);
	dm_lock_release(fd);
	return r;
}

/* prefix length and address of the first global address on iface; length 0 when it has
 * none (or does not exist) */
static int iface_slice(const char *iface, unsigned *ret_len, struct in6_addr *ret_addr)
{
	struct ifaddrs *ifa = NULL;
	unsigned len = 0;

	if (getifaddrs(&ifa) < 0)
		return err_set(-errno, "getifaddrs: %s", strerror(errno));
	for (struct ifaddrs *i = ifa; i && !len; i = i->ifa_next) {
		const struct in6_addr *a, *m;

		if (!i->ifa_addr || !i->ifa_netmask || i->ifa_addr->sa_family != AF_INET6 ||
		    strcmp(i->ifa_name, iface) != 0)
			continue;
		a = &((const struct sockaddr_in6 *)(const void *)i->ifa_addr)->sin6_addr;
		m = &((const struct sockaddr_in6 *)(const void *)i->ifa_netmask)->sin6_addr;
		if (IN6_IS_ADDR_LINKLOCAL(a) || IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_MULTICAST(a))
			continue;
		for (int b = 0; b < 128; b++)
			if (m->s6_addr[b / 8] & (0x80 >> (b % 8)))
				len++;
		*ret_addr = *a;
	}
	freeifaddrs(ifa);
	*ret_len = len;
	return 0;
}

int dnsmasq_serve(const char *state_dir, const char *network, const char *iface)
{
	struct dnsmasq_link l = { .network = network, .iface = iface, .prefixlen = 64 };
	char path[64 + NL_IFNAMSIZ];
	struct stat st;
	unsigned len = 0;
	int r;

	if ((r = check_iface(iface)) < 0 || (r = iface_slice(iface, &len, &l.slice)) < 0)
		return r;
	if (len)
		l.prefixlen = len;
	(void)snprintf(path, sizeof(path), "/sys/class/net/%s/bridge", iface);
	l.off_link = stat(path, &st) < 0;
	return dnsmasq_serve_link(state_dir, &l);
}

int dnsmasq_unserve(const char *state_dir, const char *iface)
{
	struct set old = { 0 }, new = { 0 };
	struct paths p;
	ssize_t i;
	pid_t pid;
	int r, fd = -1;

	if ((r = check_iface(iface)) < 0 || (r = dm_paths_init(state_dir, &p)) < 0 ||
	    (r = dm_lock_take(&p, &fd)) < 0)
		return r;
	if ((r = set_read(&p, &old)) < 0 || (i = set_find(&old, iface)) < 0)
		goto out;
	if ((r = set_copy(&old, &new)) < 0)
		goto out;
	new.v[i] = new.v[--new.n];
	pid = dm_running_pid(&p);
	if ((r = apply(&p, &old, &new, pid)) < 0)
		goto out;
	r = set_write(&p, &new);
out:
	free(old.v);
	free(new.v);
	dm_lock_release(fd);
	return r;
}

int dnsmasq_pid(const char *state_dir)
{
	struct paths p;
	int r = dm_paths_init(state_dir, &p);

	return r < 0 ? r : (int)dm_running_pid(&p);
}

int dnsmasq_stop(const char *state_dir)
{
	struct set none = { 0 };
	struct paths p;
	pid_t pid;
	int r, fd = -1;

	if ((r = dm_paths_init(state_dir, &p)) < 0)
		return r;
	if (access(p.dir, F_OK) < 0)
		return 0;
	if ((r = dm_lock_take(&p, &fd)) < 0)
		return r;
	pid = dm_running_pid(&p);
	if ((r = dm_stop_all(&p, pid)) == 0 && (r = set_write(&p, &none)) == 0)
		r = pid ? 1 : 0;
	dm_lock_release(fd);
	return r;
}
