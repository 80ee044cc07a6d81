#include "addrgen.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "err.h"

/* Domain separation: the first field of each mode's HMAC input (see addrgen.h). */
#define ADDRGEN_STABLE_TAG "v6pd-stable"
#define ADDRGEN_RFC7217_TAG "v6pd-rfc7217"

static const char *const iid_mode_names[] = {
	[IID_STABLE] = "stable",
	[IID_EUI64] = "eui64",
	[IID_RFC7217] = "rfc7217",
	[IID_SEQUENTIAL] = "sequential",
};

int iid_mode_from_string(const char *s, enum iid_mode *ret)
{
	for (size_t i = 0; i < sizeof(iid_mode_names) / sizeof(iid_mode_names[0]); i++)
		if (strcmp(s, iid_mode_names[i]) == 0) {
			*ret = (enum iid_mode)i;
			return 0;
		}
	return err_set(-EINVAL, "iid \"%s\": must be one of stable, eui64, rfc7217, sequential",
		       s);
}

const char *iid_mode_to_string(enum iid_mode m)
{
	if ((unsigned)m >= sizeof(iid_mode_names) / sizeof(iid_mode_names[0]))
		return NULL;
	return iid_mode_names[m];
}

/* --- the keyed hash --- */

int addrgen_crypto_init_lean(void)
{
	uint64_t opts = OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_ADD_ALL_CIPHERS |
			OPENSSL_INIT_NO_ADD_ALL_DIGESTS | OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS |
			OPENSSL_INIT_NO_ATEXIT;

	if (!OPENSSL_init_crypto(opts, NULL))
		return err_set(-EIO, "initialising OpenSSL's libcrypto failed");
	return 0;
}

static void be32(uint8_t out[4], uint32_t v)
{
	out[0] = (uint8_t)(v >> 24);
	out[1] = (uint8_t)(v >> 16);
	out[2] = (uint8_t)(v >> 8);
	out[3] = (uint8_t)v;
}

static void mac_update(EVP_MAC_CTX *ctx, const void *p, size_t n)
{
	/* Inputs are a few hundred bytes; a failure here is OpenSSL being broken. */
	if (!EVP_MAC_update(ctx, p, n))
		abort();
}

/* A 4-byte big-endian length, then the bytes: no field can run into the next. */
static void mac_field(EVP_MAC_CTX *ctx, const char *s)
{
	size_t n = strlen(s);
	uint8_t len[4];

	assert(n <= UINT32_MAX);
	be32(len, (uint32_t)n);
	mac_update(ctx, len, sizeof(len));
	mac_update(ctx, s, n);
}

static EVP_MAC_CTX *mac_begin(const struct addrgen_secret *s, const char *tag)
{
	char digest[] = "SHA256";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC *mac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;

	/* The context holds its own reference to the algorithm. */
	EVP_MAC_free(mac);
	/* The API has no error path: an IID must never come from a half-computed hash, and
	 * this fails only when libcrypto cannot allocate or has no SHA-256 at all. */
	if (!ctx || !EVP_MAC_init(ctx, s->key, sizeof(s->key), params))
		abort();
	mac_field(ctx, tag);
	return ctx;
}

/* The first 8 bytes of the HMAC, big-endian, cut to the low host_bits bits. */
static uint64_t mac_end(EVP_MAC_CTX *ctx, uint32_t counter, unsigned host_bits)
{
	uint8_t c[4], md[EVP_MAX_MD_SIZE];
	size_t md_len = 0;
	uint64_t v = 0;

	be32(c, counter);
	mac_update(ctx, c, sizeof(c));
	if (!EVP_MAC_final(ctx, md, &md_len, sizeof(md)) || md_len < 8)
		abort();
	EVP_MAC_CTX_free(ctx);
	for (int i = 0; i < 8; i++)
		v = v << 8 | md[i];
	return host_bits >= 64 ? v : v & ((UINT64_C(1) << host_bits) - 1);
}

uint64_t addrgen_stable(const struct addrgen_secret *s, const char *network, const char *key,
			uint32_t counter, unsigned host_bits)
{
	EVP_MAC_CTX *ctx;

	assert(host_bits >= 8 && host_bits <= 64);
	ctx = mac_begin(s, ADDRGEN_STABLE_TAG);
	mac_field(ctx, network);
	mac_field(ctx, key);
	return mac_end(ctx, counter, host_bits);
}

