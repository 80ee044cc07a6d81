/* One CNI call: the environment and the netconf in, the result or the error out. */
#include <string.h>

#include "addrgen.h"
#include "cni.h"
#include "err.h"

#define SELF_TYPE "v6pd"

int cni_run(void)
{
	struct cni_req req;
	int code = CNI_ERR_ENV, r;

	memset(&req, 0, sizeof(req));
	err_clear();
	if ((r = cni_env_read(&req.env)) < 0)
		goto fail;
	if ((r = cni_netconf_read(&req, SELF_TYPE, &code)) < 0)
		goto fail;
	if (req.env.cmd == CNI_VERSION) {
		cni_version_print(req.version);
		goto out;
	}
	/* OpenSSL (the keyed hash, the host end's name) after VERSION, which needs none */
	if ((r = addrgen_crypto_init_lean()) < 0)
		goto fail;
	switch (req.env.cmd) {
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
	(void)fflush(cni_out());
	cni_store_give(req.store);
	json_decref(req.conf);
	return 0;
fail:
	cni_error_print(req.version, code, err_msg(r), NULL);
	(void)fflush(cni_out());
	cni_store_give(req.store);
	json_decref(req.conf);
	return 1;
}
