/* Results and errors on stdout (SPEC.md "Success"/"Error" and the ADD result types). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cni.h"
#include "dns.h"
#include "prefix.h"

static const char *answer_version(const char *v)
{
	return v && cni_version_supported(v) ? v : "1.1.0";
}

/* 0.3.x and 0.4.0 results carry "version": "6" in each ip and may leave "dns" out; 1.1.0
 * added interface mtu. */
static bool is_pre_1_0(const char *v)
{
	return v[0] == '0';
}

static void dump(json_t *j)
{
	char *s = json_dumps(j, JSON_PRESERVE_ORDER | JSON_COMPACT);

	if (s) {
		(void)fputs(s, cni_out());
		(void)fputc('\n', cni_out());
		free(s);
	}
	(void)fflush(cni_out());
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

static json_t *strings(const char *rows, size_t size, unsigned n)
{
	json_t *a = json_array();

	for (unsigned i = 0; i < n; i++)
		(void)json_array_append_new(a, json_string(rows + i * size));
	return a;
}

/* The result's "dns" (SPEC.md "DNS"): the netconf's nameservers, domain, search and options;
 * a network publishing its leases in a zone has that zone as the default domain and first in
 * search, since that is where its containers' names are. */
static json_t *result_dns(const struct cni_req *req)
{
	const struct dns_config *d = &req->cfg.dns;
	const struct dns_cni *c = &d->cni;
	char zone[DNS_NAME_MAX] = "", norm[DNS_NAME_MAX];
	json_t *o = json_object(), *search;

	if (d->enabled)
		(void)snprintf(zone, sizeof(zone), "%.*s", (int)strlen(d->zone) - 1, d->zone);
	if (c->n_nameservers)
		(void)json_object_set_new(o, "nameservers",
					  strings(c->nameservers[0], sizeof(c->nameservers[0]),
						  c->n_nameservers));
	if (c->domain[0] || zone[0])
		(void)json_object_set_new(o, "domain", json_string(c->domain[0] ? c->domain : zone));
	if (c->n_search || zone[0]) {
		search = json_array();
		if (zone[0])
			(void)json_array_append_new(search, json_string(zone));
		for (unsigned i = 0; i < c->n_search; i++)
			if (!zone[0] || dns_name_normalize("search", c->search[i], norm) < 0 ||
			    strcmp(norm, d->zone) != 0)
				(void)json_array_append_new(search, json_string(c->search[i]));
		(void)json_object_set_new(o, "search", search);
	}
	if (c->n_options)
		(void)json_object_set_new(o, "options", strings(c->options[0],
								sizeof(c->options[0]),
								c->n_options));
	return o;
}

unsigned cni_result_prefixlen(const struct cni_req *req)
{
	if (req->cfg.mode == NET_MODE_ROUTED && !req->ipam_role &&
	    !req->cfg.net.per_container_slice)
		return 128;
	return req->cfg.net.slice_len;
}

int cni_result_print(const struct cni_req *req, const struct cni_iface *ifs, int n_ifs,
		     int ip_iface, const struct lease *l, const char *gateway, const char *route_gw)
{
	const char *v = answer_version(req->version);
	char addr[PREFIX_STRLEN + 8], a[INET6_ADDRSTRLEN];
	json_t *res, *ifaces, *ip, *ips, *routes, *dns;

	(void)snprintf(addr, sizeof(addr), "%s/%u",
		       prefix_addr_to_string(&l->addr, a, sizeof(a)), cni_result_prefixlen(req));
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
	/* 1.x lists "dns" among a result's keys; before 1.0 it is optional, so an empty one is
	 * left out. */
	dns = result_dns(req);
	if (json_object_size(dns) || !is_pre_1_0(v))
		(void)json_object_set_new(res, "dns", dns);
	else
		json_decref(dns);
	dump(res);
	return 0;
}

void cni_log(const char *fmt, ...)
{
	va_list ap;

	FILE *f = cni_err();

	(void)fputs("v6pd: ", f);
	va_start(ap, fmt);
	(void)vfprintf(f, fmt, ap);
	va_end(ap);
	(void)fputc('\n', f);
}
