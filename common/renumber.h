/* renumber: moves every live attachment to the host's current delegated prefix (DESIGN.md
 * decision 8), after store_prefix_set() changed it.
 *
 * Each lease keeps its slice index and IID, so its new address is the old one under the new
 * prefix. Per lease the store records how its workload is attached and which host prefix its
 * live attachment carries (store_renumber_pending()); renumber_run() moves each one:
 *
 *   container   (through the netns the lease recorded; a netns or interface that is gone is
 *               skipped) the new address with the old one's prefix length; the old one
 *               deprecated (preferred_lft 0, valid_lft the grace: the kernel removes it);
 *               routes via the slice's old ::1 (IPAM role) moved to its new ::1
 *   gateways    the slice's ::1 on bridges and routed taps (and wherever a host link carries
 *               the old one): the new one added, the old one deprecated the same way
 *   routes      the host route to the address (or its slice) on the same link; the old one
 *               given RTA_EXPIRES = grace
 *   proxy NDP   the entry for the new address on the uplink; the old one recorded as draining
 *               and removed by renumber_drain() once the grace is over
 *   VMs         the DHCPv6 reservation rewritten (dnsmasq, dnsmasq.h); with the new ::1 on
 *               its bridge or tap, dnsmasq advertises the new prefix and the guest follows
 *   neighbours  the host learns each container's new address at its MAC, the container
 *               the slice's new ::1 at the bridge's (STALE entries): no multicast
 *               solicitation, which a bridge without an MLD querier floods to every port
 *   DNS         dns_lease_renumbered()
 *
 * Every workload gets its new address (and is no longer tentative) before any host route
 * to the new prefix exists, so the first packet to it finds it: 100 containers answer at
 * their new addresses within ~70 ms of `v6pdctl prefix set` (bench/renumber).
 *
 * then records the lease as carrying the current prefix, and what drains, in one
 * transaction. Everything is idempotent: a run that died half-way is finished by the next
 * one; with nothing pending a run does nothing. Runs in the host's network namespace (the
 * calling thread's). The core logs nothing: what the caller should tell the operator is in
 * the report.
 */
#pragma once

#include <stdint.h>

#include "store.h"

#define RENUMBER_NOTES_MAX 8
#define RENUMBER_NOTE_LEN 320

struct renumber_opts {
	int64_t now;
	int64_t grace;			/* seconds an old address stays deprecated, unless a
					 * network's renumberGrace says otherwise; 0: removed at
					 * once */
};

struct renumber_report {
	unsigned pending;		/* leases to move when the run began */
	unsigned moved;			/* now carrying the current prefix */
	unsigned interfaces;		/* workload interfaces given their new address */
	unsigned host;			/* host objects: gateways, routes, proxy entries,
					 * reservations */
	unsigned gone;			/* namespaces or interfaces no longer there */
	unsigned failed;		/* left for the next run (see notes) */
	unsigned dns_failed;		/* left pending for `v6pdctl dns sync` (see notes) */
	unsigned n_notes;
	char notes[RENUMBER_NOTES_MAX][RENUMBER_NOTE_LEN];
};

/* Moves every pending lease (see above). Returns 0 when every lease moved (DNS failures
 * aside), or the first failure after trying them all (a negative errno with its message;
 * those leases stay pending). *ret (may be NULL) gets the counts either way. */
int renumber_run(struct store *s, const struct renumber_opts *o, struct renumber_report *ret);

/* Removes what drained: proxy entries and routes whose grace is over (addresses the kernel
 * removed itself) and forgets them. Returns how many were due. */
int renumber_drain(struct store *s, int64_t now);
