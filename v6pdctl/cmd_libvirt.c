/* v6pdctl libvirt network define, gc --libvirt: through the libvirt API (libvirt.so, linked
 * into v6pdctl only; the hook never calls back into libvirt).
 *
 * A libvirt-managed network (a {"network": NAME} entry of the hook's config) gets its guests'
 * addresses from libvirt's own dnsmasq. What the network gets, and why (each measured here
 * with libvirt 9.0, dnsmasq 2.90 and the test guest):
 *
 *   <ip family='ipv6' address='SLICE::1' prefix='LEN'>
 *     <dhcp><host id='PLACEHOLDER_DUID' ip='SLICE::1'/></dhcp></ip>
 *     A DHCPv6 <host> and no <range>: libvirt then runs dnsmasq's DHCPv6 in static mode
 *     (dhcp-range=SLICE::1,static,LEN) with RA carrying the M flag and no A flag, so a guest
 *     gets its reserved address or none, and that is its only global address. With a
 *     <range>, a guest whose reservation is held by another client's unexpired lease (a
 *     domain undefined and defined again has a new DUID) was given a range address instead,
 *     one the store knows nothing of. libvirt's IPv6 <host> takes no MAC: the one it needs
 *     binds the bridge's own address to a DUID no client has (a DUID-EN under the
 *     documentation enterprise number 32473), which dnsmasq never hands out.
 *   dhcp-hostsdir=STATE/dhcp-hosts/NET   v6pd's reservations, one file per MAC, written by
 *                                        the hook at prepare / port-created; a new file is
 *                                        read at once
 *   dhcp-lease-max=MAXLEASES             dnsmasq's default is 1000 leases. Only when the
 *                                        network has no IPv4 DHCP range: libvirt then writes
 *                                        its own (their size), and dnsmasq refuses a second
 *   ra-param=*,10,600                    RA every 10 s, router lifetime 600 s
 *
 * The default route: a route (or nat, open) network's RA gives guests a default route via
 * the bridge's link-local address with or without ra-param; an isolated one (no <forward>)
 * does not, because libvirt writes ra-param=*,0,0 (router lifetime 0) for it, and ours, later
 * in the file, would override it (measured). An isolated network keeps libvirt's: the host
 * forwards nothing for it. On the others ra-param makes the advertisements as frequent as
 * those of v6pd's own dnsmasq (a new prefix reaches the guests within 10 s).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "addrgen.h"
#include "ctl.h"
#include "dhcp6release.h"
#include "dnsmasq.h"
#include "err.h"
#include "netxml.h"
#include "vmconf.h"

#define RA_ROUTED "ra-param=*,10,600"
/* DUID-EN (type 2), enterprise 32473 (RFC 5612: for documentation), "v6pd-no-client" */
#define PLACEHOLDER_DUID "00:02:00:00:7e:d9:76:36:70:64:2d:6e:6f:2d:63:6c:69:65:6e:74"

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
	char gw[INET6_ADDRSTRLEN];
	char slice[PREFIX_STRLEN];
	char hosts_dir[PATH_MAX], hosts_opt[PATH_MAX + 32], hosts_suffix[STORE_NAME_MAX + 16];
	char lease_max_opt[64];
	unsigned long ipv4_ranges;	/* libvirt's dhcp-lease-max, when not 0 */
	struct netxml_want want;
	const char *action;		/* created, updated, unchanged */
	struct netxml_info edit;	/* what the edit found and removed */
	char bridge[16];
	bool active, autostart, restarted, restart_needed, started;
	int reattached;			/* guest interfaces put back on the bridge */
};

static void plan(struct define *d)
{
	struct in6_addr a;

	prefix_addr_with_host(&d->info.slice, ADDRGEN_GATEWAY_IID, &a);
	(void)prefix_addr_to_string(&a, d->gw, sizeof(d->gw));
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
		.host_id = PLACEHOLDER_DUID,
		.hosts_suffix = d->hosts_suffix,
		.options = { d->hosts_opt },
		.n_options = 1,
	};
	return 0;
}

