/* hostconf: the host's own v6pd settings, /etc/v6pd/v6pd.json ($V6PD_CONFIG overrides the
 * path), read by v6pdctl:
 *
 *   {"renumberGrace": "10m", "pdInterface": "eth0", "pdIaid": "1"}
 *
 * renumberGrace: how long an old address stays, deprecated, after a renumbering (a network's
 * netconf may set its own); pdInterface, pdIaid: which delegation `v6pdctl prefix
 * from-dhcp-env` follows when the host holds several. Unknown keys are ignored.
 */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#define HOSTCONF_PATH "/etc/v6pd/v6pd.json"
#define HOSTCONF_ENV "V6PD_CONFIG"
#define HOSTCONF_DEFAULT_GRACE 600	/* seconds: 10 min */

struct hostconf {
	char path[PATH_MAX];		/* "" when the file does not exist */
	int64_t renumber_grace;		/* seconds */
	char pd_interface[16];		/* "": any */
	bool has_pd_iaid;
	uint32_t pd_iaid;
};

/* $V6PD_CONFIG when set and not empty, else HOSTCONF_PATH. */
const char *hostconf_default_path(void);

/* Loads path into ret; a missing file gives the defaults (ret->path ""). Any other failure
 * has a message naming the file and the key. */
int hostconf_load(const char *path, struct hostconf *ret);
