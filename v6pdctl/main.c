/* v6pdctl: the operator's view of v6pd's lease store. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "err.h"

#define DEFAULT_STATE_DIR "/var/lib/v6pd"

struct verb {
	const char *name;	/* one or two words */
	int nargs;
	int opts;		/* OPT_* accepted */
	int (*run)(struct ctl *c);
	const char *args;
	const char *help;
};

static const struct verb verbs[] = {
	{ "prefix set", 1, 0, cmd_prefix_set, "PREFIX",
	  "Sets the host's delegated prefix (e.g. 2001:db8:1200::/56). Every network without a\n"
	  "prefix of its own takes its slice from it; leases keep slice index and IID, so a new\n"
	  "prefix gives every lease the same IID under the new prefix. Refused when a network's\n"
	  "slice would not fit in the new prefix." },
	{ "prefix show", 0, 0, cmd_prefix_show, "",
	  "Shows the host's delegated prefix, since when it holds, and the networks with their\n"
	  "slices." },
	{ "networks", 0, 0, cmd_networks, "", "Lists the networks, their slices and lease counts." },
	{ "leases", 0, OPT_NETWORK, cmd_leases, "[--network NAME]",
	  "Lists leases: network, key, address, state, container, ifname, age (since the last\n"
	  "change). State is active (attached), reserved (released, kept for its key until the\n"
	  "network's retention ends) or +pin (reserved by an operator, never expires)." },
	{ "lease reserve", 2, OPT_ADDRESS, cmd_lease_reserve, "NETWORK KEY [--address ADDR]",
	  "Pins an address for KEY in NETWORK and prints it: the key's existing lease, the\n"
	  "stable address derived for it, or ADDR. A pinned lease never expires. The network is\n"
	  "created with default settings if it does not exist." },
	{ "lease show", 2, 0, cmd_lease_show, "NETWORK KEY", "Shows one lease in full." },
	{ "lease release", 2, OPT_FORGET, cmd_lease_release, "NETWORK KEY [--forget]",
	  "Releases the lease into the reserved state: the key gets the same address back until\n"
	  "the network's retention ends. Unpins it. With --forget, deletes the lease at once and\n"
	  "frees the address for anyone." },
	{ "gc", 0, OPT_OLDER_THAN, cmd_gc, "[--older-than DURATION]",
	  "Deletes reservations whose retention ended, or, with --older-than (e.g. 1h, 7d), every\n"
	  "unpinned reservation released at least that long ago. Active leases are never touched." },
	{ "dns sync", 0, OPT_NETWORK, cmd_dns_sync, "[--network NAME]",
	  "Reconciles the store and DNS, for one network or every network whose ADDs recorded\n"
	  "\"dns\" settings: publishes every lease that belongs in DNS again (adding what is\n"
	  "missing, e.g. after a server was down during an ADD), removes the records v6pd\n"
	  "published and no longer holds, and leaves records it did not publish alone. Exit 1\n"
	  "when some record could not be published or removed (each one says why)." },
	{ "dns export", 0, OPT_NETWORK, cmd_dns_export, "--network NAME",
	  "Prints a zone-file fragment, AAAA and PTR records, for the network's leases that\n"
	  "belong in DNS, per its recorded \"dns\" settings: for zones managed by hand." },
	{ "dns show", 0, OPT_NETWORK, cmd_dns_show, "[--network NAME]",
	  "Lists the records v6pd published or means to: network, name, address, backend,\n"
	  "state (published, pending: publishing failed, stale: removing failed), last error." },
};

static void usage(FILE *f)
{
	(void)fprintf(f, "usage: v6pdctl [--state-dir DIR] [--json] VERB [ARGS]\n\n"
			 "Verbs:\n");
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		(void)fprintf(f, "  %-*s%s\n", verbs[i].args[0] ? 15 : 0, verbs[i].name,
			      verbs[i].args);
	(void)fprintf(f, "\nOptions for every verb:\n"
			 "  --state-dir DIR  the store's directory (default %s, or $V6PD_STATE_DIR)\n"
			 "  --json           machine-readable output\n"
			 "  --help           help for a verb (v6pdctl lease reserve --help)\n\n"
			 "Exit status: 0 success, 1 failure, 2 usage error.\n",
		      DEFAULT_STATE_DIR);
}

