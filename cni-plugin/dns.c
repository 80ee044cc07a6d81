/* Publishing the attachment's lease in DNS (common/dns.h): at once in the IPAM role, beside
 * the link set-up in the full plugin (cni.h). The statically linked plugin runs the PowerDNS
 * API's HTTP exchanges in the helper v6pd-dns-http: the one lingering for its state
 * directory, connected to (or started) when the ADD begins. */
#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "cni.h"
#include "dns.h"
#include "err.h"

/* The outcome of a publication r: a failure fails the ADD only with "required". */
static int outcome(struct cni_req *req, const struct lease *l, int r, int *ret_code)
{
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

int cni_dns_publish(struct cni_req *req, const struct lease *l, int *ret_code)
{
	if (!req->cfg.dns.enabled)
		return 0;
	dns_set_pdns_runner(dns_pdns_via_helper);
	return outcome(req, l, dns_publish(req->store, &req->cfg.dns, l, (int64_t)time(NULL)),
		       ret_code);
}

void cni_dns_withdraw(struct cni_req *req, const struct lease *l)
{
	int r;

	if (!req->cfg.dns.enabled)
		return;
	dns_set_pdns_runner(dns_pdns_via_helper);
	r = dns_withdraw(req->store, &req->cfg.dns, l, (int64_t)time(NULL));
	if (r < 0)
		cni_log("network \"%s\": removing key \"%s\" from DNS failed (`v6pdctl dns sync` "
			"retries): %s",
			req->cfg.name, l->key, err_msg(r));
}

void cni_dns_prepare(struct cni_req *req, struct cni_dns_job *j)
{
	int r;

	*j = (struct cni_dns_job){ 0 };
	if (!req->cfg.dns.enabled)
		return;
	dns_set_pdns_runner(dns_pdns_via_helper);
	if (req->cfg.dns.pdns)
		dns_pdns_helper_prestart(req->cfg.state_dir);
	/* only an allocation can fail here; its message is then the publication's outcome */
	if ((r = dns_job_start(&req->cfg.dns, &j->job)) < 0) {
		j->r = r;
		(void)snprintf(j->msg, sizeof(j->msg), "%s", err_msg(r));
	}
}

bool cni_dns_run(struct cni_dns_job *j, void (*fn)(void *), void *arg)
{
	return j->job && dns_job_run(j->job, fn, arg);
}

void cni_dns_begin(struct cni_req *req, const struct lease *l, struct cni_dns_job *j)
{
	if (!req->cfg.dns.enabled)
		return;
	j->started = true;
	if (j->job)
		dns_job_publish(j->job, req->store, l, (int64_t)time(NULL));
}

void cni_dns_wait(struct cni_dns_job *j)
{
	char keep[sizeof(j->msg)];

	if (j->job) {
		/* the message of the ADD's own failure, when it fails, stays the current one */
		(void)snprintf(keep, sizeof(keep), "%s", err_msg(-EIO));
		j->r = dns_job_wait(j->job);
		(void)snprintf(j->msg, sizeof(j->msg), "%s", j->r < 0 ? err_msg(j->r) : "");
		j->job = NULL;
		(void)err_set(-EIO, "%s", keep);
	}
	/* a helper cni_dns_prepare() started for a publication that never came */
	dns_pdns_helper_release();
}

int cni_dns_end(struct cni_req *req, struct cni_dns_job *j, const struct lease *l,
		int *ret_code)
{
	if (!j->started)
		return 0;
	cni_dns_wait(j);
	if (j->r < 0)
		(void)err_set(j->r, "%s", j->msg);
	return outcome(req, l, j->r, ret_code);
}

void cni_dns_undo(struct cni_req *req, struct cni_dns_job *j, const struct cni_lease_txn *t)
{
	const struct lease *prev = t->had_prev ? &t->prev : NULL;
	int r;

	if (!j->started)
		return;
	/* a "required" publication that failed took back its own additions; with no earlier
	 * lease to publish again there is nothing left to do (and a server that is down would
	 * cost the timeout once more) */
	if (j->r < 0 && req->cfg.dns.required && !(prev && dns_lease_wanted(&req->cfg.dns, prev)))
		return;
	r = dns_restore(req->store, &req->cfg.dns, req->cfg.name, req->key, prev,
			(int64_t)time(NULL));
	if (r < 0)
		cni_log("network \"%s\": taking key \"%s\" back from DNS failed (`v6pdctl dns sync` "
			"retries): %s",
			req->cfg.name, req->key, err_msg(r));
}
