/* alloc: choosing a free slice and a free IID. Pure: what is taken comes from the caller,
 * so every store backend makes the same choices. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addrgen.h"
#include "prefix.h"

/* Tries per key before a stable/rfc7217 IID search gives up. */
#define ALLOC_MAX_COUNTER 256

struct alloc_slice {
	uint64_t index;
	unsigned len;
};

/* Whether two slices of one base prefix overlap (they may differ in length). */
bool alloc_slice_overlaps(const struct alloc_slice *a, const struct alloc_slice *b);

/* The lowest index i < count such that slice (i, len) overlaps none of used[0..n).
 * -ENOSPC when there is none. */
int alloc_slice_lowest_free(const struct alloc_slice *used, size_t n, unsigned len,
			    uint64_t count, uint64_t *ret);

/* Returns 1 when iid is taken, 0 when free, negative errno on failure. */
typedef int (*alloc_taken_fn)(void *ctx, uint64_t iid);

struct alloc_iid_request {
	enum iid_mode mode;			/* not IID_SEQUENTIAL: the store finds gaps itself */
	const struct addrgen_secret *secret;	/* stable, rfc7217 */
	const char *network;
	const char *key;
	const struct prefix *slice;
	const uint8_t *mac;			/* eui64; NULL otherwise */
};

/* Derives the IID for the request, bumping the collision counter past reserved and taken
 * IIDs. -ENOSPC after ALLOC_MAX_COUNTER tries, -EADDRINUSE when the EUI-64 IID is taken,
 * -EINVAL when eui64 has no MAC. */
int alloc_iid(const struct alloc_iid_request *r, alloc_taken_fn taken, void *ctx,
	      uint64_t *ret);
