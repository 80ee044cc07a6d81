#include "prefix.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

/* The address as a 128-bit number, most significant half first. */
struct u128 {
	uint64_t hi, lo;
};

static struct u128 u128_from_addr(const struct in6_addr *a)
{
	struct u128 v = { 0, 0 };

	for (int i = 0; i < 8; i++) {
		v.hi = v.hi << 8 | a->s6_addr[i];
		v.lo = v.lo << 8 | a->s6_addr[i + 8];
	}
	return v;
}

static void u128_to_addr(struct u128 v, struct in6_addr *ret)
{
	for (int i = 7; i >= 0; i--) {
		ret->s6_addr[i] = (uint8_t)v.hi;
		ret->s6_addr[i + 8] = (uint8_t)v.lo;
		v.hi >>= 8;
		v.lo >>= 8;
	}
}

/* 2^n - 1, n >= 0 (all ones from 64 up). */
static uint64_t low_ones(unsigned n)
{
	return n >= 64 ? UINT64_MAX : (UINT64_C(1) << n) - 1;
}

/* The netmask of a /len: the top len bits set. */
static struct u128 u128_mask(unsigned len)
{
	struct u128 m;

	assert(len <= 128);
	m.hi = len >= 64 ? UINT64_MAX : ~low_ones(64 - len);
	m.lo = len <= 64 ? 0 : ~low_ones(128 - len);
	return m;
}

static struct u128 u128_and(struct u128 a, struct u128 b)
{
	return (struct u128){ a.hi & b.hi, a.lo & b.lo };
}

static struct u128 u128_or(struct u128 a, struct u128 b)
{
	return (struct u128){ a.hi | b.hi, a.lo | b.lo };
}

static struct u128 u128_not(struct u128 a)
{
	return (struct u128){ ~a.hi, ~a.lo };
}

static bool u128_eq(struct u128 a, struct u128 b)
{
	return a.hi == b.hi && a.lo == b.lo;
}

/* s in 0..127 */
static struct u128 u128_shl(struct u128 v, unsigned s)
{
	assert(s < 128);
	if (s == 0)
		return v;
	if (s >= 64)
		return (struct u128){ v.lo << (s - 64), 0 };
	return (struct u128){ v.hi << s | v.lo >> (64 - s), v.lo << s };
}

static struct u128 u128_shr(struct u128 v, unsigned s)
{
	assert(s < 128);
	if (s == 0)
		return v;
	if (s >= 64)
		return (struct u128){ 0, v.hi >> (s - 64) };
	return (struct u128){ v.hi >> s, v.lo >> s | v.hi << (64 - s) };
}

/* The bits of a at positions [from, to) counting from the most significant bit, as a
 * number. */
static struct u128 u128_bits(struct u128 a, unsigned from, unsigned to)
{
	struct u128 field;

	assert(from < to && to <= 128);
	field = u128_and(u128_mask(to), u128_not(u128_mask(from)));
	return u128_shr(u128_and(a, field), 128 - to);
}

/* Checks shared by addresses and prefixes; what names the input in messages. */
static int check_text(const char *what, const char *s)
{
	char q[ERR_QUOTE_BUFLEN];

	if (!*s)
		return err_set(-EINVAL, "%s \"\": empty", what);
	for (const char *c = s; *c; c++)
		if (*c == ' ' || (*c >= '\t' && *c <= '\r'))
			return err_set(-EINVAL, "%s \"%s\": whitespace is not allowed", what,
				       err_quote(s, q));
	if (strchr(s, '%'))
		return err_set(-EINVAL, "%s \"%s\": zone ids are not allowed", what, err_quote(s, q));
	return 0;
}

