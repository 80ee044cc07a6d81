/* renumber's internals, shared by renumber.c and renumber_host.c only. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "netlink.h"
#include "renumber.h"

/* One lease's move: its old and new place. */
struct rn_move {
	const struct store_renumber_item *it;
	struct prefix old_slice, new_slice;
	struct in6_addr old_addr, new_addr;
	struct in6_addr old_gw, new_gw;		/* the slices' ::1 */
	int64_t grace;
	uint8_t mac[6];				/* the workload interface's, when has_mac */
	bool has_mac;
};

/* A gateway already moved in this run. */
struct rn_gw {
	int ifindex;
	struct in6_addr addr;
};

struct rn_ctx {
	struct store *s;
	const struct renumber_opts *o;
	struct renumber_report *rep;
	struct nl_ctx *nl;			/* the host's netns */
	struct nl_link *links;			/* the host's, at the start */
	int n_links;
	struct nl_address *addrs;
	int n_addrs;
	struct nl_route *routes;
	int n_routes;
	struct store_drain *add, *cancel;	/* for store_renumber_commit() */
	size_t n_add, cap_add, n_cancel, cap_cancel;
	struct rn_gw *gws;
	size_t n_gws, cap_gws;
	char libvirt_nets[RENUMBER_NOTES_MAX][STORE_NAME_MAX];	/* reloaded once each */
	size_t n_libvirt_nets;
};

/* A note for the operator (the report keeps the first few). */
void rn_note(struct rn_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Records a drain to add (or, cancel, an object that is live again). */
int rn_drain(struct rn_ctx *c, bool cancel, enum store_drain_kind kind, const char *netns,
	     const char *link, const struct in6_addr *a, unsigned len, const struct prefix *origin,
	     int64_t until);

/* Deprecates old (an address as listed): preferred_lft 0 and valid_lft the grace, so the
 * kernel removes it when the grace is over; grace 0 deletes it. An address already
 * deprecated is left alone: its time keeps running. */
int rn_deprecate(struct nl_ctx *nl, const struct nl_address *old, int64_t grace);

/* The host side of one move (renumber_host.c). */
int rn_host_move(struct rn_ctx *c, const struct rn_move *m);

/* The host link that carries (or will carry) the slice's ::1 for m: its bridge (or, in the
 * IPAM role, whatever link carries the old ::1); NULL for none. */
const struct nl_link *rn_gateway_link(const struct rn_ctx *c, const struct rn_move *m);

/* Neighbour entries for the new address on the host side, before any route to it exists:
 * the workload answers at once, without a solicitation (renumber_host.c). */
int rn_host_seed(struct rn_ctx *c, const struct rn_move *m);
