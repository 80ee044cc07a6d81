/* Backend-independent parts of the store: defaults, names, request checks, addresses. */
#include "store.h"
#include "store_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

void store_network_init(struct store_network *n, const char *name)
{
	memset(n, 0, sizeof(*n));
	n->name = name;
	n->slice_len = STORE_DEFAULT_SLICE_LEN;
	n->subnet_id = -1;
	n->iid = IID_STABLE;
	n->max_leases = STORE_DEFAULT_MAX_LEASES;
	n->retention = STORE_DEFAULT_RETENTION;
}

const char *lease_state_to_string(enum lease_state s)
{
	return s == LEASE_ACTIVE ? "active" : "reserved";
}

/* Bad input goes into messages quoted, cut to 40 bytes, control bytes as \xNN, so a
 * message stays one line. */
#define QUOTE_MAX 40
#define QUOTE_BUFLEN (QUOTE_MAX * 4 + sizeof("..."))

static const char *quote(const char *v, char *buf)
{
	size_t n = 0, i;

	for (i = 0; v[i] && i < QUOTE_MAX; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c < 0x20 || c == 0x7f || c == '"' || c == '\\')
			n += (size_t)snprintf(buf + n, QUOTE_BUFLEN - n, "\\x%02x", c);
		else
			buf[n++] = (char)c;
	}
	if (v[i])
		n += (size_t)snprintf(buf + n, QUOTE_BUFLEN - n, "...");
	buf[n] = '\0';
	return buf;
}

int store_check_string(const char *field, const char *v, size_t max, bool required)
{
	char q[QUOTE_BUFLEN];
	size_t len = v ? strnlen(v, max) : 0;

	if (required && len == 0)
		return err_set(-EINVAL, "%s: must not be empty", field);
	if (len >= max)
		return err_set(-ENAMETOOLONG, "%s \"%s\": longer than %zu bytes", field,
			       quote(v, q), max - 1);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return err_set(-EINVAL, "%s \"%s\": contains a control character", field,
				       quote(v, q));
	return 0;
}

int store_check_names(const char *network, const char *key)
{
	int r = store_check_string("network name", network, STORE_NAME_MAX, true);

	if (r == 0 && key)
		r = store_check_string("key", key, STORE_KEY_MAX, true);
	return r;
}

int store_check_network(const struct store_network *n)
{
	int r = store_check_string("network name", n->name, STORE_NAME_MAX, true);

	if (r < 0)
		return r;
	if (n->slice_len < 64 || n->slice_len > PREFIX_SLICE_MAX)
		return err_set(-EINVAL, "sliceLength %u: must be 64..%d", n->slice_len,
			       PREFIX_SLICE_MAX);
	if (n->per_container_slice && n->subnet_id >= 0)
		return err_set(-EINVAL, "subnetId %lld: not with perContainerSlice",
			       (long long)n->subnet_id);
	if (n->max_leases == 0)
		return err_set(-EINVAL, "maxLeases 0: must be at least 1");
	if (n->retention < 0)
		return err_set(-EINVAL, "retention: must not be negative");
	return 0;
}

int store_check_request(const struct lease_request *req)
{
	int r;

	if ((r = store_check_string("key", req->key, STORE_KEY_MAX, true)) < 0 ||
	    (r = store_check_string("container ID", req->container_id, STORE_CID_MAX, false)) < 0 ||
	    (r = store_check_string("ifname", req->ifname, STORE_IFNAME_MAX, false)) < 0 ||
	    (r = store_check_string("netns", req->netns, STORE_NETNS_MAX, false)) < 0 ||
	    (r = store_check_string("hostname", req->hostname, STORE_HOSTNAME_MAX, false)) < 0 ||
	    (r = store_check_string("mac", req->mac, STORE_MAC_MAX, false)) < 0)
		return r;
	return 0;
}

int store_lease_address(struct lease *l, const struct prefix *base, unsigned slice_len)
{
	int r;

	l->addr_known = false;
	if (!base)
		return 0;
	r = prefix_slice(base, slice_len, l->slice_index, &l->slice);
	if (r < 0)
		return r;
	prefix_addr_with_host(&l->slice, l->iid, &l->addr);
	l->addr_known = true;
	return 0;
}

void store_copy(char *dst, size_t size, const char *src)
{
	size_t n = src ? strnlen(src, size - 1) : 0;

	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

int store_grow(void *pv, size_t *cap, size_t n, size_t size)
{
	void **v = pv;
	size_t ncap;
	void *nv;

	if (n < *cap)
		return 0;
	ncap = *cap ? 2 * *cap : 16;
	nv = reallocarray(*v, ncap, size);
	if (!nv)
		return err_set(-ENOMEM, "out of memory");
	*v = nv;
	*cap = ncap;
	return 0;
}
