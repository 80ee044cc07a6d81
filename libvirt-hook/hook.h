/* v6pd-libvirt-hook: libvirt's qemu (and lxc) and network hooks over the v6pd core.
 *
 * libvirt runs /etc/libvirt/hooks/qemu.d/v6pd DOMAIN OP SUBOP EXTRA and network.d/v6pd
 * NETWORK OP SUBOP EXTRA with the domain or network XML on stdin, with an environment of just
 * LC_ALL, HOME and PATH; a non-zero exit of prepare/start/reconnect/port-created aborts the
 * start and shows stderr to the user; stdout is read as new XML only for migrate/restore,
 * where we print nothing. The same event may come twice (a monolithic qemu script plus
 * qemu.d/): everything here is idempotent.
 */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "netlink.h"
#include "store.h"
#include "vmconf.h"

#define HOOK_STDIN_MAX (16u << 20)	/* a domain XML is a few KiB */
#define HOOK_IFACES_MAX 256		/* interfaces per domain */
#define HOOK_UUID_LEN 36

/* The config, /etc/v6pd/libvirt.json: common/vmconf.h (v6pdctl reads it too). */

/* ---- xml.c: the hook's stdin ---- */

struct dom_iface {
	char type[16];			/* "network", "bridge", "ethernet", ... */
	char mac[STORE_MAC_MAX];	/* canonical aa:bb:cc:dd:ee:ff; "" when none */
	char network[STORE_NAME_MAX];	/* <source network>; "" when none or too long */
	char bridge[16];		/* <source bridge>; "" when none or too long */
	char target[16];		/* <target dev>; "" when none or too long */
};

struct dom {
	char name[STORE_HOSTNAME_MAX];
	char uuid[HOOK_UUID_LEN + 1];	/* lower case; "" when the XML has none */
	struct dom_iface *ifs;		/* owned */
	size_t n_ifs;
};

/* <networkport> of a network hook (port-created, port-deleted). */
struct net_port {
	char network[STORE_NAME_MAX];	/* <network><name> */
	char owner_name[STORE_HOSTNAME_MAX];
	char owner_uuid[HOOK_UUID_LEN + 1];
	char mac[STORE_MAC_MAX];
	char bridge[16];		/* <network><bridge name>; "" when none or too long */
};

/* Parses a <domain> document (no DTD, no network access, no entity expansion). -EINVAL with
 * a message giving the line for XML that is not well-formed or not a domain. */
int xml_domain_parse(const char *buf, size_t len, struct dom *ret);
void xml_domain_free(struct dom *d);
/* Parses <hookData><network/><networkport/></hookData>. ret->mac is "" when there is no
 * port (a network start/stop). */
int xml_port_parse(const char *buf, size_t len, struct net_port *ret);

/* ---- ops.c: what each hook call does ---- */

enum hook_kind {
	HOOK_QEMU,
	HOOK_LXC,
	HOOK_NETWORK,
};

struct hook {
	enum hook_kind kind;
	const char *object;		/* argv[1]: the domain or network name */
	const char *op;
	const char *subop;
	const struct vmconf *conf;
	struct store *store;		/* opened on demand, for conf->state_dir */
	struct nl_ctx *nl;		/* opened on demand */
};

/* Each returns 0 or a negative errno with err_set() done; d and p are borrowed.
 *
 * prepare: a lease and a DHCPv6 reservation per managed interface; a v6pd bridge is made
 *   (libvirt attaches the tap to it before start).
 * start, reconnect: the same, then the host side (bridge or routed tap) and dnsmasq serving
 *   it. Taps and uplinks are looked up before anything is made.
 * Both leave nothing of their own behind on failure: leases taken in the call go back to
 *   what they were, and what was configured for them is removed.
 * stopped (also release): every lease of the domain's MACs released into its reserved
 *   state, its reservation removed, a routed tap's addresses, route and proxy entry removed,
 *   and the host's v6pd dnsmasq made to forget the guests' DHCPv6 leases (a restart left to
 *   a worker: dnsmasq_leases_forget()); failures are logged to stderr one line each and the
 *   rest still done. Returns 0 unless the store cannot be opened.
 * port-created, port-deleted: prepare's lease and reservation, and stopped's release, for a
 *   port of a libvirt network the config lists. port-deleted, and stopped for an interface on
 *   such a network, also make libvirt's dnsmasq forget the MAC's DHCPv6 leases
 *   (dhcp6release.h), so that its reservation is free for a new DUID (a domain undefined and
 *   defined again).
 * Whenever a reservation of such a network changes or goes, libvirt's dnsmasq gets SIGHUP
 *   (dnsmasq_reload_libvirt()): it forgets a changed or removed file's record only then. */
int hook_domain_prepare(struct hook *h, const struct dom *d);
int hook_domain_start(struct hook *h, const struct dom *d, bool reconnect);
int hook_domain_stopped(struct hook *h, const struct dom *d);
int hook_port_created(struct hook *h, const struct net_port *p);
int hook_port_deleted(struct hook *h, const struct net_port *p);
/* Closes the store and the netlink socket; accepts a hook that opened neither. */
void hook_close(struct hook *h);

/* ---- host.c: the host side, for ops.c ---- */

/* One managed interface in one call. */
struct work {
	const struct vmconf_entry *e;
	const char *tap;		/* VMCONF_MATCH_TAP: the link */
	char mac[STORE_MAC_MAX];
	char key[STORE_KEY_MAX];
	char ifname[STORE_IFNAME_MAX];	/* the MAC without colons */
	struct lease lease;		/* what the acquire returned */
	struct lease prev;		/* the key's lease before, when had_prev */
	struct lease adopted;		/* a predecessor's lease taken over, when did_adopt */
	bool had_prev, did_adopt, acquired;
	bool was_active;		/* active before this call: not ours to undo */
	bool host_done;			/* host side configured in this call */
	struct nl_link tap_link, uplink; /* VMCONF_MATCH_TAP at start: looked up before anything */
};

static inline const char *net_of(const struct work *w)
{
	return w->e->cfg.name;
}

static inline const char *state_dir(const struct hook *h)
{
	return h->conf->state_dir;
}

/* h->nl, opened on first use. */
int hook_open_nl(struct hook *h);
/* Everything a tap needs that the hook cannot make: the tap itself and the ndpProxy uplink,
 * looked up (into w) before anything is made, so a start that cannot work changes nothing. */
int host_tap_check(struct hook *h, struct work *w);
/* prepare: a v6pd bridge made when missing (libvirt attaches the tap to it before start), a
 * tap made beforehand set to come up without a kernel link-local. */
int host_prepare(struct hook *h, struct work *w);
/* start, reconnect: the bridge or the tap set up (again), and dnsmasq serving it. Sets
 * w->host_done. */
int host_start(struct hook *h, struct work *w);
/* Undoes a tap's host side for lease l (the tap found through the lease's route when the
 * XML no longer names it; one that is gone took its addresses and routes with it). */
int host_tap_teardown(struct hook *h, const struct vmconf_entry *e, const struct lease *l,
		      const char *tap);
