/* What each hook call does. One lease per managed interface, keyed by domain UUID + MAC
 * (DESIGN.md decision 3); a DHCPv6 reservation per lease; the host side per mode:
 *
 *   network  libvirt's own network: lease and reservation only, libvirt owns the bridge
 *   bridge   a v6pd bridge (made at prepare: libvirt attaches the tap to it before start)
 *   tap      a routed tap: fe80::1 and slice::1 on it, the VM's /128 (or slice) routed to it
 *
 * prepare and start (and reconnect, port-created) may fail and then abort the start: they
 * leave behind nothing they made in this call. stopped (and release, port-deleted) undo by
 * MAC: the taps may be gone and the XML may no longer name them. The host side is host.c.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dhcp6release.h"
#include "dnsmasq.h"
#include "dns.h"
#include "err.h"
#include "hook.h"
#include "netlink.h"

static int64_t now(void)
{
	return (int64_t)time(NULL);
}

static int open_store(struct hook *h)
{
	if (h->store)
		return 0;
	return store_open(state_dir(h), &h->store);
}

/* Whether the store exists at all: stopped must not create one for nothing. */
static bool store_exists(const struct hook *h)
{
	char p[PATH_MAX + 16];

	if (h->store)
		return true;
	(void)snprintf(p, sizeof(p), "%s/%s", state_dir(h), STORE_DB_FILE);
	return access(p, F_OK) == 0;
}

void hook_close(struct hook *h)
{
	/* libvirtd waits for the hook's exit: the WAL's checkpoint goes to a worker. */
	store_close_detached(h->store);
	h->store = NULL;
	nl_ctx_free(h->nl);
	h->nl = NULL;
}

/* ---- matching ---- */

static bool entry_matches(const struct vmconf_entry *e, const struct dom_iface *i)
{
	switch (e->match) {
	case VMCONF_MATCH_NETWORK:
		return strcmp(i->type, "network") == 0 && strcmp(e->pattern, i->network) == 0;
	case VMCONF_MATCH_BRIDGE:
		return strcmp(i->type, "bridge") == 0 && strcmp(e->pattern, i->bridge) == 0;
	case VMCONF_MATCH_TAP:
		return strcmp(i->type, "ethernet") == 0 && i->target[0] &&
		       fnmatch(e->pattern, i->target, 0) == 0;
	}
	return false;
}

/* The first entry managing i, or NULL. */
static const struct vmconf_entry *match_entry(const struct vmconf *c, const struct dom_iface *i)
{
	for (size_t k = 0; k < c->n_entries; k++)
		if (entry_matches(&c->entries[k], i))
			return &c->entries[k];
	return NULL;
}

/* Whether entry e may hold a lease of i after a stop: what it matches, and any tap entry
 * for an ethernet interface whose tap the XML no longer names. */
static bool may_hold(const struct vmconf_entry *e, const struct dom_iface *i)
{
	if (e->match == VMCONF_MATCH_TAP && strcmp(i->type, "ethernet") == 0 && !i->target[0])
		return true;
	return entry_matches(e, i);
}

/* ---- keys and leases ---- */

/* "UUID/MAC", or "NAME/MAC" when the XML has no UUID. */
static int make_key(struct work *w, const char *uuid, const char *name, const char *mac)
{
	const char *who = uuid && uuid[0] ? uuid : name;
	int n = snprintf(w->key, sizeof(w->key), "%s/%s", who, mac);
	size_t o = 0;

	if (n < 0 || (size_t)n >= sizeof(w->key))
		return err_set(-ENAMETOOLONG, "domain name \"%.40s...\": too long for a lease key",
			       name);
	(void)snprintf(w->mac, sizeof(w->mac), "%s", mac);
	for (const char *p = mac; *p && o + 1 < sizeof(w->ifname); p++)
		if (*p != ':')
			w->ifname[o++] = *p;
	w->ifname[o] = '\0';
	return 0;
}

/* A predecessor of a domain re-defined under a new UUID with the same name and MAC: its
 * reserved lease, so `virsh undefine` + `define` keeps the address. 1 found, 0 none. */
