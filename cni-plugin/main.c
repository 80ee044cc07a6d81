/* v6pd: a CNI plugin (and IPAM plugin) giving containers stable IPv6 addresses from the
 * host's delegated prefix. Spec: containernetworking/cni SPEC.md 1.1.0. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cni.h"
#include "quick.h"
#include "serve.h"

static void usage(void)
{
	(void)printf(
		"v6pd: a CNI plugin giving containers stable IPv6 addresses from the host's\n"
		"delegated prefix (CNI spec 0.3.0-1.1.0: ADD, DEL, CHECK, VERSION, STATUS, GC).\n\n"
		"It is run by container runtimes, not by hand: CNI_COMMAND and the other CNI_*\n"
		"variables in the environment, the network configuration on stdin, the result on\n"
		"stdout. Install it in /opt/cni/bin and name it in a network configuration:\n\n"
		"  {\"cniVersion\": \"1.1.0\", \"name\": \"web\", \"plugins\": [{\"type\": \"v6pd\",\n"
		"   \"mode\": \"bridge\", \"sliceLength\": 64}]}\n\n"
		"or as the IPAM plugin of bridge/macvlan/ipvlan: \"ipam\": {\"type\": \"v6pd\"}.\n"
		"Keys: mode (bridge|routed), bridge, prefix, sliceLength, subnetId,\n"
		"perContainerSlice, iid (stable|eui64|rfc7217|sequential), stateDir, retention,\n"
		"maxLeases, mtu, ndpProxy, renumberGrace, dns (CNI's nameservers, domain, search,\n"
		"options, and publishing: zone, hostsDir, powerdns, rfc2136; see the README).\n"
		"The host's prefix: v6pdctl prefix set PREFIX.\n\n"
		"A server lingers between calls (v6pd --serve, one per state directory and network\n"
		"namespace, for the callers in its mount namespace): the first call starts it, the\n"
		"next ones hand it their work and it keeps the store open; it exits after\n"
		"V6PD_SERVE_IDLE (a duration, default 60s) without calls. V6PD_SERVE_IDLE=0: none,\n"
		"every call in its own process.\n");
}

/* stdin, read whole: handed to the server, or read here from the buffer. What the quick
 * path (quick.h) read of it already comes first. */
static char *slurp(FILE *f, size_t *ret_len)
{
	size_t len = quick.in_len, cap = 4096;
	char *buf, *nb;

	while (cap <= len)
		cap *= 2;
	if (!(buf = malloc(cap)))
		return NULL;
	if (len)
		memcpy(buf, quick.in, len);
	while (!quick.in_eof) {
		size_t k = fread(buf + len, 1, cap - len, f);

		len += k;
		if (k == 0)
			break;
		if (len == cap) {
			/* no bound here: one too big for a server is run in this process */
			if (!(nb = realloc(buf, cap * 2))) {
				free(buf);
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
	}
	*ret_len = len;
	return buf;
}

/* 1: handed to the server (*ret_status is its answer's); 0: to run here, then (*ret_start)
 * to start a server at path. */
static int hand_over(const char *in, size_t len, int *ret_status, bool *ret_start,
		     char path[SERVE_SOCKET_MAX])
{
	cni_front_seed();
	switch (quick.outcome) {
	case QUICK_LOST:
		*ret_status = cni_front_lost(in, len, quick.path);
		return 1;
	case QUICK_NOBODY:
		*ret_start = true;
		memcpy(path, quick.path, sizeof(quick.path));
		return 0;
	case QUICK_DECLINED:
		*ret_start = false;
		return 0;
	case QUICK_UNTRIED:
		break;
	}
	return cni_front(in, len, ret_status, ret_start, path);
}

int main(int argc, char **argv)
{
	const char *cmd = getenv("CNI_COMMAND");
	char path[SERVE_SOCKET_MAX];
	bool start = false;
	size_t len = 0;
	char *in;
	int status;

	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage();
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "--serve") == 0)
		return cni_serve(argv[2]);
	/* A person running it by hand gets the usage, a runtime the CNI error. */
	if (!cmd && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO)) {
		usage();
		return 1;
	}
	/* VERSION needs nothing a server keeps; a stdin that cannot be read is the call's to
	 * report. */
	if (!cmd || strcmp(cmd, "VERSION") == 0 || !(in = slurp(stdin, &len)))
		return cni_run();
	if (hand_over(in, len, &status, &start, path)) {
		free(in);
		return status;
	}
	{
		FILE *f = cni_io_input(in, len);
		struct cni_io io = { .in = f, .out = stdout, .err = stderr };

		if (!f) {
			free(in);
			return cni_run();
		}
		cni_io_set(&io);
		status = cni_run();
		cni_io_set(NULL);
		(void)fclose(f);
	}
	free(in);
	/* a call that worked here starts a server for the next ones (one that failed may have
	 * had no usable state directory) */
	if (start && status == 0)
		cni_front_start(path);
	return status;
}
