/* v6pdctl: shared state of one invocation. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "store.h"

#define CTL_MAX_ARGS 4

/* Options; which a verb accepts is in its table entry (main.c). */
enum {
	OPT_NETWORK = 1 << 0,
	OPT_ADDRESS = 1 << 1,
	OPT_OLDER_THAN = 1 << 2,
	OPT_FORGET = 1 << 3,
	OPT_URI = 1 << 4,		/* libvirt verbs: the libvirt connection URI */
	OPT_RESTART = 1 << 5,
	OPT_LIBVIRT = 1 << 6,		/* gc --libvirt */
	OPT_CONFIG = 1 << 7,		/* libvirt verbs: the libvirt hook's config file */
	OPT_PD_INTERFACE = 1 << 8,	/* prefix from-dhcp-env */
	OPT_PD_IAID = 1 << 9,
};

struct vmconf;

struct ctl {
	const char *state_dir;
	bool json;
	const char *network;
	const char *address;
	const char *older_than;
	bool forget;
	const char *uri;		/* NULL: libvirt's default */
	bool restart;
	bool libvirt;
	const char *config;		/* NULL: vmconf_default_path() */
	const struct vmconf *vm;	/* loaded for the verbs that use it */
	const char *pd_interface;	/* NULL: the host config's pdInterface */
	const char *pd_iaid;		/* NULL: the host config's pdIaid */
	const char *arg[CTL_MAX_ARGS];
	int nargs;
	struct store *store;
	int64_t now;
};

/* Each returns 0 (exit 0) or a negative errno with err_set() done (exit 1). */
int cmd_prefix_set(struct ctl *c);
int cmd_prefix_show(struct ctl *c);
int cmd_networks(struct ctl *c);
int cmd_leases(struct ctl *c);
int cmd_lease_reserve(struct ctl *c);
int cmd_lease_show(struct ctl *c);
int cmd_lease_release(struct ctl *c);
int cmd_gc(struct ctl *c);
int cmd_dns_sync(struct ctl *c);
int cmd_dns_export(struct ctl *c);
int cmd_dns_show(struct ctl *c);
/* cmd_renumber.c: the delegated prefix from a DHCPv6 client's hook, renumbering, drains */
int cmd_prefix_from_dhcp_env(struct ctl *c);
int cmd_renumber(struct ctl *c);
/* Sets p as the host prefix and moves every live attachment to it (renumber.h), after the
 * drains that are due; prints the outcome. why: what reported p (NULL: the operator). */
int ctl_prefix_apply(struct ctl *c, const struct prefix *p, const char *why);
/* What prefix show says about a renumbering: what drains, what is left to move (into: JSON
 * keys "draining" and "pending"; NULL: text). */
int ctl_renumber_status(struct ctl *c, json_t *into);
/* cmd_libvirt.c: the libvirt API */
int cmd_libvirt_network_define(struct ctl *c);
/* Releases the active leases of the config's networks whose domain libvirt no longer has;
 * *ret_released and *ret_domains get the counts. */
int libvirt_gc(struct ctl *c, int *ret_released, int *ret_domains);

/* output.c */
json_t *out_lease_json(const struct lease *l);
json_t *out_network_json(const struct store_net_info *n);
void out_json(json_t *j);	/* prints and frees */
void out_lease_text(const struct lease *l, int64_t now);
char *out_time(int64_t t, char *buf, size_t size);	/* RFC 3339 UTC, "-" for 0 */
char *out_age(int64_t seconds, char *buf, size_t size);	/* "3d", "5h", "12m", "40s" */

/* A simple aligned table: add rows of ncols strings, then print. */
struct table;
struct table *table_new(int ncols, const char *const *headers);
int table_add(struct table *t, const char *const *cells);
void table_print(struct table *t);
void table_free(struct table *t);