static int find_predecessor(struct hook *h, const struct work *w, const char *uuid,
			    const char *name, struct lease *ret)
{
	struct lease *v = NULL;
	size_t n = 0;
	int r, found = 0;

	if (!uuid[0] || w->e->cfg.net.per_container_slice || w->e->cfg.net.iid == IID_EUI64)
		return 0;
	if ((r = store_lease_find_mac(h->store, net_of(w), w->mac, &v, &n)) < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		const struct lease *l = &v[i];
		size_t kl = strlen(l->key), ml = strlen(w->mac);

		if (l->state != LEASE_RESERVED || l->pinned || !l->addr_known ||
		    strcmp(l->mac, w->mac) != 0 || strcmp(l->hostname, name) != 0 ||
		    strcmp(l->container_id, uuid) == 0 || kl <= ml + 1 ||
		    strcmp(l->key + kl - ml, w->mac) != 0 || l->key[kl - ml - 1] != '/')
			continue;
		if (!found || l->released > ret->released)
			*ret = *l;
		found = 1;
	}
	free(v);
	return found;
}

/* How the guest is attached, recorded with its lease for a renumbering (renumber.h). */
static void attach_record(const struct work *w, struct store_attach *a)
{
	const struct net_config *c = &w->e->cfg;

	memset(a, 0, sizeof(*a));
	a->grace = c->renumber_grace;
	a->plen = (uint8_t)c->net.slice_len;
	if (w->e->match == VMCONF_MATCH_NETWORK) {
		a->mode = STORE_ATTACH_VM_NETWORK;
		(void)snprintf(a->link, sizeof(a->link), "%s", w->e->pattern);
	} else if (w->e->match == VMCONF_MATCH_BRIDGE) {
		a->mode = STORE_ATTACH_VM_BRIDGE;
		(void)snprintf(a->link, sizeof(a->link), "%s", c->bridge);
	} else {
		a->mode = STORE_ATTACH_VM_TAP;
		(void)snprintf(a->link, sizeof(a->link), "%s", w->tap ? w->tap : "");
		(void)snprintf(a->uplink, sizeof(a->uplink), "%s", c->ndp_proxy);
		if (!c->net.per_container_slice)
			a->plen = 128;
	}
}

static int lease_take(struct hook *h, struct work *w, const char *uuid, const char *name)
{
	struct store_attach at;
	struct lease_request req = {
		.key = w->key,
		.container_id = uuid[0] ? uuid : name,
		.ifname = w->ifname,
		.hostname = name,
		.mac = w->mac,
		.attach = &at,
	};
	int r;

	attach_record(w, &at);
	if ((r = open_store(h)) < 0)
		return r;
	r = store_lease_get(h->store, net_of(w), w->key, &w->prev);
	if (r < 0 && r != -ENOENT)
		return r;
	w->had_prev = r == 0;
	w->was_active = w->had_prev && w->prev.state == LEASE_ACTIVE;
	/* start after prepare, port-created, the second of a double call: nothing to write */
	if (w->was_active && w->prev.addr_known &&
	    strcmp(w->prev.container_id, req.container_id) == 0 &&
	    strcmp(w->prev.ifname, req.ifname) == 0 &&
	    strcmp(w->prev.hostname, req.hostname) == 0 && strcmp(w->prev.mac, req.mac) == 0) {
		w->lease = w->prev;
		return 0;
	}
	if (!w->had_prev) {
		if ((r = find_predecessor(h, w, uuid, name, &w->adopted)) < 0)
			return r;
		if (r > 0) {
			if ((r = store_lease_forget(h->store, net_of(w), w->adopted.key)) < 0)
				return r;
			w->did_adopt = true;
			req.want = &w->adopted.addr;
		}
	}
	r = store_lease_acquire(h->store, &w->e->cfg.net, &req, now(), &w->lease);
	if (r < 0) {
		if (w->did_adopt)
			(void)store_lease_restore(h->store, &w->adopted);
		w->did_adopt = false;
		return r;
	}
	w->acquired = true;
	return 0;
}

/* Puts the key's lease back as it was before lease_take(). */
static void lease_undo(struct hook *h, struct work *w)
{
	int r;

	if (!w->acquired)
		return;
	r = w->had_prev ? store_lease_restore(h->store, &w->prev)
			: store_lease_forget(h->store, net_of(w), w->key);
	if (r == 0 && w->did_adopt)
		r = store_lease_restore(h->store, &w->adopted);
	if (r < 0)
		(void)fprintf(stderr, "v6pd: undoing the lease of key \"%s\": %s\n", w->key,
			      err_msg(r));
	w->acquired = false;
}

