/* pdenv: dhcpcd's and dhclient's hook environments; the prefix choice. networkd's JSON is in
 * pdenv_networkd.c. */
#include "pdenv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "pdenv_int.h"

#define DHCPCD_PD "new_dhcp6_ia_pd"
#define IA_MAX 8

const char *pdenv_client_to_string(enum pdenv_client c)
{
	switch (c) {
	case PDENV_DHCPCD:
		return "dhcpcd";
	case PDENV_DHCLIENT:
		return "dhclient";
	case PDENV_NETWORKD:
		return "systemd-networkd";
	}
	return "?";
}

const char *pdenv_get(const char *const *envp, const char *name)
{
	size_t n = strlen(name);

	for (; envp && *envp; envp++)
		if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
			return *envp + n + 1;
	return NULL;
}

static bool has_var_prefix(const char *const *envp, const char *pre)
{
	for (; envp && *envp; envp++)
		if (strncmp(*envp, pre, strlen(pre)) == 0)
			return true;
	return false;
}

int pdenv_u32(const char *name, const char *v, uint32_t *ret)
{
	char *end;
	unsigned long long x;

	if (!v || v[0] < '0' || v[0] > '9')
		goto bad;
	errno = 0;
	x = strtoull(v, &end, 10);
	if (errno || *end || x > UINT32_MAX)
		goto bad;
	*ret = (uint32_t)x;
	return 0;
bad:
	return err_set(-EINVAL, "%s \"%.40s\": not a number (0..4294967295)", name, v ? v : "");
}

int pdenv_prefix_from(const char *name, const char *addr, unsigned len, struct prefix *ret)
{
	char buf[PREFIX_STRLEN + 8];
	int r;

	(void)snprintf(buf, sizeof(buf), "%.*s/%u", INET6_ADDRSTRLEN, addr, len);
	r = prefix_from_string(strchr(addr, '/') ? addr : buf, ret);
	return r < 0 ? err_wrap(r, "%s", name) : 0;
}

