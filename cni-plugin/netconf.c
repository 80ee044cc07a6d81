/* stdin: the network configuration, its role, the stable key and requested addresses. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cni.h"
#include "err.h"
#include "prefix.h"
#include "store_int.h"

const char *const cni_versions[] = { "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0", NULL };

bool cni_version_supported(const char *v)
{
	for (int i = 0; cni_versions[i]; i++)
		if (strcmp(v, cni_versions[i]) == 0)
			return true;
	return false;
}

/* obj.a.b.c as a string, or NULL; a wrong type on the way is an error naming the path. */
static int get_path_string(const json_t *obj, const char *const *path, const char **ret)
{
	const json_t *v = obj;
	char where[128] = "";

	for (int i = 0; path[i]; i++) {
		size_t n = strlen(where);

		(void)snprintf(where + n, sizeof(where) - n, "%s%s", i ? "." : "", path[i]);
		if (!json_is_object(v))
			return err_set(-EINVAL, "\"%s\": must be an object", where);
		v = json_object_get(v, path[i]);
		if (!v || json_is_null(v))
			return 0;
	}
	if (!json_is_string(v))
		return err_set(-EINVAL, "\"%s\": must be a string", where);
	*ret = json_string_value(v);
	return 1;
}

/* The first IPv6 address of a CONVENTIONS.md "ips" list ("addr/len" strings). */
static int get_ips(const json_t *list, const char *where, struct in6_addr *ret)
{
	size_t i;
	json_t *v;

	if (!list || json_is_null(list))
		return 0;
	if (!json_is_array(list))
		return err_set(-EINVAL, "\"%s\": must be a list of addresses", where);
	json_array_foreach(list, i, v) {
		char buf[PREFIX_STRLEN];
		const char *s = json_string_value(v);
		char *slash;
		int r;

		if (!s)
			return err_set(-EINVAL, "\"%s\"[%zu]: must be a string", where, i);
		if (!strchr(s, ':'))
			continue; /* IPv4: for another plugin */
		if (strlen(s) >= sizeof(buf))
			return err_set(-EINVAL, "\"%s\"[%zu] \"%.60s\": not an IPv6 address", where, i,
				       s);
		memcpy(buf, s, strlen(s) + 1);
		if ((slash = strchr(buf, '/')))
			*slash = '\0';
		if ((r = prefix_addr_from_string(buf, ret)) < 0)
			return err_wrap(r, "\"%s\"[%zu]", where, i);
		return 1;
	}
	return 0;
}

static int read_requests(struct cni_req *req)
{
	static const char *const rc_key[] = { "runtimeConfig", "v6pd", "key", NULL };
	static const char *const args_key[] = { "args", "cni", "v6pd", "key", NULL };
	static const char *const rc_mac[] = { "runtimeConfig", "mac", NULL };
	static const char *const args_mac[] = { "args", "cni", "mac", NULL };
	const struct cni_env *e = &req->env;
	const char *key = NULL, *mac = NULL, *mac_from;
	json_t *rc = json_object_get(req->conf, "runtimeConfig");
	json_t *args = json_object_get(req->conf, "args");
	json_t *args_cni = json_is_object(args) ? json_object_get(args, "cni") : NULL;
	int r;

	if ((r = get_path_string(req->conf, args_key, &key)) < 0 ||
	    (!key && (r = get_path_string(req->conf, rc_key, &key)) < 0))
		return r;
	if (key) {
		store_copy(req->key, sizeof(req->key), key);
		req->key_source = "args";
	} else if (e->k8s_namespace && e->k8s_namespace[0] && e->k8s_name && e->k8s_name[0]) {
		(void)snprintf(req->key, sizeof(req->key), "%s/%s", e->k8s_namespace, e->k8s_name);
		req->key_source = "k8s pod";
	} else if (e->k8s_name && e->k8s_name[0]) {
		store_copy(req->key, sizeof(req->key), e->k8s_name);
		req->key_source = "k8s name";
	} else {
		store_copy(req->key, sizeof(req->key), e->container_id);
		req->key_source = "container ID";
	}
	if (key && (r = store_check_string("args key", key, STORE_KEY_MAX, true)) < 0)
		return r;

	/* A fixed address: the ips capability, args.cni.ips, then IP= in CNI_ARGS. */
	r = get_ips(json_is_object(rc) ? json_object_get(rc, "ips") : NULL, "runtimeConfig.ips",
		    &req->want);
	if (r == 0)
		r = get_ips(json_is_object(args_cni) ? json_object_get(args_cni, "ips") : NULL,
			    "args.cni.ips", &req->want);
	if (r < 0)
		return r;
	req->has_want = r > 0;
	if (!req->has_want && e->has_ip) {
		req->want = e->ip;
		req->has_want = true;
	}

	if ((r = get_path_string(req->conf, rc_mac, &mac)) < 0)
		return r;
	mac_from = "\"runtimeConfig.mac\"";
	if (!mac) {
		if ((r = get_path_string(req->conf, args_mac, &mac)) < 0)
			return r;
		mac_from = "\"args.cni.mac\"";
	}
	if (!mac) {
		mac = e->mac;
		mac_from = "CNI_ARGS MAC";
	}
	if (mac) {
		uint8_t b[6];

		if ((r = cni_mac_parse(mac_from, mac, b)) < 0)
			return r;
		(void)snprintf(req->mac, sizeof(req->mac), "%02x:%02x:%02x:%02x:%02x:%02x", b[0],
			       b[1], b[2], b[3], b[4], b[5]);
	}
	return 0;
}