uint64_t addrgen_rfc7217(const struct addrgen_secret *s, const struct prefix *slice,
			 const char *network, const char *key, uint32_t counter)
{
	uint8_t p[17];
	unsigned host_bits;
	EVP_MAC_CTX *ctx;

	assert(slice->len <= PREFIX_SLICE_MAX);
	host_bits = 128 - slice->len > 64 ? 64 : 128 - slice->len;
	/* Prefix: the 16 address bytes with every bit past the length cleared, then the
	 * length, so 2001:db8::/64 and 2001:db8::/80 are different inputs. */
	memcpy(p, slice->addr.s6_addr, 16);
	for (unsigned bit = slice->len; bit < 128; bit++)
		p[bit / 8] &= (uint8_t)~(0x80u >> (bit % 8));
	p[16] = slice->len;

	ctx = mac_begin(s, ADDRGEN_RFC7217_TAG);
	mac_update(ctx, p, sizeof(p));
	mac_field(ctx, key);
	mac_field(ctx, network);
	return mac_end(ctx, counter, host_bits);
}

int addrgen_eui64(const uint8_t mac[6], unsigned host_bits, uint64_t *ret)
{
	uint8_t b[8] = { mac[0] ^ 0x02, mac[1], mac[2], 0xff, 0xfe, mac[3], mac[4], mac[5] };
	uint64_t v = 0;

	if (host_bits != 64)
		return err_set(-EINVAL,
			       "iid \"eui64\": needs 64 host bits (a /64 slice), the slice has %u",
			       host_bits);
	for (int i = 0; i < 8; i++)
		v = v << 8 | b[i];
	*ret = v;
	return 0;
}

bool addrgen_iid_reserved(uint64_t iid, unsigned host_bits)
{
	assert(host_bits >= 8 && host_bits <= 64);
	if (iid == 0 || iid == ADDRGEN_GATEWAY_IID)
		return true;
	if (host_bits == 64)
		/* RFC 5453 / the IANA registry: the IANA Ethernet block (including proxy mobile
		 * IPv6, RFC 6543) and the RFC 2526 subnet anycast IIDs in EUI-64 format. */
		return (iid >= UINT64_C(0x02005efffe000000) && iid <= UINT64_C(0x02005efffeffffff)) ||
		       (iid >= UINT64_C(0xfdffffffffffff80) && iid <= UINT64_C(0xfdffffffffffffff));
	/* RFC 2526 section 2, non-EUI-64 format: the highest 128 values of the field. */
	return iid >= (UINT64_C(1) << host_bits) - 128;
}

int addrgen_mac_from_string(const char *s, uint8_t ret[6])
{
	uint8_t mac[6];
	char sep;

	if (strlen(s) != 17)
		goto invalid;
	/* One separator throughout: "-" as Windows and some hypervisors print MACs. */
	sep = s[2];
	if (sep != ':' && sep != '-')
		goto invalid;
	for (int i = 0; i < 6; i++) {
		const char *p = s + 3 * i;
		int v = 0;

		for (int j = 0; j < 2; j++) {
			char c = p[j];

			if (c >= '0' && c <= '9')
				v = v << 4 | (c - '0');
			else if (c >= 'a' && c <= 'f')
				v = v << 4 | (c - 'a' + 10);
			else if (c >= 'A' && c <= 'F')
				v = v << 4 | (c - 'A' + 10);
			else
				goto invalid;
		}
		if (i < 5 && p[2] != sep)
			goto invalid;
		mac[i] = (uint8_t)v;
	}
	memcpy(ret, mac, sizeof(mac));
	return 0;
invalid:
	return err_set(-EINVAL, "MAC address \"%s\": must be six hex pairs like 02:00:5e:10:00:01",
		       s);
}

/* --- the per-host secret --- */

static int read_full(int fd, uint8_t *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k = read(fd, buf + got, n - got);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -EIO;
		got += (size_t)k;
	}
	return 0;
}

static int random_full(uint8_t *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k = getrandom(buf + got, n - got, 0);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		got += (size_t)k;
	}
	return 0;
}

static int write_full(int fd, const uint8_t *buf, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t k = write(fd, buf + done, n - done);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		done += (size_t)k;
	}
	return 0;
}

