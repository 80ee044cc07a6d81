/* v6pdctl: the operator's view of v6pd's lease store. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "err.h"
#include "vmconf.h"

#define DEFAULT_STATE_DIR "/var/lib/v6pd"

#define VERB_WORDS_MAX 3

struct verb {
	const char *name;	/* one to three words */
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
	  "slice would not fit in the new prefix. A change renumbers every live attachment in\n"
	  "place: containers (through the netns their lease recorded), bridge and tap gateways,\n"
	  "host routes, proxy NDP entries, VM reservations and DNS records move to the new\n"
	  "prefix; old addresses stay deprecated for renumberGrace (a network's netconf, or\n"
	  "/etc/v6pd/v6pd.json; default 10m), then go. The same prefix again changes nothing\n"
	  "but finishes a renumbering that was cut short." },
	{ "prefix from-dhcp-env", 0, OPT_PD_INTERFACE | OPT_PD_IAID, cmd_prefix_from_dhcp_env,
	  "[--pd-interface IFACE] [--pd-iaid IAID]",
	  "For a DHCPv6 client's hook (dhcpcd, ISC dhclient, networkd-dispatcher): reads the\n"
	  "delegated prefixes from the environment, remembers them, and sets the one to use as\n"
	  "`prefix set` does: the current prefix while it is valid, else the longest-lived (then\n"
	  "the lowest). A withdrawn prefix (valid lifetime 0) is dropped; when none is left, or\n"
	  "the new one is too small for the networks' slices, v6pd changes nothing and says so.\n"
	  "--pd-interface and --pd-iaid (or \"pdInterface\", \"pdIaid\" in /etc/v6pd/v6pd.json)\n"
	  "choose the delegation when the host holds several." },
	{ "prefix show", 0, 0, cmd_prefix_show, "",
	  "Shows the host's delegated prefix, since when it holds, what earlier prefixes still\n"
	  "drain and until when, leases not yet moved, and the networks with their slices." },
	{ "renumber", 0, 0, cmd_renumber, "",
	  "Finishes what renumberings left: moves the leases whose attachment does not carry the\n"
	  "current prefix yet (a run cut short) and removes what drained once its grace is over\n"
	  "(proxy NDP entries, expired host routes). `prefix set` and `from-dhcp-env` do both;\n"
	  "this is for a timer between DHCP renewals." },
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
	{ "gc", 0, OPT_OLDER_THAN | OPT_LIBVIRT | OPT_URI | OPT_CONFIG, cmd_gc,
	  "[--older-than DURATION] [--libvirt [--uri URI] [--config FILE]]",
	  "Deletes reservations whose retention ended, or, with --older-than (e.g. 1h, 7d), every\n"
	  "unpinned reservation released at least that long ago. Active leases are never touched,\n"
	  "except with --libvirt: first, the active leases the libvirt hook made (key UUID/MAC)\n"
	  "in the networks of the hook's config whose domain libvirt no longer has (neither\n"
	  "running nor defined, persistent or transient; asked through the libvirt API at URI,\n"
	  "default libvirt's own) are released into the reserved state, their DHCPv6\n"
	  "reservations removed (and on libvirt-managed networks their leases in libvirt's\n"
	  "dnsmasq released). The store is the config's \"stateDir\"." },
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
	{ "libvirt network define", 1, OPT_URI | OPT_RESTART | OPT_CONFIG,
	  cmd_libvirt_network_define, "NAME [--restart] [--uri URI] [--config FILE]",
	  "Defines, or updates, the libvirt network NAME through the libvirt API (at URI,\n"
	  "default libvirt's own) so that libvirt's dnsmasq gives its guests their v6pd\n"
	  "addresses. The v6pd network is the one of the entry with \"match\": {\"network\":\n"
	  "NAME} in the libvirt hook's config (FILE, default $V6PD_LIBVIRT_CONFIG or\n"
	  "/etc/v6pd/libvirt.json); it is created in the store at the config's \"stateDir\"\n"
	  "if new, and its slice is the network's. The network gets an IPv6 <ip> with the\n"
	  "slice's ::1 and DHCPv6 for reserved addresses only (a <dhcp><host> binding ::1 to a\n"
	  "DUID no client has: dnsmasq's static mode), and dnsmasq options: dhcp-hostsdir (the\n"
	  "reservations the hook writes), dhcp-lease-max (maxLeases; not with IPv4 DHCP\n"
	  "ranges, from which libvirt sets it) and, unless the network is isolated, ra-param\n"
	  "(RA every 10 s with a router lifetime: the guests' default route). A new network\n"
	  "is defined with <forward mode='route'/>, autostarted and started. An existing one\n"
	  "keeps everything else (forward mode, bridge, IPv4, other dnsmasq options); v6pd's\n"
	  "IPv6 <ip>, any other IPv6 <ip> with DHCP or in the slice, and v6pd's earlier\n"
	  "options are replaced; nothing is written when they are as wanted already. A\n"
	  "running network takes a change when restarted: --restart does that (net-destroy +\n"
	  "net-start, then the running guests' interfaces are put back on the bridge, which\n"
	  "libvirt does not do), otherwise the output says it is needed. A failed define or\n"
	  "restart puts the network's previous definition back (a new one is undefined)." },
};