int cni_netconf_read(struct cni_req *req, const char *self_type, int *ret_code)
{
	json_error_t jerr;
	const char *name, *type;
	json_t *v, *ipam, *settings;
	int r;

	req->conf = json_loadf(cni_in(), JSON_REJECT_DUPLICATES, &jerr);
	if (!req->conf) {
		*ret_code = CNI_ERR_DECODE;
		return err_set(-EINVAL, "network configuration on stdin: %s (line %d, column %d)",
			       jerr.text, jerr.line, jerr.column);
	}
	*ret_code = CNI_ERR_DECODE;
	if (!json_is_object(req->conf))
		return err_set(-EINVAL, "network configuration on stdin: must be a JSON object");
	v = json_object_get(req->conf, "cniVersion");
	if (v && !json_is_string(v))
		return err_set(-EINVAL, "\"cniVersion\": must be a string");
	req->version = v ? json_string_value(v) : NULL;
	if (req->env.cmd == CNI_VERSION)
		return 0;

	*ret_code = CNI_ERR_VERSION;
	if (!req->version)
		return err_set(-EINVAL, "\"cniVersion\": missing");
	if (!cni_version_supported(req->version))
		return err_set(-EINVAL, "\"cniVersion\" \"%.20s\": not supported (0.3.0, 0.3.1, "
					"0.4.0, 1.0.0, 1.1.0)",
			       req->version);

	*ret_code = CNI_ERR_CONFIG;
	v = json_object_get(req->conf, "name");
	if (!json_is_string(v))
		return err_set(-EINVAL, "\"name\": %s", v ? "must be a string" : "missing");
	name = json_string_value(v);
	v = json_object_get(req->conf, "type");
	if (v && !json_is_string(v))
		return err_set(-EINVAL, "\"type\": must be a string");
	type = v ? json_string_value(v) : self_type;
	ipam = json_object_get(req->conf, "ipam");
	if (ipam && !json_is_null(ipam) && !json_is_object(ipam))
		return err_set(-EINVAL, "\"ipam\": must be an object");
	settings = req->conf;
	if (strcmp(type, self_type) != 0) {
		v = json_is_object(ipam) ? json_object_get(ipam, "type") : NULL;
		if (!json_is_string(v) || strcmp(json_string_value(v), self_type) != 0)
			return err_set(-EINVAL, "\"type\" \"%.40s\": v6pd runs as \"type\": \"%s\" or as "
						"\"ipam\": {\"type\": \"%s\"}",
				       type, self_type, self_type);
		req->ipam_role = true;
		settings = ipam;
	}
	if ((r = config_network_from_json(settings, name, &req->cfg)) < 0)
		return r;
	if (req->env.cmd == CNI_STATUS || req->env.cmd == CNI_GC)
		return 0;
	return read_requests(req);
}