static void verb_help(const struct verb *v)
{
	(void)printf("usage: v6pdctl [--state-dir DIR] [--json] %s%s%s\n\n%s\n", v->name,
		     v->args[0] ? " " : "", v->args, v->help);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	(void)fprintf(stderr, "v6pdctl: ");
	va_start(ap, fmt);
	(void)vfprintf(stderr, fmt, ap);
	va_end(ap);
	(void)fprintf(stderr, "\nTry 'v6pdctl --help'.\n");
	return 2;
}

/* Takes an option's value from "--opt=value" or the next argument. */
static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);

	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (*i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

static bool opt_is(const char *a, const char *name)
{
	size_t n = strlen(name);

	return strncmp(a, name, n) == 0 && (a[n] == '\0' || a[n] == '=');
}

int main(int argc, char **argv)
{
	struct ctl c = { 0 };
	const char *words[CTL_MAX_ARGS + 2];
	const struct verb *v = NULL;
	int nwords = 0, opts = 0, r;
	bool help = false;

	c.state_dir = getenv("V6PD_STATE_DIR");
	if (!c.state_dir || !c.state_dir[0])
		c.state_dir = DEFAULT_STATE_DIR;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char **slot = NULL;
		int bit = 0;

		if (strcmp(a, "--") == 0) {
			while (++i < argc && nwords < CTL_MAX_ARGS + 2)
				words[nwords++] = argv[i];
			break;
		}
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			help = true;
			continue;
		}
		if (strcmp(a, "--json") == 0) {
			c.json = true;
			continue;
		}
		if (strcmp(a, "--forget") == 0) {
			c.forget = true;
			opts |= OPT_FORGET;
			continue;
		}
		if (opt_is(a, "--state-dir"))
			slot = &c.state_dir;
		else if (opt_is(a, "--network"))
			slot = &c.network, bit = OPT_NETWORK;
		else if (opt_is(a, "--address"))
			slot = &c.address, bit = OPT_ADDRESS;
		else if (opt_is(a, "--older-than"))
			slot = &c.older_than, bit = OPT_OLDER_THAN;
		if (slot) {
			const char *name = a;
			char opt[32];

			(void)snprintf(opt, sizeof(opt), "%.*s", (int)strcspn(name, "="), name);
			*slot = opt_value(argc, argv, &i, opt);
			if (!*slot || !(*slot)[0])
				return usage_error("option %s needs a value", opt);
			opts |= bit;
			continue;
		}
		if (a[0] == '-' && a[1])
			return usage_error("unknown option '%s'", a);
		if (nwords == CTL_MAX_ARGS + 2)
			return usage_error("too many arguments at '%s'", a);
		words[nwords++] = a;
	}

	if (nwords == 0) {
		usage(help ? stdout : stderr);
		return help ? 0 : 2;
	}
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]) && !v; i++) {
		const char *name = verbs[i].name, *sp = strchr(name, ' ');
		int used = sp ? 2 : 1;

		if (nwords < used)
			continue;
		if (sp ? strncmp(words[0], name, (size_t)(sp - name)) == 0 &&
				 words[0][sp - name] == '\0' && strcmp(words[1], sp + 1) == 0
		       : strcmp(words[0], name) == 0) {
			v = &verbs[i];
			for (int k = used; k < nwords; k++)
				c.arg[c.nargs++] = words[k];
		}
	}
	if (!v) {
		if (strcmp(words[0], "prefix") == 0 || strcmp(words[0], "lease") == 0 ||
		    strcmp(words[0], "dns") == 0)
			return nwords == 1 ? usage_error("'%s' needs a sub-verb", words[0])
					   : usage_error("unknown verb '%s %s'", words[0], words[1]);
		return usage_error("unknown verb '%s'", words[0]);
	}
	if (help) {
		verb_help(v);
		return 0;
	}
	if (c.nargs != v->nargs) {
		(void)fprintf(stderr, "v6pdctl: %s takes %d argument%s: %s\n", v->name, v->nargs,
			      v->nargs == 1 ? "" : "s", v->args);
		return 2;
	}
	if (opts & ~v->opts)
		return usage_error("an option given is not one '%s' takes", v->name);

	c.now = (int64_t)time(NULL);
	r = store_open(c.state_dir, &c.store);
	/* The operator's tool looks at every page, so a damaged store is reported as such by
	 * every verb instead of by the ones that happen to reach the damage. */
	if (r == 0)
		r = store_check(c.store);
	if (r == 0)
		r = v->run(&c);
	store_close(c.store);
	if (r < 0) {
		(void)fprintf(stderr, "v6pdctl: %s\n", err_msg(r));
		return 1;
	}
	return 0;
}
