/* v6pdctl libvirt network define, gc --libvirt: through the libvirt API (libvirt.so, linked
 * into v6pdctl only; the hook never calls back into libvirt).
 *
 * A libvirt-managed network (a {"network": NAME} entry of the hook's config) gets its guests'
 * addresses from libvirt's own dnsmasq. The network carries the v6pd slice's ::1 with a
 * DHCPv6 range, which makes libvirt run stateful DHCPv6 (RA with the M flag, no A flag: the
 * reserved address is the guest's only global one), and dnsmasq passthrough options:
 *
 *   dhcp-hostsdir=STATE/dhcp-hosts/NET   v6pd's reservations (one file per MAC, written by
 *                                        the hook at prepare / port-created; new files are
 *                                        read at once)
 *   dhcp-ignore=tag:dhcpv6,tag:!known    DHCPv6 for reserved MACs only (DHCPv4 on the same
 *                                        network is left alone)
 *   dhcp-lease-max=N                     maxLeases + the IPv4 ranges' size (see below)
 *   ra-param=*,10,600                    RA every 10 s with a router lifetime of 600 s
 *
 * The range is the slice's ::1 alone: the bridge's own address, which dnsmasq never hands
 * out. So a guest gets its reserved address or none, never a dynamic one, also when its
 * reservation is held by another client's unexpired lease (measured: with a wider range a
 * redefined domain, whose DUID is new, got a range address). libvirt derives dhcp-lease-max
 * from the ranges' size, and dnsmasq counts reserved leases against it: the passthrough
 * option, written after libvirt's, sets it back.
 *
 * The router lifetime, measured here with the test guest (libvirt 9.0, dnsmasq 2.90): a
 * route (or nat, open) network's RA gives the guests a default route via the bridge's
 * link-local address; an isolated one (no <forward>) does not, because libvirt writes
 * ra-param=*,0,0 (router lifetime 0) for it. An isolated network keeps that (the host
 * forwards nothing for it); on the others ra-param=*,10,600 makes the advertisements as
 * frequent as v6pd's own dnsmasq's (a new prefix reaches the guests within 10 s).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "addrgen.h"
#include "ctl.h"
#include "dnsmasq.h"
#include "err.h"
#include "netxml.h"
#include "vmconf.h"

#define LEASE_SECONDS 3600	/* as v6pd's own dnsmasq (DNSMASQ_LEASE_TIME) */
#define RA_ROUTED "ra-param=*,10,600"
#define IGNORE_UNKNOWN "dhcp-ignore=tag:dhcpv6,tag:!known"

static void lv_silent(void *data, virErrorPtr e)
{
}

