/* vmconf: /etc/v6pd/libvirt.json, which libvirt interfaces v6pd manages and how. Read by the
 * libvirt hook (v6pd-libvirt-hook) and by `v6pdctl libvirt ...`.
 *
 *   {"stateDir": "/var/lib/v6pd",
 *    "interfaces": [
 *      {"match": {"network": "default"}, "name": "vm-default"},
 *      {"match": {"bridge": "v6pd-vm"}, "name": "vms", "mode": "bridge", "subnetId": 3},
 *      {"match": {"tap": "vmtap*"}, "name": "routed", "mode": "routed", "ndpProxy": "eth0"}]}
 *
 * Every entry takes the CNI netconf's keys (config_network_from_json()); "name" names the
 * v6pd network and is required. A bridge match manages that bridge (its "bridge" key defaults
 * to the match); a tap match is routed; a network match leaves the host side to libvirt.
 */
#pragma once

#include <limits.h>
#include <stddef.h>

#include "config.h"
#include "store.h"

#define VMCONF_PATH "/etc/v6pd/libvirt.json"
#define VMCONF_ENV "V6PD_LIBVIRT_CONFIG"	/* overrides VMCONF_PATH (tests) */
#define VMCONF_ENTRIES_MAX 1024

enum vmconf_match {
	VMCONF_MATCH_NETWORK,	/* <interface type='network'><source network='NAME'/> */
	VMCONF_MATCH_BRIDGE,	/* <interface type='bridge'><source bridge='NAME'/> */
	VMCONF_MATCH_TAP,	/* <interface type='ethernet'><target dev='PATTERN'/> (fnmatch) */
};

struct vmconf_entry {
	enum vmconf_match match;
	char pattern[STORE_NAME_MAX];	/* network name, bridge name or tap pattern */
	struct net_config cfg;		/* the v6pd network: the CNI netconf keys */
};

struct vmconf {
	char path[PATH_MAX];
	char state_dir[PATH_MAX];
	struct vmconf_entry *entries;	/* owned */
	size_t n_entries;
};

/* $V6PD_LIBVIRT_CONFIG when set and not empty, else VMCONF_PATH. */
const char *vmconf_default_path(void);

/* Loads path. -ENOENT (no message) when the file does not exist: nothing is managed. Any
 * other failure has a message naming the file and the key, e.g.
 * `/etc/v6pd/libvirt.json: "interfaces"[1] ("vms"): "sliceLength" 200: must be 64..120`. */
int vmconf_load(const char *path, struct vmconf *ret);
void vmconf_free(struct vmconf *c);

/* The entry whose match is {"network": network} (a libvirt network's name), or NULL. */
const struct vmconf_entry *vmconf_find_network(const struct vmconf *c, const char *network);