/* Reads state_dir/secret.key. -ENOENT (no message) when it does not exist. */
static int secret_read(int dfd, const char *state_dir, struct addrgen_secret *ret)
{
	struct addrgen_secret sec;
	struct stat st;
	int fd, r;

	/* O_NONBLOCK: a FIFO planted here must not hang us before the type check. */
	fd = openat(dfd, ADDRGEN_SECRET_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			return -ENOENT;
		if (errno == ELOOP)
			return err_set(-EINVAL, "%s/%s: is a symbolic link, must be a regular file",
				       state_dir, ADDRGEN_SECRET_FILE);
		r = -errno;
		return err_set(r, "%s/%s: %s", state_dir, ADDRGEN_SECRET_FILE, strerror(-r));
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		r = err_set(r, "%s/%s: %s", state_dir, ADDRGEN_SECRET_FILE, strerror(-r));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = err_set(-EINVAL, "%s/%s: not a regular file", state_dir, ADDRGEN_SECRET_FILE);
		goto out;
	}
	if (st.st_mode & 077) {
		r = err_set(-EPERM, "%s/%s: mode %04o gives group/others access, must be 0600",
			    state_dir, ADDRGEN_SECRET_FILE, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if (st.st_size != ADDRGEN_SECRET_LEN) {
		r = err_set(-EINVAL, "%s/%s: %jd bytes, must be %d", state_dir,
			    ADDRGEN_SECRET_FILE, (intmax_t)st.st_size, ADDRGEN_SECRET_LEN);
		goto out;
	}
	r = read_full(fd, sec.key, sizeof(sec.key));
	if (r < 0) {
		r = err_set(r, "%s/%s: %s", state_dir, ADDRGEN_SECRET_FILE,
			    r == -EIO ? "shorter than it was a moment ago" : strerror(-r));
		goto out;
	}
	memcpy(ret, &sec, sizeof(sec));
	r = 0;
out:
	explicit_bzero(&sec, sizeof(sec));
	(void)close(fd);
	return r;
}

/* Writes a fresh secret to a temp file and links it to secret.key: link() fails with EEXIST
 * instead of replacing, so when processes race on first use, the first link wins and every
 * other process reads the winner's file. The file is complete and fsynced before it has its
 * final name, so no reader ever sees a short one. */
static int secret_create(int dfd, const char *state_dir)
{
	struct addrgen_secret sec;
	char tmp[64];
	int fd = -1, r;
	bool tmp_exists = false;

	for (int attempt = 0;; attempt++) {
		uint8_t rnd[4];

		r = random_full(rnd, sizeof(rnd));
		if (r < 0) {
			r = err_set(r, "getrandom: %s", strerror(-r));
			goto out;
		}
		(void)snprintf(tmp, sizeof(tmp), ".%s.%ld.%02x%02x%02x%02x.tmp",
			       ADDRGEN_SECRET_FILE, (long)getpid(), rnd[0], rnd[1], rnd[2], rnd[3]);
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd >= 0)
			break;
		if (errno != EEXIST || attempt >= 16) {
			r = -errno;
			r = err_set(r, "%s/%s: %s", state_dir, tmp, strerror(-r));
			goto out;
		}
	}
	tmp_exists = true;
	/* Exactly 0600 whatever the umask. */
	if (fchmod(fd, 0600) < 0) {
		r = -errno;
		r = err_set(r, "%s/%s: chmod: %s", state_dir, tmp, strerror(-r));
		goto out;
	}
	r = random_full(sec.key, sizeof(sec.key));
	if (r < 0) {
		r = err_set(r, "getrandom: %s", strerror(-r));
		goto out;
	}
	r = write_full(fd, sec.key, sizeof(sec.key));
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (r < 0) {
		r = err_set(r, "%s/%s: %s", state_dir, tmp, strerror(-r));
		goto out;
	}
	r = close(fd);
	fd = -1;
	if (r < 0) {
		r = -errno;
		r = err_set(r, "%s/%s: close: %s", state_dir, tmp, strerror(-r));
		goto out;
	}
	if (linkat(dfd, tmp, dfd, ADDRGEN_SECRET_FILE, 0) < 0 && errno != EEXIST) {
		r = -errno;
		r = err_set(r, "%s/%s: link: %s", state_dir, ADDRGEN_SECRET_FILE, strerror(-r));
		goto out;
	}
	tmp_exists = false;
	if (unlinkat(dfd, tmp, 0) < 0) {
		r = -errno;
		r = err_set(r, "%s/%s: unlink: %s", state_dir, tmp, strerror(-r));
		goto out;
	}
	if (fsync(dfd) < 0) {
		r = -errno;
		r = err_set(r, "%s: fsync: %s", state_dir, strerror(-r));
		goto out;
	}
	r = 0;
out:
	if (fd >= 0)
		(void)close(fd);
	if (tmp_exists)
		(void)unlinkat(dfd, tmp, 0);
	explicit_bzero(&sec, sizeof(sec));
	return r;
}

int addrgen_secret_load(const char *state_dir, struct addrgen_secret *ret)
{
	int dfd, r;

	dfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		r = -errno;
		if (r == -ENOENT)
			return err_set(r, "stateDir \"%s\": no such directory", state_dir);
		return err_set(r, "stateDir \"%s\": %s", state_dir, strerror(-r));
	}
	r = secret_read(dfd, state_dir, ret);
	if (r == -ENOENT) {
		r = secret_create(dfd, state_dir);
		if (r == 0) {
			r = secret_read(dfd, state_dir, ret);
			/* Only when someone removed it between our link and this read. */
			if (r == -ENOENT)
				r = err_set(r, "%s/%s: removed while being created", state_dir,
					    ADDRGEN_SECRET_FILE);
		}
	}
	(void)close(dfd);
	return r;
}
