#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "addrgen.h"
#include "err.h"

/* The known-answer secret: bytes 0x00..0x1f. */
static void kat_secret(struct addrgen_secret *s)
{
	for (int i = 0; i < ADDRGEN_SECRET_LEN; i++)
		s->key[i] = (uint8_t)i;
}

static struct prefix slice_of(const char *addr, unsigned len)
{
	struct prefix p = { .len = (uint8_t)len };

	assert_int_equal(inet_pton(AF_INET6, addr, &p.addr), 1);
	return p;
}

/* --- known answers ---
 *
 * Computed outside v6pd with Python's hmac module, following the encoding in addrgen.h:
 *
 *   import hmac, hashlib, struct, ipaddress
 *   secret = bytes(range(32)); f = lambda b: struct.pack('>I', len(b)) + b
 *   def iid(msg, hb):
 *       v = int.from_bytes(hmac.new(secret, msg, hashlib.sha256).digest()[:8], 'big')
 *       return v & ((1 << hb) - 1)
 *   def stable(net, key, ctr, hb):
 *       return iid(f(b'v6pd-stable') + f(net.encode()) + f(key.encode())
 *                  + struct.pack('>I', ctr), hb)
 *   def rfc7217(slice_, net, key, ctr):
 *       n = ipaddress.IPv6Network(slice_, strict=False); hb = min(128 - n.prefixlen, 64)
 *       return iid(f(b'v6pd-rfc7217') + n.network_address.packed + bytes([n.prefixlen])
 *                  + f(key.encode()) + f(net.encode()) + struct.pack('>I', ctr), hb)
 *
 * and the first one cross-checked with `openssl dgst -sha256 -mac HMAC -macopt hexkey:...`.
 * If one of these fails, every stable address in the field would change: fix the code, not
 * the vector. */

static void test_kat_stable(void **state)
{
	static const struct {
		const char *network, *key;
		uint32_t counter;
		unsigned host_bits;
		uint64_t iid;
	} v[] = {
		{ "web", "default/nginx", 0, 64, UINT64_C(0x5a55c7ed5fa83764) },
		{ "web", "default/nginx", 1, 64, UINT64_C(0xadd4f9bc3dfce876) },
		{ "web", "default/nginx", 0xffffffff, 64, UINT64_C(0x10385b7e4e60342c) },
		{ "web", "default/nginx", 0, 48, UINT64_C(0x0000c7ed5fa83764) },
		{ "web", "default/nginx", 0, 8, UINT64_C(0x64) },
		{ "ab", "c", 0, 64, UINT64_C(0xb1001424e7db1d40) },
		{ "a", "bc", 0, 64, UINT64_C(0xfda2d5c4f71f609d) },
		{ "", "", 0, 64, UINT64_C(0x497f7da9c9227026) },
	};
	struct addrgen_secret s;

	kat_secret(&s);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		assert_int_equal(addrgen_stable(&s, v[i].network, v[i].key, v[i].counter,
						v[i].host_bits),
				 v[i].iid);
}

static void test_kat_rfc7217(void **state)
{
	static const struct {
		const char *addr;
		unsigned len;
		uint32_t counter;
		uint64_t iid;
	} v[] = {
		{ "2001:db8:1:2::", 64, 0, UINT64_C(0x33f55cb284317f29) },
		{ "2001:db8:1:3::", 64, 0, UINT64_C(0x5d4b89adaa2025af) },
		{ "2001:db8:1:2::", 80, 0, UINT64_C(0x0000deb7ad53d53f) },
		{ "2001:db8:1:2::", 64, 1, UINT64_C(0x6475b47bb9d3c955) },
	};
	struct addrgen_secret s;

	kat_secret(&s);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct prefix p = slice_of(v[i].addr, v[i].len);

		assert_int_equal(addrgen_rfc7217(&s, &p, "web", "default/nginx", v[i].counter),
				 v[i].iid);
	}
}

/* --- what is and is not an input --- */

