/* DNS names: templates, zones, ip6.arpa names (RFC 3596 section 2.5). Pure: no I/O. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dns.h"
#include "dns_int.h"
#include "err.h"
#include "store_int.h"

#define NAME_TEXT_MAX 253	/* RFC 1035 2.3.4: 255 octets on the wire */
#define LABEL_MAX 63

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Host names (RFC 952/1123) plus '_' (service labels, Podman's names): what v6pd writes. */
static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Checks a relative or absolute name already lower-cased in buf (no trailing dot). */
static int check_labels(const char *what, const char *buf)
{
	char q[ERR_QUOTE_BUFLEN];
	size_t len = strlen(buf), label = 0;

	if (len == 0)
		return err_set(-EINVAL, "%s: empty name", what);
	if (len > NAME_TEXT_MAX)
		return err_set(-EINVAL, "%s \"%s\": longer than %d characters", what,
			       err_quote(buf, q), NAME_TEXT_MAX);
	for (size_t i = 0; i <= len; i++) {
		char c = buf[i];

		if (c == '.' || c == '\0') {
			if (label == 0)
				return err_set(-EINVAL, "%s \"%s\": empty label", what,
					       err_quote(buf, q));
			label = 0;
			continue;
		}
		if (!name_char(c))
			return err_set(-EINVAL, "%s \"%s\": '%c' is not allowed in a DNS name (letters, "
						"digits, '-', '_' and '.' between labels)",
				       what, err_quote(buf, q), c >= 0x20 && c < 0x7f ? c : '?');
		if (++label > LABEL_MAX)
			return err_set(-EINVAL, "%s \"%s\": a label is longer than %d characters", what,
				       err_quote(buf, q), LABEL_MAX);
	}
	return 0;
}

int dns_name_normalize(const char *what, const char *in, char ret[DNS_NAME_MAX])
{
	char buf[DNS_NAME_MAX], q[ERR_QUOTE_BUFLEN];
	size_t len = strnlen(in, DNS_NAME_MAX);
	int r;

	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len > NAME_TEXT_MAX)
		return err_set(-EINVAL, "%s \"%s\": longer than %d characters", what,
			       err_quote(in, q), NAME_TEXT_MAX);
	for (size_t i = 0; i < len; i++)
		buf[i] = lower(in[i]);
	buf[len] = '\0';
	if ((r = check_labels(what, buf)) < 0)
		return r;
	memcpy(ret, buf, len);
	memcpy(ret + len, ".", 2);
	return 0;
}

void dns_name_vars_from_lease(const struct lease *l, struct dns_name_vars *ret)
{
	size_t hl = strlen(l->hostname), kl = strlen(l->key);

	ret->name = l->hostname;
	ret->network = l->network;
	ret->key = l->key;
	ret->namespace_[0] = '\0';
	/* A pod's key is "NAMESPACE/NAME" (cni-plugin/netconf.c); the hostname is NAME. */
	if (hl && kl > hl + 1 && l->key[kl - hl - 1] == '/' &&
	    strcmp(l->key + kl - hl, l->hostname) == 0 && !memchr(l->key, '/', kl - hl - 1))
		(void)snprintf(ret->namespace_, sizeof(ret->namespace_), "%.*s", (int)(kl - hl - 1),
			       l->key);
}

/* The value of {var} (len bytes at var); NULL for an unknown variable. */
static const char *var_value(const struct dns_name_vars *v, const char *var, size_t len)
{
	const char *s;

	if (len == 4 && strncmp(var, "name", 4) == 0)
		s = v->name;
	else if (len == 9 && strncmp(var, "namespace", 9) == 0)
		s = v->namespace_;
	else if (len == 7 && strncmp(var, "network", 7) == 0)
		s = v->network;
	else if (len == 3 && strncmp(var, "key", 3) == 0)
		s = v->key;
	else
		return NULL;
	return s ? s : "";
}

/* Checks a template: balanced braces around known variables only. */
int dns_name_template_check(const char *t)
{
	static const struct dns_name_vars none;
	char q[ERR_QUOTE_BUFLEN];

	for (const char *p = t; *p; p++) {
		const char *end;

		if (*p == '}')
			return err_set(-EINVAL, "\"dns.name\" \"%s\": '}' without '{'", err_quote(t, q));
		if (*p != '{')
			continue;
		end = strchr(p, '}');
		if (!end)
			return err_set(-EINVAL, "\"dns.name\" \"%s\": '{' without '}'", err_quote(t, q));
		if (!var_value(&none, p + 1, (size_t)(end - p - 1)))
			return err_set(-EINVAL, "\"dns.name\" \"%s\": unknown variable {%.*s} (use "
						"{name}, {namespace}, {network}, {key})",
				       err_quote(t, q), (int)(end - p - 1), p + 1);
		p = end;
	}
	return 0;
}

