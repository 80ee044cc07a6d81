/* v6pdctl dns sync|export|show */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "dns.h"
#include "err.h"

int cmd_dns_sync(struct ctl *c)
{
	struct dns_sync_report rep;
	int r = dns_sync(c->store, c->network, c->now, &rep);

	if (c->json)
		out_json(json_pack("{s:i, s:i, s:i, s:i, s:b}", "networks", (int)rep.networks,
				   "published", (int)rep.published, "removed", (int)rep.removed,
				   "failed", (int)rep.failed, "ok", r == 0));
	else
		(void)printf("%u network%s: %u record%s published, %u removed, %u failed\n",
			     rep.networks, rep.networks == 1 ? "" : "s", rep.published,
			     rep.published == 1 ? "" : "s", rep.removed, rep.failed);
	return r;
}

int cmd_dns_export(struct ctl *c)
{
	char *text = NULL;
	int r;

	if (!c->network)
		return err_set(-EINVAL, "dns export: --network NAME is required");
	if ((r = dns_export(c->store, c->network, &text)) < 0)
		return r;
	if (c->json)
		out_json(json_pack("{s:s, s:s}", "network", c->network, "zoneFragment", text));
	else
		(void)fputs(text, stdout);
	free(text);
	return 0;
}

int cmd_dns_show(struct ctl *c)
{
	static const char *const head[] = { "NETWORK", "NAME",	"ADDRESS", "BACKEND",
					    "STATE",   "AGE",	"ERROR" };
	struct store_dns_record *v = NULL;
	struct table *t = NULL;
	size_t n = 0;
	int r;

	if ((r = store_dns_list(c->store, c->network, NULL, NULL, &v, &n)) < 0)
		return r;
	if (c->json) {
		json_t *arr = json_array();

		for (size_t i = 0; i < n; i++) {
			char a[INET6_ADDRSTRLEN], when[32];

			(void)json_array_append_new(
				arr, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
					       "network", v[i].network, "key", v[i].key, "name",
					       v[i].name, "zone", v[i].zone, "address",
					       prefix_addr_to_string(&v[i].addr, a, sizeof(a)),
					       "reverseZone", v[i].ptr_zone, "backend", v[i].backend,
					       "target", v[i].target, "state",
					       store_dns_state_to_string(v[i].state), "error", v[i].error,
					       "updated", out_time(v[i].updated, when, sizeof(when))));
		}
		out_json(arr);
		goto out;
	}
	t = table_new(7, head);
	if (!t) {
		r = err_set(-ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		char a[INET6_ADDRSTRLEN], age[16];
		const char *row[7] = { v[i].network, v[i].name, a, v[i].backend,
				       store_dns_state_to_string(v[i].state), age,
				       v[i].error[0] ? v[i].error : "-" };

		(void)prefix_addr_to_string(&v[i].addr, a, sizeof(a));
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
