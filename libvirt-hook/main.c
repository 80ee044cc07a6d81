/* v6pd-libvirt-hook: gives libvirt guests stable IPv6 addresses from the host's delegated
 * prefix. Installed as /etc/libvirt/hooks/qemu.d/v6pd and network.d/v6pd; which hook it is
 * comes from argv[0]. See hook.h for the contract with libvirt. */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxml/parser.h>

#include "addrgen.h"
#include "err.h"
#include "hook.h"

enum action {
	ACT_NONE,
	ACT_PREPARE,
	ACT_START,
	ACT_RECONNECT,
	ACT_STOPPED,		/* stopped end, release end */
	ACT_PORT_CREATED,
	ACT_PORT_DELETED,
};

struct op_map {
	const char *op, *subop;
	enum action act;
};

/* libvirt's docs (hooks.html) and qemu_process.c / network_driver.c. Anything else (started,
 * migrate, restore, attach, network start/started/stopped/updated) is nothing to do: exit 0
 * without output, so migrate and restore keep their XML. */
static const struct op_map domain_ops[] = {
	{ "prepare", "begin", ACT_PREPARE },	 { "start", "begin", ACT_START },
	{ "reconnect", "begin", ACT_RECONNECT }, { "stopped", "end", ACT_STOPPED },
	{ "release", "end", ACT_STOPPED },	 { NULL, NULL, ACT_NONE },
};
static const struct op_map network_ops[] = {
	{ "port-created", "begin", ACT_PORT_CREATED },
	{ "port-deleted", "begin", ACT_PORT_DELETED },
	{ NULL, NULL, ACT_NONE },
};

static void usage(FILE *f)
{
	(void)fprintf(f,
		      "v6pd-libvirt-hook: a libvirt hook giving guests stable IPv6 addresses from\n"
		      "the host's delegated prefix. libvirt runs it, not a person: install it as\n"
		      "  /etc/libvirt/hooks/qemu.d/v6pd     (DOMAIN OP SUBOP -, domain XML)\n"
		      "  /etc/libvirt/hooks/network.d/v6pd  (NETWORK OP SUBOP -, network XML)\n"
		      "and restart libvirtd. Config: %s (env %s overrides it).\n",
		      VMCONF_PATH, VMCONF_ENV);
}

/* From the directory (qemu.d/v6pd) or the name of a monolithic script (qemu). */
static int hook_kind(const char *argv0, enum hook_kind *ret)
{
	static const struct {
		const char *name;
		enum hook_kind kind;
	} names[] = { { "qemu", HOOK_QEMU }, { "lxc", HOOK_LXC }, { "network", HOOK_NETWORK } };
	char a[PATH_MAX], b[PATH_MAX], *dir, *base;

	(void)snprintf(a, sizeof(a), "%s", argv0);
	(void)snprintf(b, sizeof(b), "%s", argv0);
	base = basename(a);
	dir = basename(dirname(b));
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t n = strlen(names[i].name);

		if (strcmp(base, names[i].name) == 0 ||
		    (strncmp(dir, names[i].name, n) == 0 && strcmp(dir + n, ".d") == 0)) {
			*ret = names[i].kind;
			return 0;
		}
	}
	return err_set(-EINVAL, "cannot tell the hook from \"%s\": install it as "
				"/etc/libvirt/hooks/qemu.d/v6pd or network.d/v6pd",
		       argv0);
}

static enum action action_of(enum hook_kind k, const char *op, const char *subop)
{
	const struct op_map *m = k == HOOK_NETWORK ? network_ops : domain_ops;

	for (; m->op; m++)
		if (strcmp(m->op, op) == 0 && strcmp(m->subop, subop) == 0)
			return m->act;
	return ACT_NONE;
}

/* Whether a failure aborts the operation (libvirt checks the exit status) or is ignored. */
static bool may_abort(enum action a)
{
	return a == ACT_PREPARE || a == ACT_START || a == ACT_RECONNECT || a == ACT_PORT_CREATED;
}

static int read_stdin(char **ret, size_t *ret_len)
{
	size_t len = 0, cap = 0;
	char *buf = NULL;

	for (;;) {
		ssize_t n;

		if (cap - len < 4096) {
			size_t ncap = cap ? cap * 2 : 65536;
			char *p;

			if (ncap > HOOK_STDIN_MAX + 1)
				ncap = HOOK_STDIN_MAX + 1;
			if (ncap <= len) {
				free(buf);
				return err_set(-EFBIG, "stdin: more than %u MiB of XML",
					       HOOK_STDIN_MAX >> 20);
			}
			p = realloc(buf, ncap);
			if (!p) {
				free(buf);
				return err_set(-ENOMEM, "out of memory");
			}
			buf = p;
			cap = ncap;
		}
		n = read(STDIN_FILENO, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			free(buf);
			return err_set(-e, "reading stdin: %s", strerror(e));
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

/* One line, whatever the message holds. */
static void report(const struct hook *h, enum action a, int r)
{
	char msg[1024];

	(void)snprintf(msg, sizeof(msg), "%s", err_msg(r));
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	(void)fprintf(stderr, "v6pd: %s \"%s\" %s %s: %s%s\n",
		      h->kind == HOOK_NETWORK ? "network" : "domain", h->object, h->op, h->subop,
		      msg, may_abort(a) ? "" : " (ignored)");
}

static int run(struct hook *h, enum action a, const char *buf, size_t len)
{
	struct dom d = { 0 };
	struct net_port p;
	int r;

	if (h->kind == HOOK_NETWORK) {
		if ((r = xml_port_parse(buf, len, &p)) < 0)
			return r;
		return a == ACT_PORT_CREATED ? hook_port_created(h, &p) : hook_port_deleted(h, &p);
	}
	if ((r = xml_domain_parse(buf, len, &d)) < 0)
		return r;
	switch (a) {
	case ACT_PREPARE:
		r = hook_domain_prepare(h, &d);
		break;
	case ACT_START:
	case ACT_RECONNECT:
		r = hook_domain_start(h, &d, a == ACT_RECONNECT);
		break;
	case ACT_STOPPED:
		r = hook_domain_stopped(h, &d);
		break;
	default:
		r = 0;
	}
	xml_domain_free(&d);
	return r;
}

int main(int argc, char **argv)
{
	struct vmconf conf = { 0 };
	struct hook h = { 0 };
	enum action a;
	char *buf = NULL;
	size_t len = 0;
	int r;

	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc < 4) {
		usage(stderr);
		return 2;
	}
	h.object = argv[1];
	h.op = argv[2];
	h.subop = argv[3];
	if ((r = hook_kind(argv[0], &h.kind)) < 0) {
		(void)fprintf(stderr, "v6pd: %s\n", err_msg(r));
		return 1;
	}
	a = action_of(h.kind, h.op, h.subop);
	if (a == ACT_NONE)
		return 0;
	if ((r = addrgen_crypto_init_lean()) < 0)
		goto out;
	r = vmconf_load(vmconf_default_path(), &conf);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		goto out;
	h.conf = &conf;
	if (conf.n_entries == 0)
		goto out;
	if ((r = read_stdin(&buf, &len)) < 0)
		goto out;
	r = run(&h, a, buf, len);
out:
	if (r < 0)
		report(&h, a, r);
	hook_close(&h);
	vmconf_free(&conf);
	free(buf);
	xmlCleanupParser();
	return r < 0 && may_abort(a) ? 1 : 0;
}