int dns_name_render(const char *t, const struct dns_name_vars *v, const char *zone,
		    char ret[DNS_NAME_MAX])
{
	char buf[2 * DNS_NAME_MAX], what[DNS_TEMPLATE_MAX + 64], q[ERR_QUOTE_BUFLEN];
	size_t n = 0;
	int r;

	if (!t || !t[0])
		t = v->namespace_[0] ? "{name}.{namespace}" : DNS_DEFAULT_TEMPLATE;
	if ((r = dns_name_template_check(t)) < 0)
		return r;
	for (const char *p = t; *p && n < sizeof(buf) - 1; p++) {
		const char *end, *val;

		if (*p != '{') {
			buf[n++] = lower(*p);
			continue;
		}
		end = strchr(p, '}');
		val = var_value(v, p + 1, (size_t)(end - p - 1));
		if (!val[0])
			return err_set(-ENODATA, "lease %s/%s: no {%.*s} for the name template \"%s\"",
				       v->network ? v->network : "?", err_quote(v->key ? v->key : "?", q),
				       (int)(end - p - 1), p + 1, t);
		for (; *val && n < sizeof(buf) - 1; val++)
			buf[n++] = lower(*val);
		p = end;
	}
	buf[n] = '\0';
	(void)snprintf(what, sizeof(what), "name from the template \"%s\"", t);
	if (n > 0 && buf[n - 1] == '.')
		buf[--n] = '\0';
	if ((r = check_labels(what, buf)) < 0)
		return r;
	if (n + 1 + strlen(zone) > NAME_TEXT_MAX + 1)
		return err_set(-EINVAL, "%s \"%s\" in zone %s: longer than %d characters", what,
			       err_quote(buf, q), zone, NAME_TEXT_MAX);
	/* The check above keeps buf "." zone within DNS_NAME_MAX. */
	memcpy(ret, buf, n);
	ret[n] = '.';
	memcpy(ret + n + 1, zone, strlen(zone) + 1);
	return 0;
}

static char nibble_char(unsigned v)
{
	return "0123456789abcdef"[v & 15];
}

/* The first `nibbles` nibbles of a, reversed, dot-separated, then "ip6.arpa.". */
static void reverse_of(const struct in6_addr *a, unsigned nibbles, char ret[DNS_NAME_MAX])
{
	size_t n = 0;

	for (unsigned i = nibbles; i-- > 0;) {
		uint8_t b = a->s6_addr[i / 2];

		ret[n++] = nibble_char(i % 2 ? b : b >> 4);
		ret[n++] = '.';
	}
	memcpy(ret + n, "ip6.arpa.", sizeof("ip6.arpa."));
}

void dns_reverse_name(const struct in6_addr *a, char ret[DNS_NAME_MAX])
{
	reverse_of(a, 32, ret);
}

int dns_reverse_zone(const struct prefix *p, char ret[DNS_NAME_MAX])
{
	char buf[PREFIX_STRLEN];

	if (p->len % 4 != 0)
		return err_set(-EINVAL, "no reverse zone for %s: ip6.arpa zones are cut at nibble "
					"boundaries (RFC 3596: 4 bits a label) and /%u is not a multiple "
					"of 4; set \"dns.reverseZone\" to the zone above it (e.g. the /%u's) "
					"or \"dns.ptr\": false",
			       prefix_to_string(p, buf, sizeof(buf)), p->len, p->len / 4 * 4);
	reverse_of(&p->addr, p->len / 4, ret);
	return 0;
}

bool dns_name_in_zone(const char *name, const char *zone)
{
	size_t nl = strlen(name), zl = strlen(zone);

	if (strcmp(zone, ".") == 0)
		return true;
	if (nl < zl || strcmp(name + nl - zl, zone) != 0)
		return false;
	return nl == zl || name[nl - zl - 1] == '.';
}

bool dns_lease_wanted(const struct dns_config *c, const struct lease *l)
{
	return l->addr_known &&
	       (l->state == LEASE_ACTIVE || c->on_release == DNS_RELEASE_KEEP);
}

int dns_record_for_lease(const struct dns_config *c, const struct lease *l,
			 struct dns_record *ret)
{
	char ptr[DNS_NAME_MAX], q[ERR_QUOTE_BUFLEN];
	struct dns_name_vars v;
	struct dns_record d;
	int r;

	if (!l->addr_known)
		return err_set(-ENODATA, "lease %s/%s: no address (no prefix known)", l->network,
			       err_quote(l->key, q));
	memset(&d, 0, sizeof(d));
	dns_name_vars_from_lease(l, &v);
	if ((r = dns_name_render(c->name_template, &v, c->zone, d.name)) < 0)
		return r;
	store_copy(d.zone, sizeof(d.zone), c->zone);
	d.addr = l->addr;
	if (c->ptr) {
		dns_reverse_name(&l->addr, ptr);
		if (c->reverse_zone[0]) {
			store_copy(d.ptr_zone, sizeof(d.ptr_zone), c->reverse_zone);
		} else if ((r = dns_reverse_zone(&l->slice, d.ptr_zone)) < 0) {
			return r;
		}
		if (!dns_name_in_zone(ptr, d.ptr_zone))
			return err_set(-EINVAL, "lease %s/%s: its PTR %s is outside \"dns.reverseZone\" "
						"%s",
				       l->network, err_quote(l->key, q), ptr, d.ptr_zone);
	}
	*ret = d;
	return 0;
}