static void usage(FILE *f)
{
	(void)fprintf(f, "usage: v6pdctl [--state-dir DIR] [--json] VERB [ARGS]\n\n"
			 "Verbs:\n");
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		(void)fprintf(f, "  %-*s%s\n", verbs[i].args[0] ? 23 : 0, verbs[i].name,
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

/* The number of words of name that words[] starts with, 0 when it does not. */
static int verb_match(const char *name, const char *const *words, int nwords)
{
	int k = 0;

	for (const char *p = name; *p; k++) {
		size_t n = strcspn(p, " ");

		if (k >= nwords || strlen(words[k]) != n || strncmp(words[k], p, n) != 0)
			return 0;
		p += n;
		p += *p == ' ';
	}
	return k;
}

/* "'lease' needs a sub-verb", "unknown verb 'lease frob'" and the like. */
static int unknown_verb(const char *const *words, int nwords)
{
	int best = 0, longest = 0;

	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		int k = 0, total = 0;

		for (const char *p = verbs[i].name; *p; total++) {
			size_t n = strcspn(p, " ");

			if (k == total && k < nwords && strlen(words[k]) == n &&
			    strncmp(words[k], p, n) == 0)
				k++;
			p += n;
			p += *p == ' ';
		}
		if (k > best || (k == best && total > longest)) {
			best = k;
			longest = total;
		}
	}
	if (best > 0 && best == nwords)
		return nwords == 1 ? usage_error("'%s' needs a sub-verb", words[0])
				   : usage_error("'%s %s' needs a sub-verb", words[0], words[1]);
	if (best + 1 >= 3 && nwords >= 3)
		return usage_error("unknown verb '%s %s %s'", words[0], words[1], words[2]);
	if (best >= 1 && nwords >= 2)
		return usage_error("unknown verb '%s %s'", words[0], words[1]);
	return usage_error("unknown verb '%s'", words[0]);
}

static bool same_dir(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	while (la > 1 && a[la - 1] == '/')
		la--;
	while (lb > 1 && b[lb - 1] == '/')
		lb--;
	return la == lb && strncmp(a, b, la) == 0;
}

/* The libvirt verbs work on the store the hook uses: the config's "stateDir". */
static int load_vmconf(struct ctl *c, struct vmconf *vm, bool state_dir_given)
{
	const char *path = c->config ? c->config : vmconf_default_path();
	int r = vmconf_load(path, vm);

	if (r == -ENOENT)
		return err_set(r, "%s: no such file: the libvirt hook's config says which libvirt "
				  "networks v6pd manages (--config FILE or $%s for another)",
			       path, VMCONF_ENV);
	if (r < 0)
		return r;
	if (state_dir_given && !same_dir(c->state_dir, vm->state_dir))
		return err_set(-EINVAL, "--state-dir (or $V6PD_STATE_DIR) %s differs from "
					"\"stateDir\" %s of %s, which the libvirt hook uses",
			       c->state_dir, vm->state_dir, path);
	c->state_dir = vm->state_dir;
	return 0;
}

int main(int argc, char **argv)
{
	struct ctl c = { 0 };
	const char *words[CTL_MAX_ARGS + VERB_WORDS_MAX];
	struct vmconf vm = { 0 };
	bool state_dir_given;
	const struct verb *v = NULL;
	int nwords = 0, opts = 0, r;
	bool help = false;

	c.state_dir = getenv("V6PD_STATE_DIR");
	state_dir_given = c.state_dir && c.state_dir[0];
	if (!state_dir_given)
		c.state_dir = DEFAULT_STATE_DIR;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char **slot = NULL;
		int bit = 0;

		if (strcmp(a, "--") == 0) {
			while (++i < argc && nwords < CTL_MAX_ARGS + VERB_WORDS_MAX)
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
		if (strcmp(a, "--restart") == 0) {
			c.restart = true;
			opts |= OPT_RESTART;
			continue;
		}
		if (strcmp(a, "--libvirt") == 0) {
			c.libvirt = true;
			opts |= OPT_LIBVIRT;
			continue;
		}
		if (opt_is(a, "--state-dir"))
			slot = &c.state_dir, state_dir_given = true;
		else if (opt_is(a, "--network"))
			slot = &c.network, bit = OPT_NETWORK;
		else if (opt_is(a, "--address"))
			slot = &c.address, bit = OPT_ADDRESS;
		else if (opt_is(a, "--older-than"))
			slot = &c.older_than, bit = OPT_OLDER_THAN;
		else if (opt_is(a, "--uri"))
			slot = &c.uri, bit = OPT_URI;
		else if (opt_is(a, "--config"))
			slot = &c.config, bit = OPT_CONFIG;
		else if (opt_is(a, "--pd-interface"))
			slot = &c.pd_interface, bit = OPT_PD_INTERFACE;
		else if (opt_is(a, "--pd-iaid"))
			slot = &c.pd_iaid, bit = OPT_PD_IAID;
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
		if (nwords == CTL_MAX_ARGS + VERB_WORDS_MAX)
			return usage_error("too many arguments at '%s'", a);
		words[nwords++] = a;
	}

	if (nwords == 0) {
		usage(help ? stdout : stderr);
		return help ? 0 : 2;
	}
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]) && !v; i++) {
		int used = verb_match(verbs[i].name, words, nwords);

		if (used > 0) {
			v = &verbs[i];
			for (int k = used; k < nwords; k++)
				c.arg[c.nargs++] = words[k];
		}
	}
	if (!v)
		return unknown_verb(words, nwords);
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
	if (v->run == cmd_gc && (opts & (OPT_URI | OPT_CONFIG)) && !c.libvirt)
		return usage_error("--uri and --config go with gc --libvirt");
	if (v->run == cmd_libvirt_network_define || c.libvirt) {
		if ((r = load_vmconf(&c, &vm, state_dir_given)) < 0) {
			(void)fprintf(stderr, "v6pdctl: %s\n", err_msg(r));
			return 1;
		}
		c.vm = &vm;
	}

	c.now = (int64_t)time(NULL);
	r = store_open(c.state_dir, &c.store);
	/* The operator's tool looks at every page, so a damaged store is reported as such by
	 * every verb instead of by the ones that happen to reach the damage. */
	if (r == 0)
		r = store_check(c.store);
	if (r == 0)
		r = v->run(&c);
	store_close(c.store);
	vmconf_free(&vm);
	if (r < 0) {
		(void)fprintf(stderr, "v6pdctl: %s\n", err_msg(r));
		return 1;
	}
	return 0;
}
