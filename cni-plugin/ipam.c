/* The IPAM role: "ipam": {"type": "v6pd"} under bridge, macvlan, ipvlan. We only lease; the
 * calling plugin configures the links. The gateway is the slice's ::1, global, so that the
 * reference bridge's isGateway puts it on the bridge. */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "addrgen.h"
#include "cni.h"
#include "err.h"

static int ipam_add(struct cni_req *req, int *ret_code)
{
	char gw[INET6_ADDRSTRLEN];
	struct cni_lease_txn t;
	struct in6_addr g;
	int r;

	if ((r = cni_lease_acquire(req, &t, ret_code)) < 0)
		return r;
	if ((r = cni_dns_publish(req, &t.lease, ret_code)) < 0) {
		cni_lease_undo(req, &t);
		return r;
	}
	prefix_addr_with_host(&t.lease.slice, ADDRGEN_GATEWAY_IID, &g);
	(void)prefix_addr_to_string(&g, gw, sizeof(gw));
	return cni_result_print(req, NULL, 0, -1, &t.lease, gw, gw);
}

/* The lease is there and prevResult (the calling plugin's result) lists its address, or the
 * one a renumbering moved it from; the calling plugin checks the links. */
static int ipam_check(struct cni_req *req, int *ret_code)
{
	struct lease l;
	int r = store_lease_get_attachment(req->store, req->cfg.name, req->env.container_id,
					   req->env.ifname, &l);

	if (r == 0)
		r = cni_check_prev_result(req, &l);
	if (r < 0)
		*ret_code = CNI_ERR_CHECK;
	return r;
}

int cni_gc(struct cni_req *req, struct lease **ret, size_t *ret_n, int *ret_code)
{
	struct store_attachment *valid = NULL;
	size_t n = 0;
	int r;

	*ret_code = CNI_ERR_CONFIG;
	if ((r = cni_gc_valid_read(req, &valid, &n)) < 0)
		return r;
	r = store_gc_attachments(req->store, req->cfg.name, valid, n, (int64_t)time(NULL), ret,
				 ret_n);
	free(valid);
	if (r < 0)
		*ret_code = cni_code_for(r);
	for (int i = 0; i < r && ret && *ret; i++)
		cni_dns_withdraw(req, &(*ret)[i]);
	return r < 0 ? r : 0;
}

int cni_ipam_run(struct cni_req *req, int *ret_code)
{
	struct lease *gone = NULL, l;
	size_t n = 0;
	int r;

	switch (req->env.cmd) {
	case CNI_ADD:
		return ipam_add(req, ret_code);
	case CNI_DEL:
		r = cni_lease_release(req, &l, ret_code);
		if (r == 0)
			cni_dns_withdraw(req, &l);
		return r == -ENOENT ? 0 : r;
	case CNI_CHECK:
		return ipam_check(req, ret_code);
	case CNI_GC:
		r = cni_gc(req, &gone, &n, ret_code);
		free(gone);
		return r;
	default:
		return 0;
	}
}