/* The last libvirt error as ours: "WHAT: libvirt's message". */
static int lv_fail(int r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int lv_fail(int r, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return err_set(r, "%s: %s", what, virGetLastErrorMessage());
}

static int lv_open(const struct ctl *c, virConnectPtr *ret)
{
	virConnectPtr conn;

	/* libvirt prints every error to stderr unless told otherwise */
	virSetErrorFunc(NULL, lv_silent);
	conn = virConnectOpen(c->uri);
	if (!conn)
		return lv_fail(-ECONNREFUSED, "libvirt (%s)", c->uri ? c->uri : "default URI");
	*ret = conn;
	return 0;
}

/* ---- libvirt network define ---- */

struct define {
	const struct vmconf_entry *e;
	struct store_net_info info;
	char gw[INET6_ADDRSTRLEN], start[INET6_ADDRSTRLEN], end[INET6_ADDRSTRLEN];
	char slice[PREFIX_STRLEN];
	char hosts_dir[PATH_MAX], hosts_opt[PATH_MAX + 32], hosts_suffix[STORE_NAME_MAX + 16];
	char lease_max_opt[64];
	struct netxml_want want;
	const char *action;		/* created, updated, unchanged */
	struct netxml_info edit;	/* what the edit found and removed */
	char bridge[16];
	bool active, autostart, restarted, restart_needed, started;
};

/* The slice's ::1, which is also the whole DHCPv6 range (see the top). */
static void plan(struct define *d)
{
	struct in6_addr a;

	prefix_addr_with_host(&d->info.slice, ADDRGEN_GATEWAY_IID, &a);
	(void)prefix_addr_to_string(&a, d->gw, sizeof(d->gw));
	(void)snprintf(d->start, sizeof(d->start), "%s", d->gw);
	(void)snprintf(d->end, sizeof(d->end), "%s", d->gw);
	(void)prefix_to_string(&d->info.slice, d->slice, sizeof(d->slice));
}

static int prepare(struct ctl *c, struct define *d, const char *name)
{
	const char *path = c->vm->path;
	int r;

	d->e = vmconf_find_network(c->vm, name);
	if (!d->e)
		return err_set(-ENOENT, "%s: no entry of \"interfaces\" has \"match\": {\"network\": "
					"\"%s\"}; add one naming the v6pd network that libvirt "
					"network \"%s\" maps to",
			       path, name, name);
	if (d->e->cfg.net.per_container_slice)
		return err_set(-EINVAL, "%s: the entry for libvirt network \"%s\" has "
					"\"perContainerSlice\": a libvirt network is one link with one "
					"slice",
			       path, name);
	if ((r = store_network_ensure(c->store, &d->e->cfg.net, c->now, &d->info)) < 0)
		return err_wrap(r, "v6pd network \"%s\" (%s)", d->e->cfg.name, path);
	if (!d->info.base_known)
		return err_set(-ENOENT, "v6pd network \"%s\" follows the host's delegated prefix "
					"and none is set (v6pdctl prefix set PREFIX), or give it a "
					"\"prefix\" in %s",
			       d->e->cfg.name, path);
	if (!d->info.has_slice)
		return err_set(-EINVAL, "v6pd network \"%s\" has no slice of its own",
			       d->e->cfg.name);
	plan(d);
	if ((r = dnsmasq_hosts_dir_ensure(c->vm->state_dir, d->e->cfg.name, d->hosts_dir,
					  sizeof(d->hosts_dir))) < 0)
		return r;
	(void)snprintf(d->hosts_opt, sizeof(d->hosts_opt), "dhcp-hostsdir=%s", d->hosts_dir);
	(void)snprintf(d->hosts_suffix, sizeof(d->hosts_suffix), "/dhcp-hosts/%s",
		       d->e->cfg.name);
	d->want = (struct netxml_want){
		.address = d->gw,
		.prefix = d->info.slice.len,
		.range_start = d->start,
		.range_end = d->end,
		.lease_seconds = LEASE_SECONDS,
		.hosts_suffix = d->hosts_suffix,
		.options = { d->hosts_opt, IGNORE_UNKNOWN },
		.n_options = 2,
	};
	return 0;
}

/* The wanted options depend on the network: its IPv4 ranges, whether libvirt forwards. */
static void want_for(struct define *d, const char *xml)
{
	struct netxml_info i = { 0 };

	if (netxml_inspect(xml, &d->want, &i) < 0)
		err_clear();	/* netxml_edit() says what is wrong */
	(void)snprintf(d->lease_max_opt, sizeof(d->lease_max_opt), "dhcp-lease-max=%lu",
		       (unsigned long)d->info.max_leases + i.ipv4_range_size);
	d->want.n_options = 2;
	d->want.options[d->want.n_options++] = d->lease_max_opt;
	if (i.forward[0])
		d->want.options[d->want.n_options++] = RA_ROUTED;
}

/* The network's XML as defined (not as running), or a new one. */
static int current_xml(virConnectPtr conn, const char *name, virNetworkPtr *ret_net,
		       char **ret_xml)
{
	virNetworkPtr net = virNetworkLookupByName(conn, name);

	*ret_net = net;
	if (!net) {
		if (virGetLastErrorCode() != VIR_ERR_NO_NETWORK)
			return lv_fail(-EIO, "libvirt network \"%s\"", name);
		return netxml_new(name, ret_xml);
	}
	*ret_xml = virNetworkGetXMLDesc(net, VIR_NETWORK_XML_INACTIVE);
	return *ret_xml ? 0 : lv_fail(-EIO, "libvirt network \"%s\": reading its XML", name);
}

/* Whether the running network already has v6pd's parts as wanted. */
static int live_up_to_date(virNetworkPtr net, const struct define *d, bool *ret)
{
	char *xml = virNetworkGetXMLDesc(net, 0);
	struct netxml_info i;
	int r;

	if (!xml)
		return lv_fail(-EIO, "libvirt network \"%s\": reading its live XML",
			       virNetworkGetName(net));
	r = netxml_inspect(xml, &d->want, &i);
	free(xml);
	*ret = r == 0 && i.up_to_date;
	return r;
}

static int restart(virNetworkPtr net, bool active)
{
	if (active && virNetworkDestroy(net) < 0)
		return lv_fail(-EIO, "libvirt network \"%s\": stopping it", virNetworkGetName(net));
	if (virNetworkCreate(net) < 0)
		return lv_fail(-EIO, "libvirt network \"%s\": starting it", virNetworkGetName(net));
	return 0;
}

/* Defines (or redefines) and, for a new network, starts it with autostart on. */
static int apply(struct ctl *c, virConnectPtr conn, struct define *d, const char *name)
{
	virNetworkPtr net = NULL, defined = NULL;
	char *xml = NULL, *edited = NULL;
	bool created, live_ok = true;
	int r, a;

	if ((r = current_xml(conn, name, &net, &xml)) < 0)
		goto out;
	created = !net;
	want_for(d, xml);
	if ((r = netxml_edit(xml, &d->want, &edited, &d->edit)) < 0) {
		r = err_wrap(r, "libvirt network \"%s\"", name);
		goto out;
	}
	d->action = created ? "created" : d->edit.up_to_date ? "unchanged" : "updated";
	if (created || !d->edit.up_to_date) {
		defined = virNetworkDefineXML(conn, edited);
		if (!defined) {
			r = lv_fail(-EINVAL, "libvirt network \"%s\": defining it", name);
			goto out;
		}
	} else {
		defined = net;
		net = NULL;
	}
	if (created && virNetworkSetAutostart(defined, 1) < 0) {
		r = lv_fail(-EIO, "libvirt network \"%s\": setting autostart", name);
		goto out;
	}
	if ((a = virNetworkIsActive(defined)) < 0) {
		r = lv_fail(-EIO, "libvirt network \"%s\"", name);
		goto out;
	}
	d->active = a == 1;
	if (d->active && (r = live_up_to_date(defined, d, &live_ok)) < 0)
		goto out;
	if (created || (c->restart && (!d->active || !live_ok))) {
		if ((r = restart(defined, d->active)) < 0)
			goto out;
		d->restarted = d->active;
		d->started = !d->active;
		d->active = true;
	} else if (d->active && !live_ok) {
		d->restart_needed = true;
	}
	if (virNetworkGetAutostart(defined, &a) == 0)
		d->autostart = a == 1;
	free(xml);
	xml = virNetworkGetXMLDesc(defined, VIR_NETWORK_XML_INACTIVE);
	if (xml) {
		struct netxml_info i;

		if (netxml_inspect(xml, &d->want, &i) == 0)
			(void)snprintf(d->bridge, sizeof(d->bridge), "%s", i.bridge);
		err_clear();
	}
	r = 0;
out:
	free(xml);
	free(edited);
	if (net)
		virNetworkFree(net);
	if (defined)
		virNetworkFree(defined);
	return r;
}

static void print_define(const struct ctl *c, const struct define *d, const char *name)
{
	const struct netxml_info *x = &d->edit;
	const char *fwd = x->forward[0] ? x->forward : NULL;

	if (!strcmp(d->action, "created"))
		fwd = "route";
	if (c->json) {
		json_t *opts = json_array(), *removed = json_array();

		for (size_t i = 0; i < d->want.n_options; i++)
			(void)json_array_append_new(opts, json_string(d->want.options[i]));
		for (size_t i = 0; i < x->n_removed; i++)
			(void)json_array_append_new(removed, json_string(x->removed[i]));
		out_json(json_pack("{s:s, s:s, s:s, s:o, s:o, s:s, s:I, s:s, s:[s,s], s:s, s:o, "
				   "s:o, s:b, s:b, s:b, s:b, s:b}",
				   "network", name, "v6pdNetwork", d->e->cfg.name, "action", d->action,
				   "forward", fwd ? json_string(fwd) : json_null(),
				   "bridge", d->bridge[0] ? json_string(d->bridge) : json_null(),
				   "slice", d->slice, "sliceIndex", (json_int_t)d->info.slice_index,
				   "gateway", d->gw, "dhcpRange", d->start, d->end,
				   "hostsDir", d->hosts_dir, "dnsmasqOptions", opts, "removed", removed,
				   "active", d->active, "autostart", d->autostart,
				   "started", d->started || d->restarted, "restarted", d->restarted,
				   "restartNeeded", d->restart_needed));
		return;
	}
	(void)printf("libvirt network \"%s\": %s", name, d->action);
	if (fwd)
		(void)printf(" (forward mode %s)", fwd);
	else
		(void)printf(" (isolated: no <forward>)");
	if (!strcmp(d->action, "created"))
		(void)printf(", autostart %s", d->autostart ? "on" : "off");
	(void)printf("%s\n", d->started ? ", started" : d->restarted ? ", restarted" : "");
	(void)printf("  v6pd network \"%s\", slice %s (index %" PRIu64 ")\n", d->e->cfg.name,
		     d->slice, d->info.slice_index);
	(void)printf("  bridge %s: %s/%u; DHCPv6 for reserved MACs only\n",
		     d->bridge[0] ? d->bridge : "(libvirt's choice)", d->gw, d->info.slice.len);
	(void)printf("  libvirt's dnsmasq reads the reservations in %s\n", d->hosts_dir);
	for (size_t i = 0; i < x->n_removed; i++)
		(void)printf("  replaced %s\n", x->removed[i]);
	if (x->n_removed_more)
		(void)printf("  replaced %zu more\n", x->n_removed_more);
	if (!fwd)
		(void)printf("  note: an isolated network gives its guests no default route (libvirt "
			     "advertises router lifetime 0); <forward mode='route'/> routes the "
			     "slice\n");
	if (d->restart_needed)
		(void)printf("  the running network still has its old settings: restart it for the "
			     "change to take effect (v6pdctl libvirt network define %s --restart, or "
			     "virsh net-destroy %s && virsh net-start %s)\n",
			     name, name, name);
	else if (!d->active)
		(void)printf("  not running: virsh net-start %s\n", name);
}

int cmd_libvirt_network_define(struct ctl *c)
{
	const char *name = c->arg[0];
	struct define d = { 0 };
	virConnectPtr conn = NULL;
	int r;

	if ((r = prepare(c, &d, name)) < 0 || (r = lv_open(c, &conn)) < 0)
		return r;
	r = apply(c, conn, &d, name);
	(void)virConnectClose(conn);
	if (r == 0)
		print_define(c, &d, name);
	return r;
}

/* ---- gc --libvirt ---- */

struct domains {
	char (*uuid)[VIR_UUID_STRING_BUFLEN];
	char **name;
	size_t n;
};

static void domains_free(struct domains *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->name[i]);
	free(d->name);
	free(d->uuid);
}