int pdenv_iaid_from_string(const char *s, uint32_t *ret)
{
	unsigned b[4];
	char tail;
	size_t n = s ? strlen(s) : 0;

	if (n == 11 && sscanf(s, "%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &tail) == 4 &&
	    strspn(s, "0123456789abcdefABCDEF:") == n) {
		*ret = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
		return 0;
	}
	if (n == 8 && strspn(s, "0123456789abcdefABCDEF") == 8) {
		*ret = (uint32_t)strtoul(s, NULL, 16);
		return 0;
	}
	if (n > 0 && n <= 10 && strspn(s, "0123456789") == n && pdenv_u32("IAID", s, ret) == 0)
		return 0;
	return err_set(-EINVAL, "IAID \"%.40s\": must be aa:bb:cc:dd, 8 hex digits or a decimal "
				"number",
		       s ? s : "");
}

/* ---- dhcpcd ---- */

struct slot {
	unsigned ia, idx;
	const char *addr;
	char addr_var[64];
	long len;
	int64_t vltime, pltime;
};

struct ia {
	unsigned ia;
	bool has_iaid;
	uint32_t iaid;
};

/* "<digits>" at *p, advancing it. */
static bool take_num(const char **p, unsigned *ret)
{
	char *end;
	unsigned long v;

	if (**p < '0' || **p > '9')
		return false;
	v = strtoul(*p, &end, 10);
	if (v > 1000000)
		return false;
	*p = end;
	*ret = (unsigned)v;
	return true;
}

static struct slot *slot_get(struct slot *v, size_t *n, unsigned ia, unsigned idx)
{
	for (size_t i = 0; i < *n; i++)
		if (v[i].ia == ia && v[i].idx == idx)
			return &v[i];
	if (*n == PDENV_MAX)
		return NULL;
	v[*n] = (struct slot){ .ia = ia, .idx = idx, .len = -1, .vltime = -1, .pltime = -1 };
	return &v[(*n)++];
}

/* One new_dhcp6_ia_pdI_... variable: s is the text after DHCPCD_PD. */
static int dhcpcd_var(const char *var, const char *s, struct slot *slots, size_t *n_slots,
		      struct ia *ias, size_t *n_ias)
{
	const char *eq = strchr(s, '='), *val = eq ? eq + 1 : "";
	unsigned ia, idx;
	struct slot *sl;
	uint32_t u;
	int r;

	if (!eq || !take_num(&s, &ia) || *s != '_')
		return 0;
	s++;
	if (strncmp(s, "iaid=", 5) == 0) {
		if (*n_ias == IA_MAX)
			return err_set(-EINVAL, "%.*s: more than %d IA_PDs", (int)(eq - var), var,
				       IA_MAX);
		if ((r = pdenv_iaid_from_string(val, &u)) < 0)
			return err_wrap(r, "%.*s", (int)(eq - var), var);
		ias[(*n_ias)++] = (struct ia){ .ia = ia, .has_iaid = true, .iaid = u };
		return 0;
	}
	if (strncmp(s, "prefix", 6) != 0)
		return 0;
	s += 6;
	if (!take_num(&s, &idx))
		return 0;
	sl = slot_get(slots, n_slots, ia, idx);
	if (!sl)
		return err_set(-EINVAL, "%.*s: more than %d delegated prefixes", (int)(eq - var),
			       var, PDENV_MAX);
	if (s == eq) {
		sl->addr = val;
		(void)snprintf(sl->addr_var, sizeof(sl->addr_var), "%.*s", (int)(eq - var), var);
		return 0;
	}
	if (strncmp(s, "_length=", 8) != 0 && strncmp(s, "_vltime=", 8) != 0 &&
	    strncmp(s, "_pltime=", 8) != 0)
		return 0;
	{
		char name[96];

		(void)snprintf(name, sizeof(name), "%.*s", (int)(eq - var), var);
		if ((r = pdenv_u32(name, val, &u)) < 0)
			return r;
		if (s[1] == 'l' && u > 128)
			return err_set(-EINVAL, "%s \"%s\": not a prefix length", name, val);
	}
	if (s[1] == 'l')
		sl->len = u;
	else if (s[1] == 'v')
		sl->vltime = u;
	else
		sl->pltime = u;
	return 0;
}

static int dhcpcd_prefixes(const char *const *envp, struct pdenv *ev)
{
	struct slot slots[PDENV_MAX];
	struct ia ias[IA_MAX];
	size_t n_slots = 0, n_ias = 0;
	int r;

	for (const char *const *e = envp; e && *e; e++)
		if (strncmp(*e, DHCPCD_PD, strlen(DHCPCD_PD)) == 0 &&
		    (r = dhcpcd_var(*e, *e + strlen(DHCPCD_PD), slots, &n_slots, ias, &n_ias)) < 0)
			return r;
	for (size_t i = 0; i < n_slots; i++) {
		struct slot *sl = &slots[i];
		struct pdenv_prefix *p = &ev->prefixes[ev->n];

		if (!sl->addr || sl->len < 0 || sl->vltime < 0)
			return err_set(-EINVAL, DHCPCD_PD "%u_prefix%u: needs the prefix, its _length "
						"and its _vltime",
				       sl->ia, sl->idx);
		memset(p, 0, sizeof(*p));
		if ((r = pdenv_prefix_from(sl->addr_var, sl->addr, (unsigned)sl->len,
					   &p->prefix)) < 0)
			return r;
		p->vltime = (uint32_t)sl->vltime;
		p->pltime = sl->pltime < 0 ? p->vltime : (uint32_t)sl->pltime;
		for (size_t k = 0; k < n_ias; k++)
			if (ias[k].ia == sl->ia) {
				p->has_iaid = true;
				p->iaid = ias[k].iaid;
			}
		ev->n++;
	}
	return 0;
}

/* ---- dhclient ---- */

static int dhclient_prefix(const char *const *envp, const char *pre, bool gone, struct pdenv *ev)
{
	char var[32], *name = var;
	const char *v, *iaid;
	struct pdenv_prefix *p = &ev->prefixes[0];
	uint32_t u;
	int r;

	(void)snprintf(var, sizeof(var), "%s_ip6_prefix", pre);
	if (!(v = pdenv_get(envp, var)))
		return 0;
	memset(p, 0, sizeof(*p));
	if (!strchr(v, '/'))
		return err_set(-EINVAL, "%s \"%.60s\": not ADDRESS/LENGTH", var, v);
	if ((r = pdenv_prefix_from(var, v, 0, &p->prefix)) < 0)
		return r;
	if (!gone) {
		(void)snprintf(var, sizeof(var), "%s_max_life", pre);
		if ((r = pdenv_u32(name, pdenv_get(envp, var), &p->vltime)) < 0)
			return r;
		(void)snprintf(var, sizeof(var), "%s_preferred_life", pre);
		v = pdenv_get(envp, var);
		p->pltime = p->vltime;
		if (v && (r = pdenv_u32(name, v, &p->pltime)) < 0)
			return r;
	}
	(void)snprintf(var, sizeof(var), "%s_iaid", pre);
	iaid = pdenv_get(envp, var);
	if (iaid) {
		if ((r = pdenv_iaid_from_string(iaid, &u)) < 0)
			return err_wrap(r, "%s", var);
		p->has_iaid = true;
		p->iaid = u;
	}
	ev->n = 1;
	return 0;
}

/* ---- reasons ---- */

static bool reason_in(const char *reason, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(reason, *list) == 0)
			return true;
	return false;
}

