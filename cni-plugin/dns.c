/* Publishing the attachment's lease in DNS (common/dns.h) after the lease work. */
#include <time.h>

#include "cni.h"
#include "dns.h"
#include "err.h"

int cni_dns_publish(struct cni_req *req, const struct lease *l, int *ret_code)
{
	int r;

	if (!req->cfg.dns.enabled)
		return 0;
	dns_set_pdns_runner(dns_pdns_via_v6pdctl);
	r = dns_publish(req->store, &req->cfg.dns, l, (int64_t)time(NULL));
	if (r == 0)
		return 0;
	if (req->cfg.dns.required) {
		*ret_code = CNI_ERR_DNS;
		return err_wrap(r, "network \"%s\": publishing in DNS (\"dns.required\")",
				req->cfg.name);
	}
	cni_log("network \"%s\": publishing key \"%s\" in DNS failed (the ADD goes on; `v6pdctl "
		"dns sync` retries): %s",
		req->cfg.name, l->key, err_msg(r));
	return 0;
}

void cni_dns_withdraw(struct cni_req *req, const struct lease *l)
{
	int r;

	if (!req->cfg.dns.enabled)
		return;
	dns_set_pdns_runner(dns_pdns_via_v6pdctl);
	r = dns_withdraw(req->store, &req->cfg.dns, l, (int64_t)time(NULL));
	if (r < 0)
		cni_log("network \"%s\": removing key \"%s\" from DNS failed (`v6pdctl dns sync` "
			"retries): %s",
			req->cfg.name, l->key, err_msg(r));
}