/* libvirt's dnsmasq of a network entry reads the reservations too (`v6pdctl libvirt network
 * define`): it reads a new file by itself but keeps the record of a changed or removed one
 * until SIGHUP (dnsmasq(8), --dhcp-hostsdir), and would hand a MAC its old address. */
static int libvirt_reload(const struct vmconf_entry *e, int changed)
{
	int r;

	if (changed <= 0 || e->match != VMCONF_MATCH_NETWORK)
		return changed < 0 ? changed : 0;
	r = dnsmasq_reload_libvirt(e->pattern);
	return r < 0 ? err_wrap(r, "libvirt network \"%s\"", e->pattern) : 0;
}

static int reservation_put(struct hook *h, const struct work *w, const char *name)
{
	if (!w->lease.addr_known)
		return err_set(-ENOENT, "network \"%s\": the base prefix is not known", net_of(w));
	return libvirt_reload(w->e, dnsmasq_host_put(state_dir(h), net_of(w), w->mac,
						     &w->lease.addr, name));
}

/* The addresses of a call's removed reservations whose DHCPv6 leases our dnsmasq (it serves
 * the bridges and taps, not libvirt's networks) must forget, so that a domain defined again
 * under a new UUID (a new DUID) gets its address (dnsmasq.h). Forgetting takes a dnsmasq
 * restart: one per call for all of them, in a worker libvirtd does not wait for. */
struct forget {
	struct in6_addr *v;
	size_t n;
};

static int reservation_remove(struct hook *h, const struct vmconf_entry *e, const char *mac,
			      struct forget *f)
{
	struct in6_addr a, *v;
	int r = dnsmasq_host_unlink(state_dir(h), e->cfg.name, mac, &a);

	if (r > 0 && f && e->match != VMCONF_MATCH_NETWORK &&
	    (v = realloc(f->v, (f->n + 1) * sizeof(*v)))) {
		v[f->n++] = a;
		f->v = v;
	}
	return libvirt_reload(e, r);
}

static void forget_run(struct hook *h, struct forget *f)
{
	int r = dnsmasq_leases_forget(state_dir(h), f->v, f->n, false);

	if (r < 0)
		(void)fprintf(stderr, "v6pd: dropping the stopped guests' DHCPv6 leases: %s "
				      "(ignored)\n", err_msg(r));
	free(f->v);
	f->v = NULL;
	f->n = 0;
}

/* ---- the calls ---- */

static void iface_what(const struct dom_iface *i, char *buf, size_t size)
{
	if (strcmp(i->type, "network") == 0)
		(void)snprintf(buf, size, "network \"%s\"", i->network);
	else if (strcmp(i->type, "bridge") == 0)
		(void)snprintf(buf, size, "bridge \"%s\"", i->bridge);
	else
		(void)snprintf(buf, size, "tap \"%s\"", i->target);
}

/* The managed interfaces of d, with their keys; a new array in *ret (free()). */
static int collect(struct hook *h, const struct dom *d, struct work **ret, size_t *ret_n)
{
	struct work *v = NULL;
	size_t n = 0;
	int r;

	for (size_t k = 0; k < d->n_ifs; k++) {
		const struct dom_iface *i = &d->ifs[k];
		const struct vmconf_entry *e = match_entry(h->conf, i);
		char what[STORE_NAME_MAX + 16];

		if (!e)
			continue;
		iface_what(i, what, sizeof(what));
		if (!i->mac[0]) {
			r = err_set(-EINVAL, "interface %zu (%s): no <mac address>", k + 1, what);
			goto fail;
		}
		if (!v && !(v = calloc(d->n_ifs, sizeof(*v)))) {
			r = err_set(-ENOMEM, "out of memory");
			goto fail;
		}
		v[n].e = e;
		v[n].tap = i->target;
		if ((r = make_key(&v[n], d->uuid, d->name, i->mac)) < 0)
			goto fail;
		n++;
	}
	*ret = v;
	*ret_n = n;
	return 0;
fail:
	free(v);
	return r;
}

/* Leaves nothing this call made: host side, reservation and lease of every interface that
 * was not already active before it. */