static void test_stable_inputs(void **state)
{
	struct addrgen_secret s, s2;
	uint64_t base;

	kat_secret(&s);
	base = addrgen_stable(&s, "web", "pod", 0, 64);
	assert_int_equal(addrgen_stable(&s, "web", "pod", 0, 64), base);
	assert_int_not_equal(addrgen_stable(&s, "web", "pod", 1, 64), base);
	assert_int_not_equal(addrgen_stable(&s, "web2", "pod", 0, 64), base);
	assert_int_not_equal(addrgen_stable(&s, "web", "pod2", 0, 64), base);
	/* Field boundaries are part of the input. */
	assert_int_not_equal(addrgen_stable(&s, "webp", "od", 0, 64), base);
	assert_int_not_equal(addrgen_stable(&s, "ab", "c", 0, 64),
			     addrgen_stable(&s, "a", "bc", 0, 64));
	s2 = s;
	s2.key[31] ^= 1;
	assert_int_not_equal(addrgen_stable(&s2, "web", "pod", 0, 64), base);
	/* Narrower slices keep the low bits of the same hash. */
	for (unsigned hb = 8; hb < 64; hb++)
		assert_int_equal(addrgen_stable(&s, "web", "pod", 0, hb),
				 base & ((UINT64_C(1) << hb) - 1));
}

/* The whole address of a lease in two different delegated prefixes: the IID half is the
 * same, because nothing prefix-related goes into addrgen_stable(). */
static void test_stable_prefix_not_an_input(void **state)
{
	static const char *const slices[] = { "2001:db8:1200:1::", "2a01:4f8:c0c:abcd::",
					       "fd00::" };
	struct addrgen_secret s;
	uint64_t iid, first = 0;

	kat_secret(&s);
	iid = addrgen_stable(&s, "web", "default/nginx", 0, 64);
	for (size_t i = 0; i < sizeof(slices) / sizeof(slices[0]); i++) {
		struct prefix p = slice_of(slices[i], 64);
		uint64_t low = 0;

		for (int b = 0; b < 8; b++)
			p.addr.s6_addr[8 + b] = (uint8_t)(iid >> (56 - 8 * b));
		for (int b = 8; b < 16; b++)
			low = low << 8 | p.addr.s6_addr[b];
		if (i == 0)
			first = low;
		assert_int_equal(low, first);
	}
	assert_int_equal(first, UINT64_C(0x5a55c7ed5fa83764));
}

static void test_rfc7217_prefix_is_an_input(void **state)
{
	struct addrgen_secret s;
	struct prefix a = slice_of("2001:db8:1:2::", 64), b = slice_of("2001:db8:1:3::", 64);
	struct prefix a80 = slice_of("2001:db8:1:2::", 80);
	struct prefix dirty = slice_of("2001:db8:1:2::dead:beef", 64);
	struct prefix dirty80 = slice_of("2001:db8:1:2:0:ffff:ffff:ffff", 80);
	uint64_t ia;

	kat_secret(&s);
	ia = addrgen_rfc7217(&s, &a, "web", "k", 0);
	assert_int_not_equal(addrgen_rfc7217(&s, &b, "web", "k", 0), ia);
	assert_int_not_equal(addrgen_rfc7217(&s, &a, "web", "k", 1), ia);
	assert_int_not_equal(addrgen_rfc7217(&s, &a, "web2", "k", 0), ia);
	assert_int_not_equal(addrgen_rfc7217(&s, &a, "web", "k2", 0), ia);
	/* Not the stable hash under another name. */
	assert_int_not_equal(addrgen_stable(&s, "web", "k", 0, 64), ia);
	/* The length is an input; bits past it are not. */
	assert_true(addrgen_rfc7217(&s, &a80, "web", "k", 0) >> 48 == 0);
	assert_int_not_equal(addrgen_rfc7217(&s, &a80, "web", "k", 0), ia & 0xffffffffffffULL);
	assert_int_equal(addrgen_rfc7217(&s, &dirty, "web", "k", 0), ia);
	assert_int_equal(addrgen_rfc7217(&s, &dirty80, "web", "k", 0),
			 addrgen_rfc7217(&s, &a80, "web", "k", 0));
	/* A slice shorter than /64 still yields a 64-bit IID. */
	a.len = 56;
	assert_int_not_equal(addrgen_rfc7217(&s, &a, "web", "k", 0), ia);
}

/* --- EUI-64, reserved IIDs, strings --- */