/* Every domain libvirt has: running or not, persistent or transient. */
static int domains_list(virConnectPtr conn, struct domains *ret)
{
	virDomainPtr *v = NULL;
	int n = virConnectListAllDomains(conn, &v, 0), r = 0;

	if (n < 0)
		return lv_fail(-EIO, "libvirt: listing domains");
	ret->uuid = calloc((size_t)n + 1, sizeof(*ret->uuid));
	ret->name = calloc((size_t)n + 1, sizeof(*ret->name));
	if (!ret->uuid || !ret->name)
		r = err_set(-ENOMEM, "out of memory");
	for (int i = 0; i < n; i++) {
		const char *name = virDomainGetName(v[i]);

		if (r == 0 && virDomainGetUUIDString(v[i], ret->uuid[ret->n]) < 0)
			r = lv_fail(-EIO, "libvirt: domain \"%s\"", name ? name : "?");
		if (r == 0 && !(ret->name[ret->n] = strdup(name ? name : "")))
			r = err_set(-ENOMEM, "out of memory");
		if (r == 0)
			ret->n++;
		virDomainFree(v[i]);
	}
	free(v);
	return r;
}

static bool domain_exists(const struct domains *d, const char *who)
{
	for (size_t i = 0; i < d->n; i++)
		if (strcasecmp(d->uuid[i], who) == 0 || strcmp(d->name[i], who) == 0)
			return true;
	return false;
}