static void undo(struct hook *h, struct work *v, size_t n)
{
	for (size_t k = n; k-- > 0;) {
		struct work *w = &v[k];

		if (!w->acquired)
			continue;
		if (!w->was_active) {
			if (w->host_done && w->e->match == VMCONF_MATCH_TAP)
				(void)host_tap_teardown(h, w->e, &w->lease, w->tap);
			/* written by this call: no guest has a DHCPv6 lease on it to forget */
			(void)reservation_remove(h, w->e, w->mac, NULL);
		}
		lease_undo(h, w);
	}
}

/* Reports the failure of w and undoes v[0..n): the message survives the undo. */
static int fail_undo(struct hook *h, struct work *v, size_t n, const struct work *w, int r)
{
	char msg[1024];

	(void)snprintf(msg, sizeof(msg), "interface %s (v6pd network \"%s\"): %s", w->mac,
		       net_of(w), err_msg(r));
	undo(h, v, n);
	return err_set(r, "%s", msg);
}

/* prepare (start=false) or start/reconnect (start=true). The reservation is written by
 * prepare, and again by start only when prepare did not make the lease active (reconnect
 * always writes it: a restart of libvirtd is the time to repair). */
/* The lease in DNS (the network's "dns" object), as the CNI plugin does: a failure fails the
 * start only with "required"; otherwise it is logged, marked in the store, and left to
 * `v6pdctl dns sync`. */
static int dns_put(struct hook *h, const struct work *w)
{
	const struct dns_config *c = &w->e->cfg.dns;
	int r;

	if (!c->enabled)
		return 0;
	dns_set_pdns_runner(dns_pdns_via_helper);
	r = dns_publish(h->store, c, &w->lease, now());
	if (r == 0 || c->required)
		return r < 0 ? err_wrap(r, "publishing in DNS (\"dns.required\")") : 0;
	(void)fprintf(stderr, "v6pd: network \"%s\": publishing key \"%s\" in DNS failed (`v6pdctl "
			      "dns sync` retries): %s\n",
		      net_of(w), w->lease.key, err_msg(r));
	return 0;
}

static int domain_apply(struct hook *h, const struct dom *d, bool start, bool reconnect)
{
	struct work *v = NULL;
	size_t n = 0, k;
	int r;

	if ((r = collect(h, d, &v, &n)) < 0 || n == 0)
		goto out;
	for (k = 0; start && k < n; k++) {
		if (v[k].e->match != VMCONF_MATCH_TAP)
			continue;
		if ((r = hook_open_nl(h)) < 0 || (r = host_tap_check(h, &v[k])) < 0) {
			r = err_wrap(r, "interface %s (v6pd network \"%s\")", v[k].mac,
				     net_of(&v[k]));
			goto out;
		}
	}
	for (k = 0; k < n; k++) {
		struct work *w = &v[k];

		if ((r = lease_take(h, w, d->uuid, d->name)) < 0 ||
		    ((!start || reconnect || !w->was_active) &&
		     (r = reservation_put(h, w, d->name)) < 0) ||
		    (r = start ? host_start(h, w) : host_prepare(h, w)) < 0 ||
		    ((!start || reconnect) && (r = dns_put(h, w)) < 0)) {
			r = fail_undo(h, v, k + 1, w, r);
			goto out;
		}
	}
out:
	free(v);
	return r;
}

int hook_domain_prepare(struct hook *h, const struct dom *d)
{
	return domain_apply(h, d, false, false);
}

int hook_domain_start(struct hook *h, const struct dom *d, bool reconnect)
{
	return domain_apply(h, d, true, reconnect);
}

static void log_failure(const char *what, int r)
{
	(void)fprintf(stderr, "v6pd: %s: %s (ignored)\n", what, err_msg(r));
}

/* Releases one lease into its reserved state (a no-op when it is already) and undoes its
 * attachment; no lease is no error. */
static int detach(struct hook *h, const struct vmconf_entry *e, const char *key, const char *mac,
		  const char *tap, struct forget *f)
{
	struct lease l;
	int r = store_lease_release(h->store, e->cfg.name, key, now(), &l), k;

	if (r == -ENOENT) {
		err_clear();
		return 0;
	}
	if (r < 0)
		return r;
	if (e->match == VMCONF_MATCH_TAP)
		r = host_tap_teardown(h, e, &l, tap);
	if (e->cfg.dns.enabled) {
		dns_set_pdns_runner(dns_pdns_via_helper);
		if ((k = dns_withdraw(h->store, &e->cfg.dns, &l, now())) < 0)
			log_failure("removing from DNS (`v6pdctl dns sync` retries)", k);
	}
	k = reservation_remove(h, e, mac, f);
	return r < 0 ? r : k < 0 ? k : 0;
}