static void test_eui64(void **state)
{
	static const uint8_t mac[6] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55 };
	static const uint8_t local[6] = { 0x02, 0x00, 0x5e, 0x10, 0x00, 0x01 };
	uint64_t iid = 42;

	/* RFC 4291 appendix A: insert ff:fe in the middle, invert the U/L bit. */
	assert_int_equal(addrgen_eui64(mac, 64, &iid), 0);
	assert_int_equal(iid, UINT64_C(0x021122fffe334455));
	assert_int_equal(addrgen_eui64(local, 64, &iid), 0);
	assert_int_equal(iid, UINT64_C(0x00005efffe100001));

	iid = 42;
	err_clear();
	assert_int_equal(addrgen_eui64(mac, 48, &iid), -EINVAL);
	assert_int_equal(iid, 42);
	assert_non_null(strstr(err_msg(-EINVAL), "eui64"));
	assert_non_null(strstr(err_msg(-EINVAL), "48"));
	assert_int_equal(addrgen_eui64(mac, 8, &iid), -EINVAL);
	assert_int_equal(iid, 42);
}

static void test_reserved_64(void **state)
{
	static const struct {
		uint64_t iid;
		bool reserved;
	} v[] = {
		{ 0, true },				/* subnet-router anycast */
		{ 1, true },				/* gateway */
		{ 2, false },
		{ UINT64_C(0x02005efffdffffff), false },
		{ UINT64_C(0x02005efffe000000), true },	/* IANA Ethernet block start */
		{ UINT64_C(0x02005efffe005212), true },
		{ UINT64_C(0x02005efffe005213), true },	/* proxy mobile IPv6 */
		{ UINT64_C(0x02005efffe005214), true },
		{ UINT64_C(0x02005efffeffffff), true },	/* IANA Ethernet block end */
		{ UINT64_C(0x02005effff000000), false },
		{ UINT64_C(0xfdffffffffffff7f), false },
		{ UINT64_C(0xfdffffffffffff80), true },	/* RFC 2526 anycast start */
		{ UINT64_C(0xfdffffffffffffff), true },	/* RFC 2526 anycast end */
		{ UINT64_C(0xfe00000000000000), false },
		/* Not the non-EUI-64 rule: the top 128 values are ordinary at /64. */
		{ UINT64_C(0xffffffffffffff80), false },
		{ UINT64_C(0xffffffffffffffff), false },
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		if (addrgen_iid_reserved(v[i].iid, 64) != v[i].reserved)
			fail_msg("iid %016llx: expected %s", (unsigned long long)v[i].iid,
				 v[i].reserved ? "reserved" : "free");
	}
}

static void test_reserved_narrow(void **state)
{
	for (unsigned hb = 8; hb < 64; hb++) {
		uint64_t top = (UINT64_C(1) << hb) - 1;

		assert_true(addrgen_iid_reserved(0, hb));
		assert_true(addrgen_iid_reserved(1, hb));
		assert_false(addrgen_iid_reserved(2, hb));
		assert_false(addrgen_iid_reserved(top - 128, hb));
		assert_true(addrgen_iid_reserved(top - 127, hb));
		assert_true(addrgen_iid_reserved(top, hb));
		/* The /64 registry does not apply to narrower slices. */
		assert_false(addrgen_iid_reserved(UINT64_C(0x02005efffe005213) & top, hb));
	}
	/* /120: 2..127 usable, nothing else. */
	for (uint64_t i = 0; i < 256; i++)
		assert_int_equal(addrgen_iid_reserved(i, 8), i < 2 || i >= 128);
}

static void test_mode_strings(void **state)
{
	static const char *const names[] = { "stable", "eui64", "rfc7217", "sequential" };
	enum iid_mode m;

	for (int i = 0; i < 4; i++) {
		assert_int_equal(iid_mode_from_string(names[i], &m), 0);
		assert_int_equal(m, i);
		assert_string_equal(iid_mode_to_string(m), names[i]);
	}
	m = IID_RFC7217;
	err_clear();
	assert_int_equal(iid_mode_from_string("Stable", &m), -EINVAL);
	assert_int_equal(m, IID_RFC7217);
	assert_string_equal(err_msg(-EINVAL),
			    "iid \"Stable\": must be one of stable, eui64, rfc7217, sequential");
	assert_int_equal(iid_mode_from_string("", &m), -EINVAL);
	assert_int_equal(iid_mode_from_string("stable ", &m), -EINVAL);
	assert_null(iid_mode_to_string((enum iid_mode)99));
}

