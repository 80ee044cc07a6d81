/* v6pdctl prefix set|show, networks */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "ctl.h"
#include "err.h"

int cmd_prefix_set(struct ctl *c)
{
	struct prefix p;
	int r = prefix_from_string(c->arg[0], &p);

	return r < 0 ? r : ctl_prefix_apply(c, &p, NULL);
}

static int networks_print(struct ctl *c, json_t *into)
{
	static const char *const head[] = { "NETWORK", "SLICE", "INDEX", "IIDS", "LEASES", "MAX" };
	struct store_net_info *v = NULL;
	struct table *t = NULL;
	size_t n = 0;
	int r;

	if ((r = store_network_list(c->store, &v, &n)) < 0)
		return r;
	if (into) {
		json_t *arr = json_array();

		for (size_t i = 0; i < n; i++)
			(void)json_array_append_new(arr, out_network_json(&v[i]));
		(void)json_object_set_new(into, "networks", arr);
		goto out;
	}
	t = table_new(6, head);
	if (!t) {
		r = err_set(-ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		char slice[PREFIX_STRLEN + 8] = "-", idx[24] = "-", cnt[16], max[16];
		const char *row[6] = { v[i].name, slice, idx, iid_mode_to_string(v[i].iid), cnt, max };

		if (v[i].per_container_slice)
			(void)snprintf(slice, sizeof(slice), "/%u per container", v[i].slice_len);
		else if (v[i].base_known)
			(void)prefix_to_string(&v[i].slice, slice, sizeof(slice));
		if (v[i].has_slice)
			(void)snprintf(idx, sizeof(idx), "%llu", (unsigned long long)v[i].slice_index);
		(void)snprintf(cnt, sizeof(cnt), "%u", v[i].lease_count);
		(void)snprintf(max, sizeof(max), "%u", v[i].max_leases);
		r = table_add(t, row);
	}
	if (r == 0)
		table_print(t);
out:
	table_free(t);
	free(v);
	return r;
}

int cmd_prefix_show(struct ctl *c)
{
	char a[PREFIX_STRLEN], t[32];
	struct prefix p;
	int64_t since;
	json_t *j;
	int r = store_prefix_get(c->store, &p, &since);

	if (r < 0 && r != -ENOENT)
		return r;
	if (c->json) {
		j = json_pack("{s:o, s:o}", "prefix",
			      r == 0 ? json_string(prefix_to_string(&p, a, sizeof(a))) : json_null(),
			      "since", r == 0 && since ? json_string(out_time(since, t, sizeof(t)))
						       : json_null());
		if ((r = ctl_renumber_status(c, j)) < 0 || (r = networks_print(c, j)) < 0) {
			json_decref(j);
			return r;
		}
		out_json(j);
		return 0;
	}
	if (r == 0)
		(void)printf("prefix %s (since %s)\n\n", prefix_to_string(&p, a, sizeof(a)),
			     out_time(since, t, sizeof(t)));
	else
		(void)printf("no delegated prefix is set (v6pdctl prefix set PREFIX)\n\n");
	if ((r = ctl_renumber_status(c, NULL)) < 0)
		return r;
	return networks_print(c, NULL);
}

int cmd_networks(struct ctl *c)
{
	json_t *j;
	int r;

	if (!c->json)
		return networks_print(c, NULL);
	j = json_object();
	if ((r = networks_print(c, j)) < 0) {
		json_decref(j);
		return r;
	}
	out_json(json_incref(json_object_get(j, "networks")));
	json_decref(j);
	return 0;
}