/* The wanted options depend on the network: its IPv4 ranges, whether libvirt forwards. */
static void want_for(struct define *d, const char *xml)
{
	struct netxml_info i = { 0 };

	if (netxml_inspect(xml, &d->want, &i) < 0)
		err_clear();	/* netxml_edit() says what is wrong */
	d->ipv4_ranges = i.ipv4_range_size;
	d->want.n_options = 1;
	(void)snprintf(d->lease_max_opt, sizeof(d->lease_max_opt), "dhcp-lease-max=%lu",
		       (unsigned long)d->info.max_leases);
	if (!i.ipv4_range_size)
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

/* net-destroy takes the running guests' taps off the bridge and net-start does not put them
 * back (measured, libvirt 9.0: the guests were cut off): put them back as libvirt does when
 * libvirtd restarts (SIOCBRADDIF, libvirt's virNetDevBridgeAddPort()). */
static int reattach(virConnectPtr conn, virNetworkPtr net, int *ret_n)
{
	const char *name = virNetworkGetName(net);
	char *bridge = virNetworkGetBridgeName(net), taps[64][16];
	virDomainPtr *v = NULL;
	int n, fd = -1, r = 0;

	*ret_n = 0;
	if (!bridge)
		return lv_fail(-EIO, "libvirt network \"%s\": its bridge", name);
	n = virConnectListAllDomains(conn, &v, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
	if (n < 0)
		r = lv_fail(-EIO, "libvirt: listing running domains");
	else if ((fd = socket(AF_LOCAL, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		r = err_set(-errno, "socket: %s", strerror(errno));
	for (int i = 0; i < n; i++) {
		char *xml = r == 0 ? virDomainGetXMLDesc(v[i], 0) : NULL;
		int k = xml ? netxml_domain_taps(xml, name, taps, 64) : 0;

		for (int j = 0; j < k && r == 0; j++) {
			struct ifreq ifr = { 0 };

			(void)snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", bridge);
			ifr.ifr_ifindex = (int)if_nametoindex(taps[j]);
			if (!ifr.ifr_ifindex)
				continue;	/* the guest stopped meanwhile */
			if (ioctl(fd, SIOCBRADDIF, &ifr) == 0)
				++*ret_n;
			else if (errno != EBUSY)	/* EBUSY: a port already */
				r = err_set(-errno, "putting %s back on bridge %s: %s", taps[j],
					    bridge, strerror(errno));
		}
		if (k < 0)
			err_clear();	/* not ours to judge: skip that domain */
		free(xml);
		virDomainFree(v[i]);
	}
	if (fd >= 0)
		(void)close(fd);
	free(v);
	free(bridge);
	return r;
}

/* After a failure: a new network is undefined, an existing one gets its previous definition
 * back and is running again if it was. The failure's message is kept. */
static int roll_back(virConnectPtr conn, virNetworkPtr net, bool created, const char *prev,
		     bool was_active, int r)
{
	char msg[1024];
	virNetworkPtr back;
	bool ok;

	(void)snprintf(msg, sizeof(msg), "%s", err_msg(r));
	if (created) {
		ok = (virNetworkIsActive(net) != 1 || virNetworkDestroy(net) == 0) &&
		     virNetworkUndefine(net) == 0;
		return err_set(r, "%s (%s)", msg, ok ? "the network was undefined again"
						      : "undefining it again failed too");
	}
	back = virNetworkDefineXML(conn, prev);
	ok = back && (!was_active || virNetworkIsActive(back) == 1 || virNetworkCreate(back) == 0);
	if (back)
		virNetworkFree(back);
	return err_set(r, "%s (%s)", msg, ok ? "its previous definition is back"
					      : "putting its previous definition back failed too");
}

/* Defines (or redefines) and, for a new network, starts it with autostart on. */
static int apply(struct ctl *c, virConnectPtr conn, struct define *d, const char *name)
{
	virNetworkPtr net = NULL, defined = NULL;
	char *xml = NULL, *edited = NULL, *now = NULL;
	bool created, live_ok = true, was_active = false;
	int r, a;

	if ((r = current_xml(conn, name, &net, &xml)) < 0)
		goto out;
	created = !net;
	was_active = net && virNetworkIsActive(net) == 1;
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
		goto fail;
	}
	if ((a = virNetworkIsActive(defined)) < 0) {
		r = lv_fail(-EIO, "libvirt network \"%s\"", name);
		goto fail;
	}
	d->active = a == 1;
	if (d->active && (r = live_up_to_date(defined, d, &live_ok)) < 0)
		goto fail;
	if (created || (c->restart && (!d->active || !live_ok))) {
		if ((r = restart(defined, d->active)) < 0)
			goto fail;
		if (d->active && (r = reattach(conn, defined, &d->reattached)) < 0)
			goto out;	/* the network runs as wanted: no rolling back */
		d->restarted = d->active;
		d->started = !d->active;
		d->active = true;
	} else if (d->active && !live_ok) {
		d->restart_needed = true;
	}
	if (virNetworkGetAutostart(defined, &a) == 0)
		d->autostart = a == 1;
	now = virNetworkGetXMLDesc(defined, VIR_NETWORK_XML_INACTIVE);
	if (now) {
		struct netxml_info i;

		if (netxml_inspect(now, &d->want, &i) == 0)
			(void)snprintf(d->bridge, sizeof(d->bridge), "%s", i.bridge);
		err_clear();
	}
	r = 0;
	goto out;
fail:
	if (created || strcmp(d->action, "updated") == 0 || was_active)
		r = roll_back(conn, defined, created, xml, was_active, r);
out:
	free(xml);
	free(now);
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
		out_json(json_pack("{s:s, s:s, s:s, s:o, s:o, s:s, s:I, s:s, s:I, s:s, s:o, "
				   "s:o, s:b, s:b, s:b, s:b, s:i, s:b}",
				   "network", name, "v6pdNetwork", d->e->cfg.name, "action", d->action,
				   "forward", fwd ? json_string(fwd) : json_null(),
				   "bridge", d->bridge[0] ? json_string(d->bridge) : json_null(),
				   "slice", d->slice, "sliceIndex", (json_int_t)d->info.slice_index,
				   "gateway", d->gw, "leaseMax",
				   (json_int_t)(d->ipv4_ranges ? d->ipv4_ranges : d->info.max_leases),
				   "hostsDir", d->hosts_dir, "dnsmasqOptions", opts, "removed", removed,
				   "active", d->active, "autostart", d->autostart,
				   "started", d->started || d->restarted, "restarted", d->restarted,
				   "reattached", d->reattached, "restartNeeded", d->restart_needed));
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
	if (d->reattached)
		(void)printf("  put %d running guest interface%s back on the bridge\n",
			     d->reattached, d->reattached == 1 ? "" : "s");
	(void)printf("  v6pd network \"%s\", slice %s (index %" PRIu64 ")\n", d->e->cfg.name,
		     d->slice, d->info.slice_index);
	(void)printf("  bridge %s: %s/%u; DHCPv6 for reserved MACs only\n",
		     d->bridge[0] ? d->bridge : "(libvirt's choice)", d->gw, d->info.slice.len);
	(void)printf("  libvirt's dnsmasq reads the reservations in %s\n", d->hosts_dir);
	if (d->ipv4_ranges)
		(void)printf("  note: dnsmasq serves at most %lu leases, IPv4 and IPv6 together "
			     "(libvirt sets that from the IPv4 DHCP ranges)\n",
			     d->ipv4_ranges);
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
			/* the hook removes the reservation when it releases, and has libvirt's
			 * dnsmasq forget the DHCPv6 lease; so does this */
			if (!v[i].mac[0])
				continue;
			q = dnsmasq_host_remove(c->vm->state_dir, net, v[i].mac);
			/* libvirt's dnsmasq keeps a removed file's record until SIGHUP */
			if (q > 0 && c->vm->entries[k].match == VMCONF_MATCH_NETWORK)
				q = dnsmasq_reload_libvirt(c->vm->entries[k].pattern);
			if (q < 0) {
				(void)fprintf(stderr, "v6pdctl: %s: removing the reservation of %s: "
						      "%s (the lease is released)\n",
					      net, v[i].mac, err_msg(q));
				err_clear();
			}
			if (c->vm->entries[k].match == VMCONF_MATCH_NETWORK &&
			    (q = dhcp6_release_libvirt(DHCP6_LIBVIRT_STATUS_DIR, NULL,
						       v[i].mac)) < 0) {
				(void)fprintf(stderr, "v6pdctl: %s: %s: %s (the lease is released)\n",
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