static void test_mac_from_string(void **state)
{
	static const char *const bad[] = {
		"", "00:11:22:33:44", "00:11:22:33:44:55:66", "00:11:22:33:44:5", "0:11:22:33:44:55",
		"00:11:22:33:44:5g", "00-11:22:33:44:55", "00.11.22.33.44.55", "001122334455",
		" 00:11:22:33:44:55", "00:11:22:33:44:55 ", "00:11:22:33:44:55\n", "00::22:33:44:55:",
		"+0:11:22:33:44:55", "00112233445566778",
	};
	uint8_t mac[6];
	static const uint8_t want[6] = { 0x00, 0x11, 0x22, 0xaa, 0xbb, 0xcc };
	static const uint8_t untouched[6] = { 9, 9, 9, 9, 9, 9 };

	assert_int_equal(addrgen_mac_from_string("00:11:22:aa:bb:cc", mac), 0);
	assert_memory_equal(mac, want, 6);
	assert_int_equal(addrgen_mac_from_string("00-11-22-AA-Bb-cC", mac), 0);
	assert_memory_equal(mac, want, 6);
	/* Multicast and broadcast parse: judging them is the caller's business. */
	assert_int_equal(addrgen_mac_from_string("ff:ff:ff:ff:ff:ff", mac), 0);
	assert_int_equal(addrgen_mac_from_string("01:00:5e:00:00:01", mac), 0);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char want_msg[128];

		memset(mac, 9, sizeof(mac));
		err_clear();
		if (addrgen_mac_from_string(bad[i], mac) != -EINVAL)
			fail_msg("MAC \"%s\" was accepted", bad[i]);
		assert_memory_equal(mac, untouched, 6);
		(void)snprintf(want_msg, sizeof(want_msg), "MAC address \"%s\":", bad[i]);
		assert_true(strncmp(err_msg(-EINVAL), want_msg, strlen(want_msg)) == 0);
	}
}

/* --- uniqueness at scale --- */

/* Open addressing; 0 is reserved in every slice, so it marks an empty bucket. */
struct iid_set {
	uint64_t *slot;
	size_t mask;
};

static uint64_t mix(uint64_t x)
{
	/* splitmix64's finalizer: narrow IIDs spread over the table too. */
	x ^= x >> 30;
	x *= UINT64_C(0xbf58476d1ce4e5b9);
	x ^= x >> 27;
	x *= UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

static void set_init(struct iid_set *set, size_t n)
{
	size_t cap = 1;

	while (cap < 2 * n)
		cap <<= 1;
	set->slot = calloc(cap, sizeof(*set->slot));
	assert_non_null(set->slot);
	set->mask = cap - 1;
}

/* Inserts iid; false when it was already there. */
static bool set_add(struct iid_set *set, uint64_t iid)
{
	for (size_t i = mix(iid) & set->mask;; i = (i + 1) & set->mask) {
		if (set->slot[i] == iid)
			return false;
		if (set->slot[i] == 0) {
			set->slot[i] = iid;
			return true;
		}
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* n keys "key-0".."key-<n-1>" in one network, each bumping its counter past reserved and
 * taken IIDs as the store does; then checks the results independently of the set. */
static void derive_unique(unsigned host_bits, size_t n)
{
	struct addrgen_secret s;
	struct iid_set set;
	uint64_t *iids = calloc(n, sizeof(*iids));
	size_t taken = 0, reserved = 0;
	uint32_t max_counter = 0;

	assert_non_null(iids);
	kat_secret(&s);
	set_init(&set, n);
	for (size_t k = 0; k < n; k++) {
		char key[32];
		uint32_t counter = 0;

		(void)snprintf(key, sizeof(key), "key-%zu", k);
		for (;; counter++) {
			uint64_t iid;

			assert_true(counter < 1000);
			iid = addrgen_stable(&s, "net", key, counter, host_bits);
			if (addrgen_iid_reserved(iid, host_bits)) {
				reserved++;
				continue;
			}
			if (!set_add(&set, iid)) {
				taken++;
				continue;
			}
			iids[k] = iid;
			break;
		}
		if (counter > max_counter)
			max_counter = counter;
	}
	qsort(iids, n, sizeof(*iids), cmp_u64);
	for (size_t k = 0; k < n; k++) {
		assert_false(addrgen_iid_reserved(iids[k], host_bits));
		if (host_bits < 64)
			assert_true(iids[k] >> host_bits == 0);
		if (k > 0 && iids[k] == iids[k - 1])
			fail_msg("duplicate IID %016llx", (unsigned long long)iids[k]);
	}
	print_message("host_bits %u, %zu keys: %zu collisions with taken IIDs, %zu reserved "
		      "hits, highest counter %u\n",
		      host_bits, n, taken, reserved, max_counter);
	free(set.slot);
	free(iids);
}

static void test_unique_64(void **state)
{
	derive_unique(64, 1000000);
}

static void test_unique_48(void **state)
{
	derive_unique(48, 200000);
}

/* A crowded /112 (a third full): the bump path runs thousands of times. */
static void test_unique_16(void **state)
{
	derive_unique(16, 20000);
}

/* --- the secret file --- */

struct tmpdir {
	char path[64];
};

static int tmpdir_setup(void **state)
{
	struct tmpdir *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	(void)snprintf(t->path, sizeof(t->path), "/tmp/v6pd-addrgen-XXXXXX");
	if (!mkdtemp(t->path)) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

/* Removes the directory and what the tests put in it (files and empty directories). */
static int tmpdir_teardown(void **state)
{
	struct tmpdir *t = *state;
	DIR *d = opendir(t->path);
	struct dirent *e;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) < 0 &&
		    unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR) < 0) {
			(void)closedir(d);
			return -1;
		}
	}
	(void)closedir(d);
	if (rmdir(t->path) < 0)
		return -1;
	free(t);
	return 0;
}

