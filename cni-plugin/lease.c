/* What both roles do with the store: acquire with undo, release, GC, STATUS. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cni.h"
#include "err.h"

int cni_code_for(int r)
{
	switch (r) {
	case -EBUSY:
		return CNI_ERR_TRY_AGAIN;
	case -ENOSPC:
	case -EADDRINUSE:
	case -EADDRNOTAVAIL:
	case -ENOENT:
	case -ERANGE:
		return CNI_ERR_NO_ADDRESS;
	case -EINVAL:
		return CNI_ERR_CONFIG;
	default:
		return CNI_ERR_STORE;
	}
}

int cni_store_open(struct cni_req *req, int *ret_code)
{
	int r = cni_store_take(req->cfg.state_dir, &req->store);

	if (r < 0)
		*ret_code = r == -EBUSY ? CNI_ERR_TRY_AGAIN : CNI_ERR_STORE;
	return r;
}

/* How the workload is attached, recorded with its lease for a renumbering (renumber.h). */
static void attach_record(const struct cni_req *req, struct store_attach *a)
{
	const struct net_config *c = &req->cfg;

	memset(a, 0, sizeof(*a));
	a->grace = c->renumber_grace;
	a->plen = (uint8_t)c->net.slice_len;
	if (req->ipam_role) {
		a->mode = STORE_ATTACH_IPAM;
	} else if (c->mode == NET_MODE_BRIDGE) {
		a->mode = STORE_ATTACH_BRIDGE;
		(void)snprintf(a->link, sizeof(a->link), "%s", c->bridge);
	} else {
		a->mode = STORE_ATTACH_ROUTED;
		(void)snprintf(a->link, sizeof(a->link), "%s", req->host_link);
		(void)snprintf(a->uplink, sizeof(a->uplink), "%s", c->ndp_proxy);
		if (!c->net.per_container_slice)
			a->plen = 128;
	}
}

int cni_lease_acquire(struct cni_req *req, struct cni_lease_txn *t, int *ret_code)
{
	const struct cni_env *e = &req->env;
	struct store_attach at;
	struct lease_request lr = {
		.key = req->key,
		.container_id = e->container_id,
		.ifname = e->ifname,
		.netns = e->netns,
		.hostname = e->k8s_name,
		.mac = req->mac[0] ? req->mac : NULL,
		.want = req->has_want ? &req->want : NULL,
		.attach = &at,
		.prev = &t->prev,
		.had_prev = &t->had_prev,
	};
	int r;

	attach_record(req, &at);
	memset(t, 0, sizeof(*t));
	if (strcmp(req->key_source, "container ID") == 0)
		cni_log("network \"%s\": no stable key given (no K8S_POD_NAME, no args key); the "
			"container ID keys the lease, so a re-created container gets a new address",
			req->cfg.name);
	r = store_lease_acquire(req->store, &req->cfg.net, &lr, (int64_t)time(NULL), &t->lease);
	if (r < 0)
		goto fail;
	t->acquired = true;
	return 0;
fail:
	*ret_code = cni_code_for(r);
	return r;
}

void cni_lease_undo(struct cni_req *req, struct cni_lease_txn *t)
{
	int r;

	if (!t->acquired)
		return;
	r = t->had_prev ? store_lease_restore(req->store, &t->prev)
			: store_lease_forget(req->store, req->cfg.name, req->key);
	if (r < 0)
		cni_log("undoing the lease of key \"%s\": %s", req->key, err_msg(r));
	t->acquired = false;
}

int cni_lease_release(struct cni_req *req, struct lease *ret, int *ret_code)
{
	int r = store_lease_release_attachment(req->store, req->cfg.name, req->env.container_id,
					       req->env.ifname, (int64_t)time(NULL), ret);

	if (r < 0 && r != -ENOENT)
		*ret_code = cni_code_for(r);
	return r;
}

int cni_gc_valid_read(const struct cni_req *req, struct store_attachment **ret, size_t *ret_n)
{
	json_t *list = json_object_get(req->conf, "cni.dev/valid-attachments"), *v;
	struct store_attachment *a;
	size_t i;

	if (!list)
		list = json_object_get(req->conf, "cni.dev/attachments");
	if (!list || json_is_null(list)) {
		*ret = NULL;
		*ret_n = 0;
		return 0;
	}
	if (!json_is_array(list))
		return err_set(-EINVAL, "\"cni.dev/valid-attachments\": must be a list");
	a = calloc(json_array_size(list) + 1, sizeof(*a));
	if (!a)
		return err_set(-ENOMEM, "out of memory");
	json_array_foreach(list, i, v) {
		json_t *cid = json_object_get(v, "containerID"), *ifn = json_object_get(v, "ifname");

		if (!json_is_string(cid) || !json_is_string(ifn)) {
			free(a);
			return err_set(-EINVAL, "\"cni.dev/valid-attachments\"[%zu]: needs string "
						"\"containerID\" and \"ifname\"",
				       i);
		}
		a[i].container_id = json_string_value(cid);
		a[i].ifname = json_string_value(ifn);
	}
	*ret = a;
	*ret_n = json_array_size(list);
	return 0;
}

int cni_status(struct cni_req *req, int *ret_code)
{
	struct store_net_info n;
	struct prefix p;
	int r;

	*ret_code = CNI_ERR_UNAVAILABLE;
	if ((r = cni_store_take(req->cfg.state_dir, &req->store)) < 0)
		return err_wrap(r, "lease store unusable");
	if (req->cfg.net.has_prefix)
		return 0;
	r = store_network_get(req->store, req->cfg.name, &n);
	if (r == 0 && n.has_prefix)
		return 0;
	r = store_prefix_get(req->store, &p, NULL);
	if (r < 0)
		return err_set(r, "network \"%s\": no delegated prefix is known and the netconf gives "
				  "no \"prefix\" (v6pdctl prefix set PREFIX)",
			       req->cfg.name);
	return 0;
}
