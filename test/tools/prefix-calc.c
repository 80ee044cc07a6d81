/* prefix-calc: common/prefix.c on stdin commands, one result line each, for
 * test/unit/prefix_crosscheck.py. Arguments are separated by single spaces; the last one is
 * the rest of the line, so `parse` and `addr` see whitespace and empty input verbatim.
 *
 *   parse S          ok TEXT HEX LEN     (HEX: the address as 32 hex digits)
 *   addr S           ok TEXT HEX
 *   slice P L N      ok TEXT
 *   index P S        ok N
 *   count P L        ok N
 *   contains P A     ok yes|no
 *   containsp P S    ok yes|no
 *   host S H         ok TEXT             (prefix_addr_with_host)
 *   low64 A          ok N
 *
 * Failures print `error ENAME message`; a malformed command prints `bad ...`.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "prefix.h"

static const char *errname(int r)
{
	static char buf[16];

	switch (r) {
	case -EINVAL:
		return "EINVAL";
	case -ERANGE:
		return "ERANGE";
	}
	(void)snprintf(buf, sizeof(buf), "E%d", -r);
	return buf;
}

static char *hex(const struct in6_addr *a, char buf[33])
{
	for (int i = 0; i < 16; i++)
		(void)snprintf(buf + 2 * i, 3, "%02x", a->s6_addr[i]);
	return buf;
}

/* Splits off the next space-separated argument; NULL when none is left. */
static char *next_arg(char **rest)
{
	char *s = *rest, *sp;

	if (!s)
		return NULL;
	sp = strchr(s, ' ');
	if (sp) {
		*sp = '\0';
		*rest = sp + 1;
	} else {
		*rest = NULL;
	}
	return s;
}

static int parse_u64(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int cmd_parse(const char *arg)
{
	char text[PREFIX_STRLEN], hx[33];
	struct prefix p;
	int r = prefix_from_string(arg, &p);

	if (r < 0)
		return r;
	printf("ok %s %s %u\n", prefix_to_string(&p, text, sizeof(text)), hex(&p.addr, hx),
	       (unsigned)p.len);
	return 0;
}

static int cmd_addr(const char *arg)
{
	char text[INET6_ADDRSTRLEN], hx[33];
	struct in6_addr a;
	int r = prefix_addr_from_string(arg, &a);

	if (r < 0)
		return r;
	printf("ok %s %s\n", prefix_addr_to_string(&a, text, sizeof(text)), hex(&a, hx));
	return 0;
}

static int cmd_low64(const char *arg)
{
	struct in6_addr a;
	int r = prefix_addr_from_string(arg, &a);

	if (r < 0)
		return r;
	printf("ok %" PRIu64 "\n", prefix_addr_low64(&a));
	return 0;
}

/* Commands on a prefix P and one or two more arguments. */
static int cmd_on_prefix(const char *cmd, const char *ptext, const char *a2, const char *a3)
{
	char text[PREFIX_STRLEN];
	struct prefix p, s;
	struct in6_addr a;
	uint64_t n, l;
	int r = prefix_from_string(ptext, &p);

	if (r < 0)
		return r;
	if (!strcmp(cmd, "slice") && a3) {
		if (parse_u64(a2, &l) < 0 || l > 1000 || parse_u64(a3, &n) < 0)
			return puts("bad number"), 0;
		r = prefix_slice(&p, (unsigned)l, n, &s);
		if (r < 0)
			return r;
		printf("ok %s\n", prefix_to_string(&s, text, sizeof(text)));
	} else if (a3) {
		printf("bad arguments to \"%s\"\n", cmd);
	} else if (!strcmp(cmd, "count")) {
		if (parse_u64(a2, &l) < 0 || l > 1000)
			return puts("bad number"), 0;
		printf("ok %" PRIu64 "\n", prefix_slice_count(&p, (unsigned)l));
	} else if (!strcmp(cmd, "index")) {
		r = prefix_from_string(a2, &s);
		if (r >= 0)
			r = prefix_slice_index(&p, &s, &n);
		if (r < 0)
			return r;
		printf("ok %" PRIu64 "\n", n);
	} else if (!strcmp(cmd, "containsp")) {
		r = prefix_from_string(a2, &s);
		if (r < 0)
			return r;
		printf("ok %s\n", prefix_contains_prefix(&p, &s) ? "yes" : "no");
	} else if (!strcmp(cmd, "contains")) {
		r = prefix_addr_from_string(a2, &a);
		if (r < 0)
			return r;
		printf("ok %s\n", prefix_contains(&p, &a) ? "yes" : "no");
	} else if (!strcmp(cmd, "host")) {
		if (parse_u64(a2, &n) < 0)
			return puts("bad number"), 0;
		prefix_addr_with_host(&p, n, &a);
		printf("ok %s\n", prefix_addr_to_string(&a, text, sizeof(text)));
	}
	return 0;
}

static void run(char *line)
{
	char *rest = line, *cmd = next_arg(&rest), *a1, *a2, *a3;
	const char *arg = rest ? rest : "";
	int r;

	err_clear();
	if (!strcmp(cmd, "parse")) {
		r = cmd_parse(arg);
	} else if (!strcmp(cmd, "addr")) {
		r = cmd_addr(arg);
	} else if (!strcmp(cmd, "low64")) {
		r = cmd_low64(arg);
	} else if (strcmp(cmd, "slice") && strcmp(cmd, "index") && strcmp(cmd, "count") &&
		   strcmp(cmd, "contains") && strcmp(cmd, "containsp") && strcmp(cmd, "host")) {
		printf("bad command \"%s\"\n", cmd);
		return;
	} else {
		a1 = next_arg(&rest);
		a2 = next_arg(&rest);
		a3 = next_arg(&rest);
		if (!a1 || !a2 || rest) {
			printf("bad arguments to \"%s\"\n", cmd);
			return;
		}
		r = cmd_on_prefix(cmd, a1, a2, a3);
	}
	if (r < 0)
		printf("error %s %s\n", errname(r), err_msg(r));
}

int main(void)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	while ((n = getline(&line, &cap, stdin)) > 0) {
		if (line[n - 1] == '\n')
			line[n - 1] = '\0';
		run(line);
	}
	free(line);
	if (fflush(stdout) == EOF || ferror(stdin))
		return 1;
	return 0;
}