/* A lease the hook made: key "UUID/MAC" (or "NAME/MAC"), container_id the UUID (or NAME). */
static bool hook_lease(const struct lease *l)
{
	size_t cl = strlen(l->container_id);

	return cl && strncmp(l->key, l->container_id, cl) == 0 && l->key[cl] == '/' &&
	       (!l->mac[0] || strcmp(l->key + cl + 1, l->mac) == 0);
}

static bool seen_network(const struct vmconf *vm, size_t k)
{
	for (size_t j = 0; j < k; j++)
		if (strcmp(vm->entries[j].cfg.name, vm->entries[k].cfg.name) == 0)
			return true;
	return false;
}

int libvirt_gc(struct ctl *c, int *ret_released, int *ret_domains)
{
	struct domains doms = { 0 };
	virConnectPtr conn = NULL;
	int r, released = 0;

	if ((r = lv_open(c, &conn)) < 0)
		return r;
	r = domains_list(conn, &doms);
	(void)virConnectClose(conn);
	for (size_t k = 0; r == 0 && k < c->vm->n_entries; k++) {
		const char *net = c->vm->entries[k].cfg.name;
		struct lease *v = NULL;
		size_t n = 0;

		if (seen_network(c->vm, k))
			continue;
		if ((r = store_lease_list(c->store, net, &v, &n)) < 0)
			break;
		for (size_t i = 0; r == 0 && i < n; i++) {
			struct lease l;
			int q;

			if (v[i].state != LEASE_ACTIVE || !hook_lease(&v[i]) ||
			    domain_exists(&doms, v[i].container_id))
				continue;
			r = store_lease_release(c->store, net, v[i].key, c->now, &l);
			if (r == -ENOENT) {	/* released meanwhile */
				err_clear();
				r = 0;
				continue;
			}
			if (r < 0)
				break;
			released++;
			/* the hook removes the reservation when it releases; so does this */
			if (v[i].mac[0] &&
			    (q = dnsmasq_host_remove(c->vm->state_dir, net, v[i].mac)) < 0) {
				(void)fprintf(stderr, "v6pdctl: %s: removing the reservation of %s: "
						      "%s (the lease is released)\n",
					      net, v[i].mac, err_msg(q));
				err_clear();
			}
		}
		free(v);
	}
	*ret_released = released;
	*ret_domains = (int)doms.n;
	domains_free(&doms);
	return r;
}
