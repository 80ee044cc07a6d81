#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "duration.h"
#include "err.h"
#include "store_int.h"

int config_check_name(const char *name)
{
	size_t len = name ? strnlen(name, STORE_NAME_MAX) : 0;

	if (len == 0)
		return err_set(-EINVAL, "name: must not be empty");
	if (len >= STORE_NAME_MAX)
		return err_set(-EINVAL, "name \"%.40s...\": longer than %d bytes", name,
			       STORE_NAME_MAX - 1);
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-')))
			return err_set(-EINVAL, "name \"%s\": must match [a-zA-Z0-9][a-zA-Z0-9_.-]*",
				       name);
	}
	return 0;
}

/* Each getter: 0 when absent (ret untouched), 1 when read, negative on a wrong type. */
static int get_string(const json_t *obj, const char *key, const char **ret)
{
	json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return err_set(-EINVAL, "\"%s\": must be a string", key);
	*ret = json_string_value(v);
	return 1;
}

static int get_int(const json_t *obj, const char *key, json_int_t min, json_int_t max,
		   json_int_t *ret)
{
	json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v))
		return err_set(-EINVAL, "\"%s\": must be an integer", key);
	if (json_integer_value(v) < min || json_integer_value(v) > max)
		return err_set(-EINVAL, "\"%s\" %lld: must be %lld..%lld", key,
			       (long long)json_integer_value(v), (long long)min, (long long)max);
	*ret = json_integer_value(v);
	return 1;
}

static int get_bool(const json_t *obj, const char *key, bool *ret)
{
	json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return err_set(-EINVAL, "\"%s\": must be true or false", key);
	*ret = json_is_true(v);
	return 1;
}

static int check_ifname(const char *key, const char *v)
{
	size_t len = strnlen(v, 16);

	if (len == 0 || len > 15 || strcmp(v, ".") == 0 || strcmp(v, "..") == 0 ||
	    strpbrk(v, "/: \t\n\r"))
		return err_set(-EINVAL, "\"%s\" \"%.40s\": not a valid interface name (1-15 "
					"characters, no '/', ':' or whitespace)",
			       key, v);
	return 0;
}

static int read_mode(const json_t *obj, struct net_config *c)
{
	const char *s;
	int r = get_string(obj, "mode", &s);

	if (r <= 0)
		return r;
	if (strcmp(s, "bridge") == 0)
		c->mode = NET_MODE_BRIDGE;
	else if (strcmp(s, "routed") == 0)
		c->mode = NET_MODE_ROUTED;
	else
		return err_set(-EINVAL, "\"mode\" \"%s\": must be \"bridge\" or \"routed\"", s);
	return 0;
}

static int read_links(const json_t *obj, struct net_config *c)
{
	const char *s;
	int r;

	(void)snprintf(c->bridge, sizeof(c->bridge), "v6pd-%.10s", c->name);
	if ((r = get_string(obj, "bridge", &s)) < 0)
		return r;
	if (r > 0) {
		if ((r = check_ifname("bridge", s)) < 0)
			return r;
		store_copy(c->bridge, sizeof(c->bridge), s);
	} else if ((r = check_ifname("bridge", c->bridge)) < 0) {
		return r;
	}
	if ((r = get_string(obj, "ndpProxy", &s)) < 0)
		return r;
	if (r > 0 && s[0]) {
		if ((r = check_ifname("ndpProxy", s)) < 0)
			return r;
		store_copy(c->ndp_proxy, sizeof(c->ndp_proxy), s);
	}
	return 0;
}

static int read_store(const json_t *obj, struct net_config *c)
{
	struct store_network *n = &c->net;
	const char *s;
	json_int_t i;
	int r;

	if ((r = get_string(obj, "prefix", &s)) < 0)
		return r;
	if (r > 0) {
		if ((r = prefix_from_string(s, &n->prefix)) < 0)
			return err_wrap(r, "\"prefix\"");
		n->has_prefix = true;
	}
	if ((r = get_int(obj, "sliceLength", 64, PREFIX_SLICE_MAX, &i)) < 0)
		return r;
	if (r > 0)
		n->slice_len = (unsigned)i;
	if ((r = get_int(obj, "subnetId", 0, INT64_MAX, &i)) < 0)
		return r;
	if (r > 0)
		n->subnet_id = i;
	if ((r = get_bool(obj, "perContainerSlice", &n->per_container_slice)) < 0)
		return r;
	if ((r = get_string(obj, "iid", &s)) < 0)
		return r;
	if (r > 0 && (r = iid_mode_from_string(s, &n->iid)) < 0)
		return err_wrap(r, "\"iid\"");
	if ((r = get_string(obj, "retention", &s)) < 0)
		return r;
	if (r > 0 && (r = duration_from_string(s, &n->retention)) < 0)
		return err_wrap(r, "\"retention\"");
	if ((r = get_int(obj, "maxLeases", 1, UINT32_MAX, &i)) < 0)
		return r;
	if (r > 0)
		n->max_leases = (uint32_t)i;
	if (n->per_container_slice && c->mode != NET_MODE_ROUTED)
		return err_set(-EINVAL, "\"perContainerSlice\": only in \"mode\": \"routed\"");
	if (n->per_container_slice && n->subnet_id >= 0)
		return err_set(-EINVAL, "\"subnetId\": not with \"perContainerSlice\"");
	return 0;
}

int config_network_from_json(const json_t *obj, const char *name, struct net_config *ret)
{
	struct net_config c;
	const char *s;
	json_int_t i;
	int r;

	if (!json_is_object(obj))
		return err_set(-EINVAL, "network configuration: must be a JSON object");
	if ((r = config_check_name(name)) < 0)
		return r;
	memset(&c, 0, sizeof(c));
	store_copy(c.name, sizeof(c.name), name);
	store_network_init(&c.net, c.name);
	c.mode = NET_MODE_BRIDGE;
	c.mtu = CONFIG_DEFAULT_MTU;
	c.renumber_grace = -1;
	store_copy(c.state_dir, sizeof(c.state_dir), CONFIG_DEFAULT_STATE_DIR);

	if ((r = read_mode(obj, &c)) < 0 || (r = read_links(obj, &c)) < 0 ||
	    (r = read_store(obj, &c)) < 0 ||
	    (r = dns_config_from_json(json_object_get(obj, "dns"), c.net.slice_len,
				      c.net.per_container_slice, &c.dns)) < 0)
		return r;
	if ((r = get_int(obj, "mtu", 1280, 65535, &i)) < 0)
		return r;
	if (r > 0)
		c.mtu = (unsigned)i;
	if ((r = get_string(obj, "renumberGrace", &s)) < 0)
		return r;
	if (r > 0 && (r = duration_from_string(s, &c.renumber_grace)) < 0)
		return err_wrap(r, "\"renumberGrace\"");
	if ((r = get_string(obj, "stateDir", &s)) < 0)
		return r;
	if (r > 0) {
		if (s[0] != '/' || strlen(s) >= sizeof(c.state_dir) - 32)
			return err_set(-EINVAL, "\"stateDir\" \"%.60s\": must be an absolute path "
						"shorter than %zu bytes",
				       s, sizeof(c.state_dir) - 32);
		store_copy(c.state_dir, sizeof(c.state_dir), s);
	}
	*ret = c;
	config_fix_name(ret);
	return 0;
}
