/* Results and errors on stdout (SPEC.md "Success"/"Error" and the ADD result types). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cni.h"
#include "prefix.h"

static const char *answer_version(const char *v)
{
	return v && cni_version_supported(v) ? v : "1.1.0";
}

/* 0.3.x and 0.4.0 results carry "version": "6" in each ip; 1.1.0 added interface mtu. */
static bool is_pre_1_0(const char *v)
{
	return v[0] == '0';
}

static void dump(json_t *j)
{
	char *s = json_dumps(j, JSON_PRESERVE_ORDER | JSON_COMPACT);

	if (s) {
		(void)fputs(s, stdout);
		(void)fputc('\n', stdout);
		free(s);
	}
	(void)fflush(stdout);
	json_decref(j);
}

void cni_error_print(const char *version, int code, const char *msg, const char *details)
{
	json_t *j = json_pack("{s:s, s:i, s:s}", "cniVersion", answer_version(version), "code",
			      code, "msg", msg);

	if (j && details)
		(void)json_object_set_new(j, "details", json_string(details));
	dump(j);
}

void cni_version_print(const char *version)
{
	json_t *list = json_array();

	for (int i = 0; cni_versions[i]; i++)
		(void)json_array_append_new(list, json_string(cni_versions[i]));
	dump(json_pack("{s:s, s:o}", "cniVersion", answer_version(version), "supportedVersions",
		       list));
}

int cni_result_print(const struct cni_req *req, const struct cni_iface *ifs, int n_ifs,
		     int ip_iface, const struct lease *l, const char *gateway, const char *route_gw)
{
	const char *v = answer_version(req->version);
	char addr[PREFIX_STRLEN + 8], a[INET6_ADDRSTRLEN];
	json_t *res, *ifaces, *ip, *ips, *routes;

	(void)snprintf(addr, sizeof(addr), "%s/%u",
		       prefix_addr_to_string(&l->addr, a, sizeof(a)),
		       req->cfg.mode == NET_MODE_ROUTED && !req->ipam_role &&
				       !req->cfg.net.per_container_slice
			       ? 128u
			       : req->cfg.net.slice_len);
	res = json_pack("{s:s}", "cniVersion", v);
	if (n_ifs > 0) {
		ifaces = json_array();
		for (int i = 0; i < n_ifs; i++) {
			json_t *o = json_pack("{s:s}", "name", ifs[i].name);

			if (ifs[i].mac && ifs[i].mac[0])
				(void)json_object_set_new(o, "mac", json_string(ifs[i].mac));
			if (ifs[i].mtu && strcmp(v, "1.1.0") == 0)
				(void)json_object_set_new(o, "mtu", json_integer(ifs[i].mtu));
			if (ifs[i].sandbox)
				(void)json_object_set_new(o, "sandbox", json_string(ifs[i].sandbox));
			(void)json_array_append_new(ifaces, o);
		}
		(void)json_object_set_new(res, "interfaces", ifaces);
	}
	ip = json_pack("{s:s}", "address", addr);
	if (is_pre_1_0(v))
		(void)json_object_set_new(ip, "version", json_string("6"));
	if (gateway)
		(void)json_object_set_new(ip, "gateway", json_string(gateway));
	if (ip_iface >= 0)
		(void)json_object_set_new(ip, "interface", json_integer(ip_iface));
	ips = json_array();
	(void)json_array_append_new(ips, ip);
	(void)json_object_set_new(res, "ips", ips);
	routes = json_array();
	(void)json_array_append_new(routes, json_pack("{s:s, s:s}", "dst", "::/0", "gw", route_gw));
	(void)json_object_set_new(res, "routes", routes);
	(void)json_object_set_new(res, "dns", json_object());
	dump(res);
	return 0;
}

void cni_log(const char *fmt, ...)
{
	va_list ap;

	(void)fputs("v6pd: ", stderr);
	va_start(ap, fmt);
	(void)vfprintf(stderr, fmt, ap);
	va_end(ap);
	(void)fputc('\n', stderr);
}
