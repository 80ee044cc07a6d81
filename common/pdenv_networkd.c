/* pdenv: systemd-networkd's delegated prefixes, from `networkctl --json=short status IFACE`
 * (networkd-json.c: "DHCPv6Client": {"Prefixes": [{"Prefix": [16 bytes], "PrefixLength",
 * "PreferredLifetimeUSec", "ValidLifetimeUSec"}]}, deadlines on CLOCK_BOOTTIME, left out
 * when infinite). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "pdenv_int.h"

/* The link object of ifname: the document itself, or its entry in "Interfaces". */
static json_t *find_link(json_t *doc, const char *ifname)
{
	json_t *links = json_object_get(doc, "Interfaces"), *l;
	size_t i;

	if (!json_is_array(links))
		return doc;
	json_array_foreach(links, i, l) {
		const char *name = json_string_value(json_object_get(l, "Name"));

		if (name && strcmp(name, ifname) == 0)
			return l;
	}
	return NULL;
}

static int address_of(json_t *v, size_t i, struct in6_addr *ret)
{
	json_t *b;
	size_t k;

	if (json_is_string(v))
		return prefix_addr_from_string(json_string_value(v), ret);
	if (!json_is_array(v) || json_array_size(v) != 16)
		return err_set(-EINVAL, "\"Prefixes\"[%zu] \"Prefix\": not 16 bytes", i);
	json_array_foreach(v, k, b) {
		if (!json_is_integer(b) || json_integer_value(b) < 0 || json_integer_value(b) > 255)
			return err_set(-EINVAL, "\"Prefixes\"[%zu] \"Prefix\"[%zu]: not a byte", i, k);
		ret->s6_addr[k] = (uint8_t)json_integer_value(b);
	}
	return 0;
}

/* Seconds from now to a CLOCK_BOOTTIME deadline in microseconds; absent: forever. */
static int lifetime_of(json_t *v, const char *key, size_t i, uint64_t now, uint32_t *ret)
{
	json_int_t t;
	uint64_t left;

	if (!v) {
		*ret = UINT32_MAX;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return err_set(-EINVAL, "\"Prefixes\"[%zu] \"%s\": not a time", i, key);
	t = json_integer_value(v);
	left = (uint64_t)t > now ? ((uint64_t)t - now + 999999) / 1000000 : 0;
	*ret = left >= UINT32_MAX ? UINT32_MAX - 1 : (uint32_t)left;
	return 0;
}

static int one_prefix(json_t *o, size_t i, uint64_t now, struct pdenv_prefix *p)
{
	json_t *len = json_object_get(o, "PrefixLength");
	char buf[INET6_ADDRSTRLEN], name[48];
	struct in6_addr a;
	int r;

	memset(p, 0, sizeof(*p));
	if (!json_is_object(o))
		return err_set(-EINVAL, "\"Prefixes\"[%zu]: not an object", i);
	if ((r = address_of(json_object_get(o, "Prefix"), i, &a)) < 0)
		return r;
	if (!json_is_integer(len) || json_integer_value(len) < 0 || json_integer_value(len) > 128)
		return err_set(-EINVAL, "\"Prefixes\"[%zu] \"PrefixLength\": not 0..128", i);
	(void)snprintf(name, sizeof(name), "\"Prefixes\"[%zu]", i);
	if ((r = pdenv_prefix_from(name, prefix_addr_to_string(&a, buf, sizeof(buf)),
				   (unsigned)json_integer_value(len), &p->prefix)) < 0 ||
	    (r = lifetime_of(json_object_get(o, "ValidLifetimeUSec"), "ValidLifetimeUSec", i, now,
			     &p->vltime)) < 0 ||
	    (r = lifetime_of(json_object_get(o, "PreferredLifetimeUSec"), "PreferredLifetimeUSec",
			     i, now, &p->pltime)) < 0)
		return r;
	return 0;
}

int pdenv_networkd(const char *const *envp, uint64_t now_boot_usec, struct pdenv *ret)
{
	const char *ifname = pdenv_get(envp, "IFACE"), *state = pdenv_get(envp, "STATE");
	json_error_t jerr;
	json_t *doc = json_loads(pdenv_get(envp, PDENV_NETWORKD_VAR), 0, &jerr), *link, *list, *o;
	struct pdenv *ev = NULL;
	size_t i;
	int r;

	if (!doc)
		return err_set(-EINVAL, "$" PDENV_NETWORKD_VAR ": not JSON (%s at line %d)", jerr.text,
			       jerr.line);
	if (strlen(ifname) >= PDENV_IFNAME_MAX) {
		r = err_set(-EINVAL, "IFACE \"%.40s\": not an interface name", ifname);
		goto out;
	}
	if (!(link = find_link(doc, ifname))) {
		r = err_set(-EINVAL, "$" PDENV_NETWORKD_VAR ": no interface \"%s\"", ifname);
		goto out;
	}
	if (!(ev = calloc(1, sizeof(*ev)))) {
		r = err_set(-ENOMEM, "out of memory");
		goto out;
	}
	ev->client = PDENV_NETWORKD;
	ev->kind = PDENV_REPLACE;
	(void)snprintf(ev->reason, sizeof(ev->reason), "%s", state && state[0] ? state : "status");
	(void)snprintf(ev->interface, sizeof(ev->interface), "%s", ifname);
	list = json_object_get(json_object_get(link, "DHCPv6Client"), "Prefixes");
	r = 0;
	json_array_foreach(list, i, o) {
		if (ev->n == PDENV_MAX) {
			r = err_set(-EINVAL, "$" PDENV_NETWORKD_VAR ": more than %d prefixes", PDENV_MAX);
			goto out;
		}
		if ((r = one_prefix(o, i, now_boot_usec, &ev->prefixes[ev->n])) < 0) {
			r = err_wrap(r, "$" PDENV_NETWORKD_VAR);
			goto out;
		}
		ev->n++;
	}
	*ret = *ev;
out:
	free(ev);
	json_decref(doc);
	return r;
}