static const char *const bound6[] = { "BOUND6", "RENEW6", "REBIND6", "REBOOT6", NULL };
static const char *const gone6[] = { "EXPIRE6", "RELEASE6", "STOP6", "STOPPED", NULL };

static enum pdenv_client detect(const char *const *envp)
{
	if (pdenv_get(envp, "protocol") || has_var_prefix(envp, "new_dhcp6_ia_pd") ||
	    has_var_prefix(envp, "old_dhcp6_ia_pd") || pdenv_get(envp, "ifcarrier"))
		return PDENV_DHCPCD;
	if (pdenv_get(envp, "new_ip6_prefix") || pdenv_get(envp, "old_ip6_prefix") ||
	    pdenv_get(envp, "cur_ip6_prefix") || pdenv_get(envp, "dad_wait_time") ||
	    pdenv_get(envp, "new_iaid") || pdenv_get(envp, "old_iaid"))
		return PDENV_DHCLIENT;
	return PDENV_DHCPCD;
}

int pdenv_parse(const char *const *envp, uint64_t now_boot_usec, struct pdenv *ret)
{
	struct pdenv *ev;
	const char *reason = pdenv_get(envp, "reason"), *ifname;
	int r;

	if (pdenv_get(envp, PDENV_NETWORKD_VAR) && pdenv_get(envp, "IFACE"))
		return pdenv_networkd(envp, now_boot_usec, ret);
	if (!reason || !reason[0])
		return err_set(-ENOENT, "no DHCPv6 client hook environment: no $reason (dhcpcd, "
					"dhclient) and no $IFACE with $" PDENV_NETWORKD_VAR
					" (networkd-dispatcher)");
	ev = calloc(1, sizeof(*ev));
	if (!ev)
		return err_set(-ENOMEM, "out of memory");
	ev->client = detect(envp);
	(void)snprintf(ev->reason, sizeof(ev->reason), "%s", reason);
	ifname = pdenv_get(envp, "interface");
	if (ifname && strlen(ifname) >= sizeof(ev->interface)) {
		r = err_set(-EINVAL, "interface \"%.40s\": not an interface name", ifname);
		goto out;
	}
	(void)snprintf(ev->interface, sizeof(ev->interface), "%s", ifname ? ifname : "");
	r = 0;
	if (ev->client == PDENV_DHCPCD && reason_in(reason, bound6)) {
		ev->kind = PDENV_REPLACE;
		r = dhcpcd_prefixes(envp, ev);
	} else if (ev->client == PDENV_DHCPCD && reason_in(reason, gone6)) {
		ev->kind = PDENV_REPLACE;
	} else if (ev->client == PDENV_DHCLIENT && reason_in(reason, bound6)) {
		r = dhclient_prefix(envp, "new", false, ev);
		ev->kind = ev->n ? PDENV_UPDATE : PDENV_IGNORE;
	} else if (ev->client == PDENV_DHCLIENT && reason_in(reason, gone6)) {
		r = dhclient_prefix(envp, "old", true, ev);
		ev->kind = ev->n ? PDENV_UPDATE : PDENV_IGNORE;
	}
	if (r == 0)
		*ret = *ev;
out:
	free(ev);
	return r;
}

