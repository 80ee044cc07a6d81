/* config: a network's v6pd settings from JSON (the CNI netconf, its "ipam" object, or a
 * network in the libvirt hook's config). Unknown keys are ignored; a key of the wrong type
 * or a bad value is an error naming the key and the value. */
#pragma once

#include <jansson.h>
#include <limits.h>

#include "dns.h"
#include "store.h"

#define CONFIG_DEFAULT_STATE_DIR "/var/lib/v6pd"
#define CONFIG_DEFAULT_MTU 1500
#define CONFIG_GATEWAY_LL "fe80::1"

enum net_mode {
	NET_MODE_BRIDGE,
	NET_MODE_ROUTED,
};

struct net_config {
	char name[STORE_NAME_MAX];
	enum net_mode mode;
	char bridge[16];		/* bridge mode; default "v6pd-<name>" cut to 15 */
	char ndp_proxy[16];		/* routed mode: uplink answering NS; "" for none */
	unsigned mtu;
	int64_t renumber_grace;		/* "renumberGrace" seconds; -1: the host's default */
	char state_dir[PATH_MAX];
	struct store_network net;	/* net.name points at name above */
	struct dns_config dns;		/* "dns": publishing leases (disabled when absent) */
};

/* Checks a network name as CNI does: [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 127 bytes. */
int config_check_name(const char *name);

/* Reads obj's v6pd keys into ret, with name as the network's name (the netconf's "name").
 * obj is borrowed. */
int config_network_from_json(const json_t *obj, const char *name, struct net_config *ret);

/* Re-points ret->net.name after the struct was copied. */
static inline void config_fix_name(struct net_config *c)
{
	c->net.name = c->name;
}
