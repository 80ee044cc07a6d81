#include "alloc.h"

#include <errno.h>
#include <stdlib.h>

#include "err.h"

bool alloc_slice_overlaps(const struct alloc_slice *a, const struct alloc_slice *b)
{
	const struct alloc_slice *shorter = a->len <= b->len ? a : b;
	const struct alloc_slice *longer = a->len <= b->len ? b : a;
	unsigned shift = longer->len - shorter->len;

	/* The longer slice lies in the shorter one iff its index, cut to the shorter length,
	 * is the shorter one's index. Slices are at most 120 bits long and indexes at most 64
	 * bits wide, so a shift of 64 or more means the longer index is always 0 there. */
	if (shift >= 64)
		return shorter->index == 0;
	return (longer->index >> shift) == shorter->index;
}

struct range {
	uint64_t start, end; /* [start, end) in units of the candidate slice length */
};

static int range_cmp(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* used[k] as the run of len-slices it covers; end saturates at UINT64_MAX. */
static struct range range_of(const struct alloc_slice *u, unsigned len)
{
	struct range r;

	if (u->len > len) {
		unsigned shift = u->len - len;

		r.start = shift >= 64 ? 0 : u->index >> shift;
		r.end = r.start + 1;
	} else {
		unsigned shift = len - u->len;

		/* Shorter by 64 bits or more: slice 0 holds every 64-bit index, the others none. */
		if (shift >= 64) {
			r.start = u->index == 0 ? 0 : UINT64_MAX;
			r.end = UINT64_MAX;
			return r;
		}
		if (u->index > (UINT64_MAX >> shift)) {
			r.start = r.end = UINT64_MAX;
			return r;
		}
		r.start = u->index << shift;
		r.end = u->index == (UINT64_MAX >> shift) ? UINT64_MAX : (u->index + 1) << shift;
	}
	return r;
}

int alloc_slice_lowest_free(const struct alloc_slice *used, size_t n, unsigned len,
			    uint64_t count, uint64_t *ret)
{
	struct range *r = NULL;
	uint64_t next = 0;

	if (n) {
		r = calloc(n, sizeof(*r));
		if (!r)
			return err_set(-ENOMEM, "out of memory");
	}
	for (size_t k = 0; k < n; k++)
		r[k] = range_of(&used[k], len);
	if (n)
		qsort(r, n, sizeof(*r), range_cmp);
	/* Sweep: next is the lowest index not covered by the ranges seen so far. */
	for (size_t k = 0; k < n && r[k].start <= next; k++)
		if (r[k].end > next)
			next = r[k].end;
	free(r);
	if (next >= count)
		return err_set(-ENOSPC, "no free /%u slice (all %llu in use)", len,
			       (unsigned long long)count);
	*ret = next;
	return 0;
}

int alloc_iid(const struct alloc_iid_request *r, alloc_taken_fn taken, void *ctx,
	      uint64_t *ret)
{
	unsigned host_bits = 128 - r->slice->len;
	uint64_t iid;
	int k;

	if (host_bits > 64)
		host_bits = 64;

	if (r->mode == IID_EUI64) {
		if (!r->mac)
			return err_set(-EINVAL, "iid \"eui64\" needs the interface's MAC address");
		k = addrgen_eui64(r->mac, host_bits, &iid);
		if (k < 0)
			return k;
		if (addrgen_iid_reserved(iid, host_bits))
			return err_set(-EADDRNOTAVAIL, "the EUI-64 IID %016llx is reserved",
				       (unsigned long long)iid);
		k = taken(ctx, iid);
		if (k < 0)
			return k;
		if (k > 0)
			return err_set(-EADDRINUSE, "the EUI-64 IID %016llx is already leased",
				       (unsigned long long)iid);
		*ret = iid;
		return 0;
	}

	for (uint32_t counter = 0; counter < ALLOC_MAX_COUNTER; counter++) {
		if (r->mode == IID_RFC7217)
			iid = addrgen_rfc7217(r->secret, r->slice, r->network, r->key, counter);
		else
			iid = addrgen_stable(r->secret, r->network, r->key, counter, host_bits);
		if (addrgen_iid_reserved(iid, host_bits))
			continue;
		k = taken(ctx, iid);
		if (k < 0)
			return k;
		if (k == 0) {
			*ret = iid;
			return 0;
		}
	}
	return err_set(-ENOSPC, "no free IID for key \"%s\" after %d tries", r->key,
		       ALLOC_MAX_COUNTER);
}