/* ---- filter, merge, choice ---- */

bool pdenv_filter_apply(struct pdenv *ev, const struct pdenv_filter *f)
{
	size_t k = 0;

	if (f->interface && f->interface[0] && strcmp(f->interface, ev->interface) != 0)
		return false;
	for (size_t i = 0; i < ev->n; i++)
		if (!f->has_iaid || !ev->prefixes[i].has_iaid || ev->prefixes[i].iaid == f->iaid)
			ev->prefixes[k++] = ev->prefixes[i];
	ev->n = k;
	return true;
}

static bool prefix_same(const struct prefix *a, const struct prefix *b)
{
	return a->len == b->len && memcmp(&a->addr, &b->addr, sizeof(a->addr)) == 0;
}

static void known_drop(struct pdenv_known *known, size_t *n, size_t i)
{
	known[i] = known[--*n];
}

void pdenv_merge(struct pdenv_known *known, size_t *n, const struct pdenv *ev, int64_t now)
{
	for (size_t i = *n; i-- > 0;)
		if (known[i].valid_until <= now ||
		    (ev->kind == PDENV_REPLACE && strcmp(known[i].interface, ev->interface) == 0))
			known_drop(known, n, i);
	if (ev->kind == PDENV_IGNORE)
		return;
	for (size_t k = 0; k < ev->n; k++) {
		const struct pdenv_prefix *p = &ev->prefixes[k];
		size_t i;

		for (i = 0; i < *n; i++)
			if (prefix_same(&known[i].prefix, &p->prefix) &&
			    strcmp(known[i].interface, ev->interface) == 0)
				break;
		if (p->vltime == 0) {
			if (i < *n)
				known_drop(known, n, i);
			continue;
		}
		if (i == *n) {
			if (*n == PDENV_KNOWN_MAX)
				continue;
			(*n)++;
		}
		memset(&known[i], 0, sizeof(known[i]));
		(void)snprintf(known[i].interface, sizeof(known[i].interface), "%s", ev->interface);
		known[i].prefix = p->prefix;
		known[i].valid_until = p->vltime == UINT32_MAX ? INT64_MAX : now + p->vltime;
		known[i].preferred_until = p->pltime == UINT32_MAX ? INT64_MAX : now + p->pltime;
	}
}

int pdenv_choose(const struct pdenv_known *known, size_t n, const struct prefix *current,
		 int64_t now, struct prefix *ret)
{
	const struct pdenv_known *best = NULL;

	for (size_t i = 0; i < n; i++) {
		const struct pdenv_known *k = &known[i];

		if (k->valid_until <= now)
			continue;
		if (current && prefix_same(&k->prefix, current)) {
			*ret = k->prefix;
			return 1;
		}
		if (!best || k->valid_until > best->valid_until ||
		    (k->valid_until == best->valid_until &&
		     (memcmp(&k->prefix.addr, &best->prefix.addr, sizeof(k->prefix.addr)) < 0 ||
		      (memcmp(&k->prefix.addr, &best->prefix.addr, sizeof(k->prefix.addr)) == 0 &&
		       k->prefix.len < best->prefix.len))))
			best = k;
	}
	if (!best)
		return 0;
	*ret = best->prefix;
	return 1;
}