static void secret_path(const struct tmpdir *t, char *buf, size_t size)
{
	(void)snprintf(buf, size, "%s/%s", t->path, ADDRGEN_SECRET_FILE);
}

static void write_file(const char *path, const void *data, size_t n, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, n), (ssize_t)n);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

/* Whether the directory holds exactly secret.key (no temp files left behind). */
static void assert_only_secret(const struct tmpdir *t)
{
	DIR *d = opendir(t->path);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (strcmp(e->d_name, ADDRGEN_SECRET_FILE) != 0)
			fail_msg("left behind: %s", e->d_name);
		n++;
	}
	(void)closedir(d);
	assert_int_equal(n, 1);
}

static void assert_refused(const struct tmpdir *t, int want_err, const char *want_text)
{
	struct addrgen_secret s;
	static const struct addrgen_secret untouched = { { 0xa5 } };

	memcpy(&s, &untouched, sizeof(s));
	err_clear();
	assert_int_equal(addrgen_secret_load(t->path, &s), want_err);
	assert_memory_equal(&s, &untouched, sizeof(s));
	assert_non_null(strstr(err_msg(want_err), t->path));
	assert_non_null(strstr(err_msg(want_err), want_text));
}

static void test_secret_create_and_reload(void **state)
{
	struct tmpdir *t = *state;
	struct addrgen_secret a, b, zero = { { 0 } };
	uint8_t disk[ADDRGEN_SECRET_LEN + 1];
	char path[128];
	struct stat st;
	mode_t old;
	int fd;

	/* A umask that would strip the owner's write bit must not matter. */
	old = umask(0277);
	assert_int_equal(addrgen_secret_load(t->path, &a), 0);
	(void)umask(old);
	secret_path(t, path, sizeof(path));
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, ADDRGEN_SECRET_LEN);
	assert_memory_not_equal(&a, &zero, sizeof(a));
	assert_only_secret(t);

	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, disk, sizeof(disk)), ADDRGEN_SECRET_LEN);
	assert_int_equal(close(fd), 0);
	assert_memory_equal(disk, a.key, ADDRGEN_SECRET_LEN);

	assert_int_equal(addrgen_secret_load(t->path, &b), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_only_secret(t);
}

static void test_secret_refuses_mode(void **state)
{
	struct tmpdir *t = *state;
	struct addrgen_secret s;
	char path[128];

	assert_int_equal(addrgen_secret_load(t->path, &s), 0);
	secret_path(t, path, sizeof(path));
	assert_int_equal(chmod(path, 0644), 0);
	assert_refused(t, -EPERM, "0644");
	assert_int_equal(chmod(path, 0620), 0);
	assert_refused(t, -EPERM, "0620");
	assert_int_equal(chmod(path, 0601), 0);
	assert_refused(t, -EPERM, "0601");
	assert_int_equal(chmod(path, 0400), 0);
	assert_int_equal(addrgen_secret_load(t->path, &s), 0);
}

static void test_secret_refuses_size(void **state)
{
	struct tmpdir *t = *state;
	uint8_t buf[ADDRGEN_SECRET_LEN + 1] = { 1 };
	char path[128];

	secret_path(t, path, sizeof(path));
	write_file(path, buf, ADDRGEN_SECRET_LEN - 1, 0600);
	assert_refused(t, -EINVAL, "31 bytes");
	write_file(path, buf, ADDRGEN_SECRET_LEN + 1, 0600);
	assert_refused(t, -EINVAL, "33 bytes");
	/* Empty is not "missing": a truncated secret must not be silently replaced. */
	write_file(path, buf, 0, 0600);
	assert_refused(t, -EINVAL, "0 bytes");
}