/* inet_pton on the first n bytes of s. */
static bool parse_addr(const char *s, size_t n, struct in6_addr *ret)
{
	char buf[INET6_ADDRSTRLEN];

	if (n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return inet_pton(AF_INET6, buf, ret) == 1;
}

int prefix_addr_from_string(const char *s, struct in6_addr *ret)
{
	char q[ERR_QUOTE_BUFLEN];
	struct in6_addr a;
	int r;

	assert(s && ret);
	r = check_text("address", s);
	if (r < 0)
		return r;
	if (strchr(s, '/'))
		return err_set(-EINVAL, "address \"%s\": a prefix length is not allowed here",
			       err_quote(s, q));
	if (!parse_addr(s, strlen(s), &a))
		return err_set(-EINVAL, "address \"%s\": not an IPv6 address", err_quote(s, q));
	*ret = a;
	return 0;
}

int prefix_from_string(const char *s, struct prefix *ret)
{
	char q[ERR_QUOTE_BUFLEN];
	struct prefix p;
	const char *slash, *len;
	size_t ndigits;
	unsigned n = 0;
	int r;

	assert(s && ret);
	r = check_text("prefix", s);
	if (r < 0)
		return r;
	slash = strchr(s, '/');
	if (!slash)
		return err_set(-EINVAL, "prefix \"%s\": missing \"/LENGTH\"", err_quote(s, q));
	if (!parse_addr(s, (size_t)(slash - s), &p.addr))
		return err_set(-EINVAL, "prefix \"%s\": not an IPv6 address before \"/\"",
			       err_quote(s, q));

	len = slash + 1;
	ndigits = strspn(len, "0123456789");
	if (!*len)
		return err_set(-EINVAL, "prefix \"%s\": missing length after \"/\"", err_quote(s, q));
	if (len[ndigits])
		return err_set(-EINVAL, "prefix \"%s\": length is not a decimal number",
			       err_quote(s, q));
	if (len[0] == '0' && ndigits > 1)
		return err_set(-EINVAL, "prefix \"%s\": length has a leading zero", err_quote(s, q));
	for (size_t i = 0; i < ndigits && n <= 128; i++)
		n = n * 10 + (unsigned)(len[i] - '0');
	if (n > 128)
		return err_set(-EINVAL, "prefix \"%s\": length is out of range 0..128",
			       err_quote(s, q));
	p.len = (uint8_t)n;

	if (!u128_eq(u128_and(u128_from_addr(&p.addr), u128_not(u128_mask(p.len))),
		     (struct u128){ 0, 0 }))
		return err_set(-EINVAL, "prefix \"%s\": host bits set beyond /%u", err_quote(s, q),
			       n);
	*ret = p;
	return 0;
}

char *prefix_addr_to_string(const struct in6_addr *a, char *buf, size_t size)
{
	char tmp[INET6_ADDRSTRLEN];
	const uint8_t *b = a->s6_addr;
	static const uint8_t zero[12];

	assert(buf && size > 0);
	/* glibc's inet_ntop prints ::/96 addresses (other than :: and ::x) in the deprecated
	 * IPv4-compatible form, "::0.1.0.2"; RFC 5952 section 5 keeps dotted quads for
	 * addresses known to embed IPv4, like ::ffff:0:0/96 (which inet_ntop gets right). */
	if (!memcmp(b, zero, sizeof(zero)) && (b[12] || b[13]))
		(void)snprintf(tmp, sizeof(tmp), "::%x:%x", b[12] << 8 | b[13],
			       b[14] << 8 | b[15]);
	else if (!inet_ntop(AF_INET6, a, tmp, sizeof(tmp)))
		tmp[0] = '\0';	/* cannot happen: tmp holds any address */
	(void)snprintf(buf, size, "%s", tmp);
	return buf;
}

char *prefix_to_string(const struct prefix *p, char *buf, size_t size)
{
	char tmp[INET6_ADDRSTRLEN];

	assert(p && buf && size > 0);
	(void)snprintf(buf, size, "%s/%u", prefix_addr_to_string(&p->addr, tmp, sizeof(tmp)),
		       (unsigned)p->len);
	return buf;
}

/* Whether slice_len can cut slices from p; records the message when not. */
static int check_slice_len(const struct prefix *p, unsigned slice_len)
{
	char ps[PREFIX_STRLEN];

	if (p->len >= PREFIX_SLICE_MAX)
		return err_set(-EINVAL, "prefix \"%s\": too long to cut slices from "
			       "(slices are /%d at most)", prefix_to_string(p, ps, sizeof(ps)),
			       PREFIX_SLICE_MAX);
	if (slice_len <= p->len || slice_len > PREFIX_SLICE_MAX)
		return err_set(-EINVAL, "prefix \"%s\": slice length %u is not in %u..%d",
			       prefix_to_string(p, ps, sizeof(ps)), slice_len, p->len + 1u,
			       PREFIX_SLICE_MAX);
	return 0;
}

uint64_t prefix_slice_count(const struct prefix *p, unsigned slice_len)
{
	assert(p);
	if (slice_len <= p->len || slice_len > PREFIX_SLICE_MAX)
		return 0;
	return slice_len - p->len >= 64 ? UINT64_MAX : UINT64_C(1) << (slice_len - p->len);
}

int prefix_slice(const struct prefix *p, unsigned slice_len, uint64_t index, struct prefix *ret)
{
	char ps[PREFIX_STRLEN];
	struct u128 net, sub;
	unsigned width;
	int r;

	assert(p && ret);
	r = check_slice_len(p, slice_len);
	if (r < 0)
		return r;
	width = slice_len - p->len;
	if (width < 64 && index >> width)
		return err_set(-ERANGE, "prefix \"%s\": slice index %" PRIu64 " is out of range "
			       "(it holds %" PRIu64 " /%u slices)",
			       prefix_to_string(p, ps, sizeof(ps)), index, UINT64_C(1) << width,
			       slice_len);

	net = u128_and(u128_from_addr(&p->addr), u128_mask(p->len));
	sub = u128_shl((struct u128){ 0, index }, 128 - slice_len);
	u128_to_addr(u128_or(net, sub), &ret->addr);
	ret->len = (uint8_t)slice_len;
	return 0;
}

int prefix_slice_index(const struct prefix *p, const struct prefix *s, uint64_t *ret)
{
	char ps[PREFIX_STRLEN], ss[PREFIX_STRLEN];
	struct u128 index;
	int r;

	assert(p && s && ret);
	r = check_slice_len(p, s->len);
	if (r < 0)
		return r;
	if (!prefix_contains(p, &s->addr))
		return err_set(-EINVAL, "slice \"%s\" is not inside prefix \"%s\"",
			       prefix_to_string(s, ss, sizeof(ss)),
			       prefix_to_string(p, ps, sizeof(ps)));
	index = u128_bits(u128_from_addr(&s->addr), p->len, s->len);
	if (index.hi)
		return err_set(-ERANGE,
			       "prefix \"%s\": the index of slice \"%s\" does not fit in 64 bits",
			       prefix_to_string(p, ps, sizeof(ps)),
			       prefix_to_string(s, ss, sizeof(ss)));
	*ret = index.lo;
	return 0;
}

bool prefix_contains(const struct prefix *p, const struct in6_addr *a)
{
	struct u128 mask;

	assert(p && a);
	mask = u128_mask(p->len);
	return u128_eq(u128_and(u128_from_addr(a), mask), u128_and(u128_from_addr(&p->addr), mask));
}

bool prefix_contains_prefix(const struct prefix *p, const struct prefix *s)
{
	assert(p && s);
	return s->len >= p->len && prefix_contains(p, &s->addr);
}

void prefix_addr_with_host(const struct prefix *s, uint64_t host, struct in6_addr *ret)
{
	struct u128 net, h = { 0, host };

	assert(s && ret);
	net = u128_and(u128_from_addr(&s->addr), u128_mask(s->len));
	h = u128_and(h, u128_not(u128_mask(s->len)));
	u128_to_addr(u128_or(net, h), ret);
}

uint64_t prefix_addr_low64(const struct in6_addr *a)
{
	assert(a);
	return u128_from_addr(a).lo;
}
