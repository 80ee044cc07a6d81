/* addrgen: interface identifiers. Pure except addrgen_secret_load().
 *
 * An address is slice | IID, where the IID is the slice's host bits (64 of them for a /64,
 * 48 for a /80, 128 - sliceLength in general; host_bits below). The stable mode hashes
 * (network, key, counter) with HMAC-SHA-256 under a per-host secret; the prefix is not an
 * input, so a renumbered prefix keeps every IID (DESIGN.md decision 2).
 */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "prefix.h"

enum iid_mode {
	IID_STABLE,	/* HMAC-SHA-256(secret, network, key, counter) */
	IID_EUI64,	/* modified EUI-64 from the MAC (RFC 4291 appendix A) */
	IID_RFC7217,	/* RFC 7217 F(): the slice prefix is an input */
	IID_SEQUENTIAL,	/* the lowest free IID from 2 up */
};

int iid_mode_from_string(const char *s, enum iid_mode *ret);
const char *iid_mode_to_string(enum iid_mode m);

#define ADDRGEN_SECRET_LEN 32
#define ADDRGEN_SECRET_FILE "secret.key"

struct addrgen_secret {
	uint8_t key[ADDRGEN_SECRET_LEN];
};

/* Loads state_dir/secret.key, creating it (mode 0600, random bytes from getrandom(),
 * written to a temp file, fsynced, linked into place so concurrent first users agree) when
 * missing. Refuses a file of the wrong size or one readable or writable by group/others. */
int addrgen_secret_load(const char *state_dir, struct addrgen_secret *ret);

/* The IID for (network, key, counter) in a slice with host_bits host bits (8..64). */
uint64_t addrgen_stable(const struct addrgen_secret *s, const char *network, const char *key,
			uint32_t counter, unsigned host_bits);

/* RFC 7217: F(Prefix, Net_Iface, Network_ID, DAD_Counter, secret_key), with the slice as
 * Prefix, the key as Net_Iface and the network name as Network_ID. */
uint64_t addrgen_rfc7217(const struct addrgen_secret *s, const struct prefix *slice,
			 const char *network, const char *key, uint32_t counter);

/* Modified EUI-64 from a 48-bit MAC; -EINVAL for a slice longer than /64 (no room). */
int addrgen_eui64(const uint8_t mac[6], unsigned host_bits, uint64_t *ret);

/* Whether iid must never be handed out in a slice with host_bits host bits: all-zero
 * (subnet-router anycast, RFC 4291), 1 (the slice's gateway, v6pd's convention), the
 * RFC 5453 reserved IIDs for /64 slices (RFC 2526 anycast fdff:ffff:ffff:ff80-ffff, proxy
 * mobile 0200:5eff:fe00:0000-5212, 0200:5eff:fe00:5213, 0200:5eff:fe00:5214-0200:5eff:feff:ffff),
 * and for longer slices the highest 128 values (RFC 2526 section 2). */
bool addrgen_iid_reserved(uint64_t iid, unsigned host_bits);

/* The gateway IID (1): slice::1 is the bridge's global address. */
#define ADDRGEN_GATEWAY_IID 1

/* Parses "aa:bb:cc:dd:ee:ff" (case-insensitive). */
int addrgen_mac_from_string(const char *s, uint8_t ret[6]);