/* Failures are logged one line each and the others still undone: libvirt ignores the
 * result of stopped and release. */
int hook_domain_stopped(struct hook *h, const struct dom *d)
{
	struct forget f = { 0 };
	int r = 0;

	for (size_t k = 0; r == 0 && k < d->n_ifs; k++) {
		const struct dom_iface *i = &d->ifs[k];
		struct work w = { 0 };

		if (!i->mac[0])
			continue;
		for (size_t j = 0; j < h->conf->n_entries; j++) {
			const struct vmconf_entry *e = &h->conf->entries[j];
			char what[STORE_NAME_MAX + 64];

			if (!may_hold(e, i))
				continue;
			if (!store_exists(h))
				return 0;
			if ((r = open_store(h)) < 0)
				break;
			w.e = e;
			if ((r = make_key(&w, d->uuid, d->name, i->mac)) == 0)
				r = detach(h, e, w.key, w.mac, i->target, &f);
			/* libvirt's dnsmasq: the bridge is not in this XML (dhcp6release.h) */
			if (r == 0 && e->match == VMCONF_MATCH_NETWORK &&
			    (r = dhcp6_release_libvirt(DHCP6_LIBVIRT_STATUS_DIR, NULL, i->mac)) > 0)
				r = 0;
			if (r < 0) {
				(void)snprintf(what, sizeof(what),
					       "interface %s (v6pd network \"%s\")", i->mac,
					       e->cfg.name);
				log_failure(what, r);
				r = 0;
			}
		}
	}
	forget_run(h, &f);
	return r;
}

static const struct vmconf_entry *port_entry(const struct hook *h, const struct net_port *p)
{
	for (size_t k = 0; k < h->conf->n_entries; k++)
		if (h->conf->entries[k].match == VMCONF_MATCH_NETWORK &&
		    strcmp(h->conf->entries[k].pattern, p->network) == 0)
			return &h->conf->entries[k];
	return NULL;
}

static int check_port(const struct hook *h, const struct net_port *p)
{
	if (strcmp(p->network, h->object) != 0)
		return err_set(-EINVAL, "the hook's argument names network \"%s\" but the XML "
					"describes network \"%s\"",
			       h->object, p->network);
	return 0;
}

int hook_port_created(struct hook *h, const struct net_port *p)
{
	struct work w = { .e = port_entry(h, p) };
	int r;

	if ((r = check_port(h, p)) < 0 || !w.e || !p->mac[0])
		return r;
	if ((r = make_key(&w, p->owner_uuid, p->owner_name, p->mac)) < 0)
		return r;
	if ((r = lease_take(h, &w, p->owner_uuid, p->owner_name)) < 0 ||
	    (!w.was_active && (r = reservation_put(h, &w, p->owner_name)) < 0))
		r = fail_undo(h, &w, 1, &w, r);
	return r;
}

int hook_port_deleted(struct hook *h, const struct net_port *p)
{
	struct work w = { .e = port_entry(h, p) };
	int r;

	if ((r = check_port(h, p)) < 0 || !w.e || !p->mac[0] || !store_exists(h))
		return r;
	if ((r = open_store(h)) < 0 ||
	    (r = make_key(&w, p->owner_uuid, p->owner_name, p->mac)) < 0 ||
	    (r = detach(h, w.e, w.key, w.mac, NULL, NULL)) < 0)
		return err_wrap(r, "interface %s (v6pd network \"%s\")", w.mac, net_of(&w));
	/* libvirt's dnsmasq would refuse the reservation to another DUID until the guest's
	 * DHCPv6 lease expires (see dhcp6release.h) */
	if (p->bridge[0] &&
	    (r = dhcp6_release_libvirt(DHCP6_LIBVIRT_STATUS_DIR, p->bridge, p->mac)) < 0)
		return err_wrap(r, "interface %s: releasing its DHCPv6 lease in libvirt's dnsmasq",
				w.mac);
	return 0;
}
