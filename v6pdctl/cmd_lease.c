/* v6pdctl leases, lease reserve|show|release, gc */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "duration.h"
#include "err.h"

int cmd_leases(struct ctl *c)
{
	static const char *const head[] = { "NETWORK", "KEY",	 "ADDRESS", "STATE",
					    "CONTAINER", "IFNAME", "AGE" };
	struct lease *v = NULL;
	struct table *t = NULL;
	size_t n = 0;
	int r;

	if ((r = store_lease_list(c->store, c->network, &v, &n)) < 0)
		return r;
	if (c->json) {
		json_t *arr = json_array();

		for (size_t i = 0; i < n; i++)
			(void)json_array_append_new(arr, out_lease_json(&v[i]));
		out_json(arr);
		goto out;
	}
	t = table_new(7, head);
	if (!t) {
		r = err_set(-ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		char addr[INET6_ADDRSTRLEN] = "-", state[16], cid[13], age[16];
		/* "-" for an empty cell keeps every row's column count for awk. */
		const char *row[7] = { v[i].network, v[i].key, addr, state,
				       v[i].container_id[0] ? cid : "-",
				       v[i].ifname[0] ? v[i].ifname : "-", age };

		if (v[i].addr_known)
			(void)prefix_addr_to_string(&v[i].addr, addr, sizeof(addr));
		(void)snprintf(state, sizeof(state), "%s%s", lease_state_to_string(v[i].state),
			       v[i].pinned ? "+pin" : "");
		/* Container IDs are long; 12 characters identify one, as docker ps shows. */
		(void)snprintf(cid, sizeof(cid), "%.12s", v[i].container_id);
		(void)out_age(c->now - v[i].updated, age, sizeof(age));
		r = table_add(t, row);
	}
	if (r == 0)
		table_print(t);
out:
	table_free(t);
	free(v);
	return r;
}

static void lease_print(struct ctl *c, const struct lease *l)
{
	if (c->json)
		out_json(out_lease_json(l));
	else
		out_lease_text(l, c->now);
}

int cmd_lease_reserve(struct ctl *c)
{
	char a[INET6_ADDRSTRLEN];
	struct store_net_info info;
	struct store_network cfg;
	struct lease_request req = { .key = c->arg[1], .reserve_only = true };
	struct in6_addr want;
	struct lease l;
	int r;

	if (c->address) {
		if ((r = prefix_addr_from_string(c->address, &want)) < 0)
			return err_wrap(r, "--address");
		req.want = &want;
	}
	/* An existing network keeps its settings; a new one gets the defaults. */
	store_network_init(&cfg, c->arg[0]);
	r = store_network_get(c->store, c->arg[0], &info);
	if (r == 0) {
		cfg.has_prefix = info.has_prefix;
		cfg.prefix = info.base;
		cfg.slice_len = info.slice_len;
		cfg.per_container_slice = info.per_container_slice;
		cfg.iid = info.iid;
		cfg.max_leases = info.max_leases;
		cfg.retention = info.retention;
	} else if (r != -ENOENT) {
		return r;
	}
	if ((r = store_lease_acquire(c->store, &cfg, &req, c->now, &l)) < 0)
		return r;
	if (c->json)
		out_json(out_lease_json(&l));
	else
		(void)printf("%s\n", l.addr_known ? prefix_addr_to_string(&l.addr, a, sizeof(a)) : "-");
	return 0;
}

int cmd_lease_show(struct ctl *c)
{
	struct lease l;
	int r = store_lease_get(c->store, c->arg[0], c->arg[1], &l);

	if (r < 0)
		return r;
	lease_print(c, &l);
	return 0;
}

int cmd_lease_release(struct ctl *c)
{
	struct lease l;
	int r;

	if (c->forget) {
		if ((r = store_lease_forget(c->store, c->arg[0], c->arg[1])) < 0)
			return r;
		if (c->json)
			out_json(json_pack("{s:s, s:s, s:b}", "network", c->arg[0], "key", c->arg[1],
					   "forgotten", 1));
		else
			(void)printf("forgot %s/%s\n", c->arg[0], c->arg[1]);
		return 0;
	}
	if ((r = store_lease_unpin(c->store, c->arg[0], c->arg[1], c->now, &l)) < 0)
		return r;
	lease_print(c, &l);
	return 0;
}

int cmd_gc(struct ctl *c)
{
	int64_t older = -1;
	int r, released = 0, domains = 0;

	if (c->older_than && (r = duration_from_string(c->older_than, &older)) < 0)
		return err_wrap(r, "--older-than");
	/* first the leases of vanished domains, so that their reservations count from now */
	if (c->libvirt && (r = libvirt_gc(c, &released, &domains)) < 0)
		return r;
	if ((r = store_gc_expired(c->store, c->now, older)) < 0)
		return r;
	if (c->json && c->libvirt)
		out_json(json_pack("{s:i, s:i, s:i}", "expired", r, "released", released,
				   "libvirtDomains", domains));
	else if (c->json)
		out_json(json_pack("{s:i}", "expired", r));
	if (c->json)
		return 0;
	if (c->libvirt)
		(void)printf("released %d lease%s of domains libvirt no longer has (it has %d "
			     "domain%s)\n",
			     released, released == 1 ? "" : "s", domains, domains == 1 ? "" : "s");
	(void)printf("expired %d reservation%s\n", r, r == 1 ? "" : "s");
	return 0;
}
