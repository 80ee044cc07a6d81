/* prefix: IPv6 prefixes and the slices cut from them. Pure: no I/O, no allocation.
 *
 * A slice is the n-th sub-prefix of length L of a prefix P (P.len < L <= 120); it is named
 * by its index n, never by its address, so a renumbered P keeps every slice's index.
 */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PREFIX_SLICE_MAX 120
/* "ffff:...:ffff/128" plus NUL */
#define PREFIX_STRLEN (INET6_ADDRSTRLEN + 4)

struct prefix {
	struct in6_addr addr;
	uint8_t len;
};

/* Parses "ADDR/LEN" in every textual IPv6 form inet_pton accepts (compressed, full, with an
 * embedded IPv4 tail, any case). Rejects empty input, zone ids ("%eth0"), a missing or
 * non-decimal or out of range length, leading zeros in the length ("/064"), whitespace, and
 * host bits set beyond LEN, with -EINVAL and a message quoting the input (non-printable
 * bytes as \xNN, long input cut). */
int prefix_from_string(const char *s, struct prefix *ret);

/* Parses a bare IPv6 address (no length, no zone id); errors as prefix_from_string. */
int prefix_addr_from_string(const char *s, struct in6_addr *ret);

/* RFC 5952 text ("2001:db8::/56", "::ffff:192.0.2.1"; never the deprecated IPv4-compatible
 * "::0.1.0.2" that glibc's inet_ntop prints). buf should hold PREFIX_STRLEN (an address:
 * INET6_ADDRSTRLEN); shorter buffers get truncated text. Returns buf. */
char *prefix_to_string(const struct prefix *p, char *buf, size_t size);
char *prefix_addr_to_string(const struct in6_addr *a, char *buf, size_t size);

/* How many slices of length slice_len P holds, saturated at UINT64_MAX. 0 if slice_len is
 * not in (P.len, 120]. */
uint64_t prefix_slice_count(const struct prefix *p, unsigned slice_len);

/* The index-th slice of length slice_len of P. -EINVAL if slice_len is not in (P.len, 120],
 * -ERANGE if index >= 2^(slice_len - P.len), which is prefix_slice_count() when that is
 * below 2^64; from a width of 64 bits up every uint64_t index is valid, UINT64_MAX too. */
int prefix_slice(const struct prefix *p, unsigned slice_len, uint64_t index, struct prefix *ret);

/* The index of slice S within P (the inverse of prefix_slice()). Bits of S beyond S.len are
 * ignored, so {addr, L} gives the index of the /L slice holding addr. -EINVAL if S is not a
 * slice of P (not contained, or S.len not in (P.len, 120]), -ERANGE if the index does not
 * fit in 64 bits (possible only when S.len - P.len > 64). */
int prefix_slice_index(const struct prefix *p, const struct prefix *s, uint64_t *ret);

/* Whether address a lies in P; whether prefix S lies wholly in P (S == P counts). */
bool prefix_contains(const struct prefix *p, const struct in6_addr *a);
bool prefix_contains_prefix(const struct prefix *p, const struct prefix *s);

/* The address in slice S whose host bits (the low 128 - S.len bits) are host; bits of host
 * above that width are ignored. */
void prefix_addr_with_host(const struct prefix *s, uint64_t host, struct in6_addr *ret);

/* The low 64 bits of a (the IID, or the host bits of a slice longer than /64 when masked). */
uint64_t prefix_addr_low64(const struct in6_addr *a);
