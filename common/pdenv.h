/* pdenv: the delegated prefixes a DHCPv6 client's hook reports, read from its environment,
 * and the choice of the one prefix v6pd uses. Pure: no I/O; the caller passes the
 * environment and the clocks.
 *
 * dhcpcd (dhcpcd-run-hooks(8)): BOUND6, RENEW6, REBIND6, REBOOT6 carry every IA_PD in full as
 * new_dhcp6_ia_pdI_prefixN with _length, _pltime, _vltime, and new_dhcp6_ia_pdI_iaid (8 hex
 * digits), in no fixed order; a prefix the server withdraws comes with vltime 0 (RFC 8415
 * 18.2.10.1). EXPIRE6, RELEASE6, STOP6 and STOPPED: none is left.
 * ISC dhclient (dhclient-script(8), -P): one call per prefix, new_ip6_prefix=ADDR/LEN with
 * new_max_life, new_preferred_life, new_iaid (aa:bb:cc:dd); new_max_life 0 withdraws it;
 * EXPIRE6, RELEASE6, STOP6 name the prefix that is gone in old_ip6_prefix.
 * systemd-networkd (253 and later) through networkd-dispatcher: the output of `networkctl
 * --json=short status IFACE` in $V6PD_NETWORKD_JSON, whose "DHCPv6Client" "Prefixes" give
 * each prefix's deadlines on CLOCK_BOOTTIME.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "prefix.h"

#define PDENV_MAX 32			/* prefixes in one event */
#define PDENV_KNOWN_MAX 64		/* prefixes remembered between events */
#define PDENV_IFNAME_MAX 16
#define PDENV_NETWORKD_VAR "V6PD_NETWORKD_JSON"

enum pdenv_client {
	PDENV_DHCPCD,
	PDENV_DHCLIENT,
	PDENV_NETWORKD,
};

const char *pdenv_client_to_string(enum pdenv_client c);

enum pdenv_kind {
	PDENV_IGNORE,			/* says nothing about prefixes (PREINIT, CARRIER, ...) */
	PDENV_UPDATE,			/* each prefix is added, refreshed or (vltime 0) withdrawn */
	PDENV_REPLACE,			/* the prefixes are all the interface holds */
};

struct pdenv_prefix {
	struct prefix prefix;
	uint32_t vltime;		/* seconds; 0: withdrawn */
	uint32_t pltime;
	bool has_iaid;
	uint32_t iaid;
};

struct pdenv {
	enum pdenv_client client;
	char reason[32];
	char interface[PDENV_IFNAME_MAX];	/* "" when the client did not say */
	enum pdenv_kind kind;
	struct pdenv_prefix prefixes[PDENV_MAX];
	size_t n;
};

/* Reads envp ("NAME=VALUE" strings, NULL-terminated, borrowed). -ENOENT when it is no DHCPv6
 * client's hook environment, -EINVAL naming the variable and value when one is malformed
 * (a prefix with host bits set, a length without its prefix, ...). now_boot_usec is
 * CLOCK_BOOTTIME in microseconds, for networkd's deadlines. */
int pdenv_parse(const char *const *envp, uint64_t now_boot_usec, struct pdenv *ret);

/* An IAID as the clients write it: "ea:68:fd:64" (dhclient, dhcpcd.conf), 8 hex digits
 * "00000001" (dhcpcd's hooks), or a decimal number ("1", as in `ia_pd 1`). */
int pdenv_iaid_from_string(const char *s, uint32_t *ret);

/* Which delegation v6pd follows on a host that holds several: NULL/"" and !has_iaid for any. */
struct pdenv_filter {
	const char *interface;
	bool has_iaid;
	uint32_t iaid;
};

/* Drops the prefixes of other IAs. Returns false when the event is about another interface
 * (ignore it whole). */
bool pdenv_filter_apply(struct pdenv *ev, const struct pdenv_filter *f);

/* A delegated prefix remembered between events (dhclient reports one per call). */
struct pdenv_known {
	char interface[PDENV_IFNAME_MAX];
	struct prefix prefix;
	int64_t valid_until;		/* seconds, the caller's clock */
	int64_t preferred_until;
};

/* Applies ev at now to known[0..*n) (capacity PDENV_KNOWN_MAX): drops what has expired,
 * adds or refreshes each prefix with a valid lifetime, drops each one withdrawn, and for
 * PDENV_REPLACE every other prefix of ev's interface. */
void pdenv_merge(struct pdenv_known *known, size_t *n, const struct pdenv *ev, int64_t now);

/* The prefix to use: current when it is still valid, else the longest-lived, then the
 * lowest. 1 and *ret set, or 0 when none is valid. */
int pdenv_choose(const struct pdenv_known *known, size_t n, const struct prefix *current,
		 int64_t now, struct prefix *ret);
