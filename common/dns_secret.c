/* Secrets from files: the PowerDNS API key and TSIG keys in BIND's format. No message here
 * ever holds a byte of a secret. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dns_int.h"
#include "err.h"
#include "store_int.h"

#define KEY_FILE_MAX 4096

/* Reads path whole into buf (NUL-terminated); refuses what group or others may read. */
static int read_private(const char *what, const char *path, char *buf, size_t size,
			size_t *ret_len)
{
	struct stat st;
	size_t n = 0;
	ssize_t k;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY), r = 0;

	if (fd < 0)
		return err_set(-errno, "%s %s: %s", what, path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		r = err_set(-errno, "%s %s: %s", what, path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = err_set(-EINVAL, "%s %s: not a regular file", what, path);
		goto out;
	}
	if (st.st_mode & 077) {
		r = err_set(-EPERM, "%s %s: group or others may access it (mode %04o); refusing a "
				    "secret others can read: chmod 600 it",
			    what, path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	while ((k = read(fd, buf + n, size - 1 - n)) != 0) {
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = err_set(-errno, "%s %s: %s", what, path, strerror(errno));
			goto out;
		}
		n += (size_t)k;
		if (n == size - 1) {
			r = err_set(-EFBIG, "%s %s: longer than %zu bytes", what, path, size - 2);
			goto out;
		}
	}
	buf[n] = '\0';
	if (memchr(buf, '\0', n)) {
		r = err_set(-EINVAL, "%s %s: holds a NUL byte", what, path);
		goto out;
	}
	*ret_len = n;
out:
	(void)close(fd);
	if (r < 0)
		explicit_bzero(buf, size);
	return r;
}

int dns_secret_read(const char *what, const char *path, char *buf, size_t size)
{
	size_t n = 0;
	int r = read_private(what, path, buf, size, &n);

	if (r < 0)
		return r;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' ||
			 buf[n - 1] == '\t'))
		buf[--n] = '\0';
	if (n == 0)
		return err_set(-EINVAL, "%s %s: empty", what, path);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f) {
			explicit_bzero(buf, size);
			return err_set(-EINVAL, "%s %s: holds a control character (one line of "
						"text expected)",
				       what, path);
		}
	return 0;
}

/* ---- BIND's key format: key "NAME" { algorithm ALG; secret "B64"; }; ---- */

struct lexer {
	const char *p;
	int line;
};

/* The next token: a quoted string (quotes dropped), one of "{};", or a bare word. Comments
 * (#, //, C style) are skipped. 0 at the end, 1 with a token, -EINVAL on a bad one. */
static int lex(struct lexer *lx, char *tok, size_t size)
{
	size_t n = 0;

	for (;;) {
		while (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\r' || *lx->p == '\n')
			lx->line += *lx->p++ == '\n';
		if (*lx->p == '#' || (lx->p[0] == '/' && lx->p[1] == '/')) {
			lx->p += strcspn(lx->p, "\n");
		} else if (lx->p[0] == '/' && lx->p[1] == '*') {
			const char *end = strstr(lx->p + 2, "*/");

			if (!end)
				return -EINVAL;
			for (; lx->p < end; lx->p++)
				lx->line += *lx->p == '\n';
			lx->p = end + 2;
		} else {
			break;
		}
	}
	if (!*lx->p)
		return 0;
	if (strchr("{};", *lx->p)) {
		tok[0] = *lx->p++;
		tok[1] = '\0';
		return 1;
	}
	if (*lx->p == '"') {
		for (lx->p++; *lx->p && *lx->p != '"' && *lx->p != '\n'; lx->p++)
			if (n < size - 1)
				tok[n++] = *lx->p;
		if (*lx->p != '"' || n >= size - 1)
			return -EINVAL;
		lx->p++;
	} else {
		for (; *lx->p && !strchr(" \t\r\n{};\"", *lx->p); lx->p++)
			if (n < size - 1)
				tok[n++] = *lx->p;
		if (n >= size - 1)
			return -EINVAL;
	}
	tok[n] = '\0';
	return 1;
}

static int expect(struct lexer *lx, const char *want, char *tok, size_t size)
{
	int r = lex(lx, tok, size);

	return r > 0 && (!want || strcmp(tok, want) == 0) ? 0 : -EINVAL;
}

static bool is_base64(const char *s)
{
	size_t n = strlen(s), pad = 0;

	if (n == 0 || n % 4 != 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '=') {
			pad++;
			continue;
		}
		if (pad || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			     (c >= '0' && c <= '9') || c == '+' || c == '/'))
			return false;
	}
	return pad <= 2;
}

static int parse_key(const char *path, char *text, struct dns_tsig_key *k)
{
	struct lexer lx = { .p = text, .line = 1 };
	char tok[DNS_SECRET_MAX], name[DNS_NAME_MAX];
	bool have_alg = false, have_secret = false;
	int r;

	if (expect(&lx, "key", tok, sizeof(tok)) < 0 || expect(&lx, NULL, name, sizeof(name)) < 0 ||
	    expect(&lx, "{", tok, sizeof(tok)) < 0)
		goto syntax;
	for (;;) {
		if (lex(&lx, tok, sizeof(tok)) <= 0)
			goto syntax;
		if (strcmp(tok, "}") == 0)
			break;
		if (strcmp(tok, "algorithm") == 0) {
			if (expect(&lx, NULL, k->algorithm, sizeof(k->algorithm)) < 0)
				goto syntax;
			have_alg = true;
		} else if (strcmp(tok, "secret") == 0) {
			if (expect(&lx, NULL, k->secret, sizeof(k->secret)) < 0)
				goto syntax;
			have_secret = true;
		} else {
			goto syntax;
		}
		if (expect(&lx, ";", tok, sizeof(tok)) < 0)
			goto syntax;
	}
	(void)expect(&lx, ";", tok, sizeof(tok));
	explicit_bzero(tok, sizeof(tok));
	if (!have_secret || !have_alg)
		return err_set(-EINVAL, "TSIG key file %s: no %s in the key", path,
			       have_secret ? "algorithm" : "secret");
	if (!is_base64(k->secret))
		return err_set(-EINVAL, "TSIG key file %s: the secret is not base64", path);
	for (char *p = k->algorithm; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
	/* BIND writes "hmac-md5.sig-alg.reg.int" for MD5; the others are bare. */
	if ((r = dns_name_normalize("TSIG key name", name, k->name)) < 0)
		return err_wrap(r, "TSIG key file %s", path);
	return 0;
syntax:
	explicit_bzero(tok, sizeof(tok));
	return err_set(-EINVAL, "TSIG key file %s: line %d: not BIND's key format (key \"NAME\" "
				"{ algorithm hmac-sha256; secret \"BASE64\"; };)",
		       path, lx.line);
}

int dns_tsig_key_read(const char *path, struct dns_tsig_key *ret)
{
	char text[KEY_FILE_MAX];
	size_t n = 0;
	int r;

	memset(ret, 0, sizeof(*ret));
	if ((r = read_private("TSIG key file", path, text, sizeof(text), &n)) < 0)
		return r;
	r = parse_key(path, text, ret);
	explicit_bzero(text, sizeof(text));
	if (r < 0)
		dns_tsig_key_clear(ret);
	return r;
}

void dns_tsig_key_clear(struct dns_tsig_key *k)
{
	explicit_bzero(k, sizeof(*k));
}
