/* dnsmasq-ctl: common/dnsmasq.c from the command line, for test/libvirt/test_dnsmasq.py.
 *
 *   dnsmasq-ctl STATE_DIR serve NETWORK IFACE
 *   dnsmasq-ctl STATE_DIR serve-link NETWORK IFACE SLICE/LEN on-link|off-link [DNS...]
 *   dnsmasq-ctl STATE_DIR unserve IFACE
 *   dnsmasq-ctl STATE_DIR put NETWORK MAC ADDRESS [NAME]
 *   dnsmasq-ctl STATE_DIR remove NETWORK MAC
 *   dnsmasq-ctl STATE_DIR unlink NETWORK MAC
 *   dnsmasq-ctl STATE_DIR forget wait|nowait ADDRESS...
 *   dnsmasq-ctl STATE_DIR hosts-dir NETWORK
 *   dnsmasq-ctl STATE_DIR pid | stop
 *   dnsmasq-ctl reload PID_FILE
 *
 * Prints the function's result (a pid, a count, a path) on stdout; on failure the message
 * on stderr and exit status 1; 2 for bad usage.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnsmasq.h"
#include "err.h"

static int usage(void)
{
	(void)fprintf(stderr, "usage: dnsmasq-ctl STATE_DIR serve|serve-link|unserve|put|remove|"
		      "unlink|forget|hosts-dir|pid|stop ... | dnsmasq-ctl reload PID_FILE\n");
	return 2;
}

static int addr(const char *s, struct in6_addr *ret)
{
	if (inet_pton(AF_INET6, s, ret) != 1) {
		(void)fprintf(stderr, "dnsmasq-ctl: \"%s\": not an IPv6 address\n", s);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *sd, *verb;
	int r;

	if (argc == 3 && strcmp(argv[1], "reload") == 0) {
		r = dnsmasq_reload(argv[2]);
		goto done;
	}
	if (argc < 3)
		return usage();
	sd = argv[1];
	verb = argv[2];
	if (strcmp(verb, "serve") == 0 && argc == 5) {
		r = dnsmasq_serve(sd, argv[3], argv[4]);
	} else if (strcmp(verb, "serve-link") == 0 && argc >= 7) {
		struct in6_addr dns[8];
		struct dnsmasq_link l = { .network = argv[3], .iface = argv[4], .dns = dns };

		char *slash = strchr(argv[5], '/');

		if (!slash)
			return usage();
		*slash = '\0';
		if (addr(argv[5], &l.slice) < 0)
			return 2;
		l.prefixlen = (unsigned)atoi(slash + 1);
		l.off_link = strcmp(argv[6], "off-link") == 0;
		if (argc - 7 > 8)
			return usage();
		for (int i = 7; i < argc; i++)
			if (addr(argv[i], &dns[l.n_dns++]) < 0)
				return 2;
		r = dnsmasq_serve_link(sd, &l);
	} else if (strcmp(verb, "unserve") == 0 && argc == 4) {
		r = dnsmasq_unserve(sd, argv[3]);
	} else if (strcmp(verb, "put") == 0 && (argc == 6 || argc == 7)) {
		struct in6_addr a;

		if (addr(argv[5], &a) < 0)
			return 2;
		r = dnsmasq_host_put(sd, argv[3], argv[4], &a, argc == 7 ? argv[6] : NULL);
	} else if (strcmp(verb, "remove") == 0 && argc == 5) {
		r = dnsmasq_host_remove(sd, argv[3], argv[4]);
	} else if (strcmp(verb, "unlink") == 0 && argc == 5) {
		r = dnsmasq_host_unlink(sd, argv[3], argv[4], NULL);
	} else if (strcmp(verb, "forget") == 0 && argc >= 5 && argc - 4 <= 8) {
		struct in6_addr v[8];

		for (int i = 4; i < argc; i++)
			if (addr(argv[i], &v[i - 4]) < 0)
				return 2;
		r = dnsmasq_leases_forget(sd, v, (size_t)(argc - 4), strcmp(argv[3], "wait") == 0);
	} else if (strcmp(verb, "hosts-dir") == 0 && argc == 4) {
		char buf[PATH_MAX];

		r = dnsmasq_hosts_dir(sd, argv[3], buf, sizeof(buf));
		if (r == 0) {
			(void)printf("%s\n", buf);
			return 0;
		}
	} else if (strcmp(verb, "pid") == 0 && argc == 3) {
		r = dnsmasq_pid(sd);
	} else if (strcmp(verb, "stop") == 0 && argc == 3) {
		r = dnsmasq_stop(sd);
	} else {
		return usage();
	}
done:
	if (r < 0) {
		(void)fprintf(stderr, "dnsmasq-ctl: %s\n", err_msg(r));
		return 1;
	}
	(void)printf("%d\n", r);
	return 0;
}
