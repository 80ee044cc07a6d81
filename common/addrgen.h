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

/* "stable", "eui64", "rfc7217", "sequential"; -EINVAL naming the input otherwise.
 * to_string returns NULL for a value outside the enum. */
int iid_mode_from_string(const char *s, enum iid_mode *ret);
const char *iid_mode_to_string(enum iid_mode m);

#define ADDRGEN_SECRET_LEN 32
#define ADDRGEN_SECRET_FILE "secret.key"

struct addrgen_secret {
	uint8_t key[ADDRGEN_SECRET_LEN];
};

/* Loads state_dir/secret.key (exactly ADDRGEN_SECRET_LEN raw bytes), creating it when
 * missing: random bytes from getrandom() are written to a temp file in state_dir (mode 0600
 * whatever the umask), fsynced, linked to secret.key (link() never replaces, so when
 * processes race on first use they all end up reading the first one linked), the temp file
 * is unlinked and state_dir fsynced. Does not create state_dir: -ENOENT when it is missing.
 * Refuses (-EINVAL) a symlink, a non-regular file or one of the wrong size, and (-EPERM) one
 * with any group/other permission bit. Messages name the path, never the contents. */
int addrgen_secret_load(const char *state_dir, struct addrgen_secret *ret);

/* The keyed hash behind stable and rfc7217. Addresses live in DNS and in leases, so this
 * encoding is a compatibility promise: it must never change.
 *
 *   field(x)  = x's length as 4 bytes big-endian, then x's bytes (no NUL)
 *   be32(n)   = n as 4 bytes big-endian
 *   T         = HMAC-SHA-256(key = the 32 secret bytes, message)
 *   IID       = T[0..7] read as a big-endian uint64, keeping only its low host_bits bits
 *
 * stable:  message = field("v6pd-stable") | field(network) | field(key) | be32(counter)
 * rfc7217: message = field("v6pd-rfc7217") | P | len | field(key) | field(network)
 *                    | be32(counter)
 *          where P is the slice's 16 address bytes with every bit past its length cleared
 *          and len is the slice length as one byte; host_bits = min(128 - len, 64).
 * The leading tag keeps the two modes' inputs apart under one secret. */

/* For the short-lived static binaries (the CNI plugin, the libvirt hook), before any other
 * libcrypto use: initialises OpenSSL without reading openssl.cnf, without the legacy name
 * tables (EVP_get_digestbyname) and without error strings. Those are most of OpenSSL 3's
 * start-up: about 5 of the 8.6 million instructions of a bridge-mode ADD, and a third of its
 * peak RSS. Fetching by name (EVP_MAC_fetch "HMAC", EVP_sha256()) and every hash are
 * unchanged. Not for processes that also do TLS through libssl (v6pdctl): they want the
 * system's openssl.cnf. -EIO when OpenSSL refuses. */
int addrgen_crypto_init_lean(void);

/* The IID for (network, key, counter) in a slice with host_bits host bits (8..64; anything
 * else is a programmer error). The prefix is not an input. */
uint64_t addrgen_stable(const struct addrgen_secret *s, const char *network, const char *key,
			uint32_t counter, unsigned host_bits);

/* RFC 7217 section 5: F(Prefix, Net_Iface, Network_ID, DAD_Counter, secret_key), with the
 * slice as Prefix, the key as Net_Iface and the network name as Network_ID, cut to the
 * slice's host bits (at most 64; slice->len must be <= 120). */
uint64_t addrgen_rfc7217(const struct addrgen_secret *s, const struct prefix *slice,
			 const char *network, const char *key, uint32_t counter);

/* Modified EUI-64 from a 48-bit MAC (RFC 4291 appendix A: flip the U/L bit, insert ff:fe);
 * 00:11:22:33:44:55 gives 0211:22ff:fe33:4455. -EINVAL when host_bits is not 64 (a slice
 * longer than /64 has no room). */
int addrgen_eui64(const uint8_t mac[6], unsigned host_bits, uint64_t *ret);

/* Whether iid must never be handed out in a slice with host_bits host bits (8..64):
 * - 0 (subnet-router anycast, RFC 4291) and 1 (the slice's gateway, v6pd's convention);
 * - host_bits 64: the RFC 5453 registry: 0200:5eff:fe00:0000-0200:5eff:feff:ffff (the IANA
 *   Ethernet block, including 0200:5eff:fe00:5213 for proxy mobile IPv6, RFC 6543) and
 *   fdff:ffff:ffff:ff80-fdff:ffff:ffff:ffff (RFC 2526 subnet anycast, EUI-64 format);
 * - host_bits < 64: the highest 128 values, 2^host_bits - 128 .. 2^host_bits - 1 (RFC 2526
 *   section 2, non-EUI-64 format).
 * The smallest slice (/120, 8 host bits) thus keeps 2..127 usable (126 IIDs). */
bool addrgen_iid_reserved(uint64_t iid, unsigned host_bits);

/* The gateway IID (1): slice::1 is the bridge's global address. */
#define ADDRGEN_GATEWAY_IID 1

/* Parses "aa:bb:cc:dd:ee:ff" or "aa-bb-cc-dd-ee-ff" (case-insensitive, one separator
 * throughout, exactly two hex digits per byte); -EINVAL quoting the input otherwise. Any
 * MAC parses, multicast included. */
int addrgen_mac_from_string(const char *s, uint8_t ret[6]);
