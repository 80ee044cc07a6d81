/* v6pd: a CNI plugin (and IPAM plugin) giving containers stable IPv6 addresses from the
 * host's delegated prefix. Spec: containernetworking/cni SPEC.md 1.1.0. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addrgen.h"
#include "cni.h"
#include "err.h"

#define SELF_TYPE "v6pd"

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
		"The host's prefix: v6pdctl prefix set PREFIX.\n");
}

int main(int argc, char **argv)
{
	struct cni_req req;
	int code = CNI_ERR_ENV, r;

	memset(&req, 0, sizeof(req));
	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage();
		return 0;
	}
	/* A person running it by hand gets the usage, a runtime the CNI error. */
	if (!getenv("CNI_COMMAND") && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO)) {
		usage();
		return 1;
	}
	if ((r = addrgen_crypto_init_lean()) < 0 || (r = cni_env_read(&req.env)) < 0)
		goto fail;
	if ((r = cni_netconf_read(&req, SELF_TYPE, &code)) < 0)
		goto fail;
	switch (req.env.cmd) {
	case CNI_VERSION:
		cni_version_print(req.version);
		goto out;
	case CNI_STATUS:
		r = cni_status(&req, &code);
		goto done;
	default:
		break;
	}
	if ((r = cni_store_open(&req, &code)) < 0)
		goto fail;
	r = req.ipam_role ? cni_ipam_run(&req, &code) : cni_attach_run(&req, &code);
done:
	if (r < 0)
		goto fail;
out:
	/* The runtime has the result; the WAL's checkpoint goes to a worker. */
	(void)fflush(stdout);
	store_close_detached(req.store);
	json_decref(req.conf);
	return 0;
fail:
	cni_error_print(req.version, code, err_msg(r), NULL);
	(void)fflush(stdout);
	store_close_detached(req.store);
	json_decref(req.conf);
	return 1;
}