static void test_secret_refuses_non_regular(void **state)
{
	struct tmpdir *t = *state;
	char path[128];

	secret_path(t, path, sizeof(path));
	assert_int_equal(mkdir(path, 0700), 0);
	assert_refused(t, -EINVAL, "not a regular file");
	assert_int_equal(rmdir(path), 0);

	assert_int_equal(mkfifo(path, 0600), 0);
	assert_refused(t, -EINVAL, "not a regular file");
	assert_int_equal(unlink(path), 0);

	assert_int_equal(symlink("/dev/null", path), 0);
	assert_refused(t, -EINVAL, "symbolic link");
	assert_int_equal(unlink(path), 0);
}

static void test_secret_missing_dir(void **state)
{
	struct tmpdir *t = *state;
	struct addrgen_secret s;
	char dir[128];

	(void)snprintf(dir, sizeof(dir), "%s/absent", t->path);
	err_clear();
	assert_int_equal(addrgen_secret_load(dir, &s), -ENOENT);
	assert_non_null(strstr(err_msg(-ENOENT), dir));
	/* Not created behind the store's back. */
	assert_int_equal(access(dir, F_OK), -1);
}

/* Eight processes load a missing secret at once; all must get the one on disk. */
static void test_secret_race(void **state)
{
	enum { N = 8, ROUNDS = 10 };
	struct tmpdir *t = *state;

	for (int round = 0; round < ROUNDS; round++) {
		uint8_t got[N][ADDRGEN_SECRET_LEN];
		struct addrgen_secret disk;
		char path[128];
		int gate[2], out[N][2];
		pid_t pid[N];

		secret_path(t, path, sizeof(path));
		(void)unlink(path);
		assert_int_equal(pipe2(gate, O_CLOEXEC), 0);
		for (int i = 0; i < N; i++) {
			assert_int_equal(pipe2(out[i], O_CLOEXEC), 0);
			pid[i] = fork();
			assert_true(pid[i] >= 0);
			if (pid[i] == 0) {
				struct addrgen_secret s;
				char c;

				(void)close(gate[1]);
				/* Blocks until the parent closes the gate: EOF releases all. */
				if (read(gate[0], &c, 1) != 0)
					_exit(2);
				if (addrgen_secret_load(t->path, &s) < 0)
					_exit(3);
				if (write(out[i][1], s.key, sizeof(s.key)) != sizeof(s.key))
					_exit(4);
				_exit(0);
			}
			assert_int_equal(close(out[i][1]), 0);
		}
		assert_int_equal(close(gate[0]), 0);
		assert_int_equal(close(gate[1]), 0);
		for (int i = 0; i < N; i++) {
			int status;

			assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
			assert_true(WIFEXITED(status));
			assert_int_equal(WEXITSTATUS(status), 0);
			assert_int_equal(read(out[i][0], got[i], sizeof(got[i])), sizeof(got[i]));
			assert_int_equal(close(out[i][0]), 0);
		}
		assert_int_equal(addrgen_secret_load(t->path, &disk), 0);
		for (int i = 0; i < N; i++)
			assert_memory_equal(got[i], disk.key, sizeof(disk.key));
		assert_only_secret(t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kat_stable),
		cmocka_unit_test(test_kat_rfc7217),
		cmocka_unit_test(test_stable_inputs),
		cmocka_unit_test(test_stable_prefix_not_an_input),
		cmocka_unit_test(test_rfc7217_prefix_is_an_input),
		cmocka_unit_test(test_eui64),
		cmocka_unit_test(test_reserved_64),
		cmocka_unit_test(test_reserved_narrow),
		cmocka_unit_test(test_mode_strings),
		cmocka_unit_test(test_mac_from_string),
		cmocka_unit_test(test_unique_64),
		cmocka_unit_test(test_unique_48),
		cmocka_unit_test(test_unique_16),
		cmocka_unit_test_setup_teardown(test_secret_create_and_reload, tmpdir_setup,
						tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_secret_refuses_mode, tmpdir_setup,
						tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_secret_refuses_size, tmpdir_setup,
						tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_secret_refuses_non_regular, tmpdir_setup,
						tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_secret_missing_dir, tmpdir_setup,
						tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_secret_race, tmpdir_setup, tmpdir_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
