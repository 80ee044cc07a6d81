#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "err.h"

char *out_time(int64_t t, char *buf, size_t size)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t == 0 || !gmtime_r(&tt, &tm) || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		(void)snprintf(buf, size, "-");
	return buf;
}

char *out_age(int64_t s, char *buf, size_t size)
{
	if (s < 0)
		s = 0;
	if (s >= 86400)
		(void)snprintf(buf, size, "%" PRId64 "d", s / 86400);
	else if (s >= 3600)
		(void)snprintf(buf, size, "%" PRId64 "h", s / 3600);
	else if (s >= 60)
		(void)snprintf(buf, size, "%" PRId64 "m", s / 60);
	else
		(void)snprintf(buf, size, "%" PRId64 "s", s);
	return buf;
}

static json_t *json_time(int64_t t)
{
	char buf[32];

	return t ? json_string(out_time(t, buf, sizeof(buf))) : json_null();
}

static json_t *json_str_or_null(const char *s)
{
	return s && s[0] ? json_string(s) : json_null();
}

json_t *out_lease_json(const struct lease *l)
{
	char addr[INET6_ADDRSTRLEN], slice[PREFIX_STRLEN], iid[24];

	(void)snprintf(iid, sizeof(iid), "%016" PRIx64, l->iid);
	return json_pack("{s:s, s:s, s:o, s:o, s:I, s:s, s:s, s:b, s:o, s:o, s:o, s:o, s:o, s:o, "
			 "s:o, s:o, s:o}",
			 "network", l->network, "key", l->key,
			 "address", l->addr_known ? json_string(prefix_addr_to_string(&l->addr, addr,
										  sizeof(addr)))
						  : json_null(),
			 "slice", l->addr_known ? json_string(prefix_to_string(&l->slice, slice,
									       sizeof(slice)))
						: json_null(),
			 "sliceIndex", (json_int_t)l->slice_index, "iid", iid, "state",
			 lease_state_to_string(l->state), "pinned", l->pinned,
			 "containerId", json_str_or_null(l->container_id),
			 "ifname", json_str_or_null(l->ifname), "netns", json_str_or_null(l->netns),
			 "hostname", json_str_or_null(l->hostname), "mac", json_str_or_null(l->mac),
			 "created", json_time(l->created), "updated", json_time(l->updated),
			 "released", json_time(l->released), "expires", json_time(l->expires));
}

json_t *out_network_json(const struct store_net_info *n)
{
	char base[PREFIX_STRLEN], slice[PREFIX_STRLEN];

	return json_pack("{s:s, s:o, s:b, s:i, s:o, s:o, s:b, s:s, s:I, s:I, s:I}", "name", n->name,
			 "prefix", n->base_known ? json_string(prefix_to_string(&n->base, base,
										sizeof(base)))
						 : json_null(),
			 "ownPrefix", n->has_prefix, "sliceLength", (int)n->slice_len,
			 "sliceIndex", n->has_slice ? json_integer((json_int_t)n->slice_index)
						    : json_null(),
			 "slice", n->has_slice && n->base_known
					  ? json_string(prefix_to_string(&n->slice, slice, sizeof(slice)))
					  : json_null(),
			 "perContainerSlice", n->per_container_slice, "iid",
			 iid_mode_to_string(n->iid), "maxLeases", (json_int_t)n->max_leases,
			 "retention", (json_int_t)n->retention, "leases", (json_int_t)n->lease_count);
}

void out_json(json_t *j)
{
	char *s;

	if (!j)
		return;
	s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (s)
		(void)printf("%s\n", s);
	free(s);
	json_decref(j);
}

void out_lease_text(const struct lease *l, int64_t now)
{
	char addr[INET6_ADDRSTRLEN] = "-", slice[PREFIX_STRLEN] = "-", t[32];

	if (l->addr_known) {
		(void)prefix_addr_to_string(&l->addr, addr, sizeof(addr));
		(void)prefix_to_string(&l->slice, slice, sizeof(slice));
	}
	(void)printf("network:    %s\n", l->network);
	(void)printf("key:        %s\n", l->key);
	(void)printf("address:    %s\n", addr);
	(void)printf("slice:      %s (index %" PRIu64 ")\n", slice, l->slice_index);
	(void)printf("iid:        %016" PRIx64 "\n", l->iid);
	(void)printf("state:      %s%s\n", lease_state_to_string(l->state),
		     l->pinned ? " (pinned)" : "");
	(void)printf("container:  %s\n", l->container_id[0] ? l->container_id : "-");
	(void)printf("ifname:     %s\n", l->ifname[0] ? l->ifname : "-");
	(void)printf("netns:      %s\n", l->netns[0] ? l->netns : "-");
	(void)printf("hostname:   %s\n", l->hostname[0] ? l->hostname : "-");
	(void)printf("mac:        %s\n", l->mac[0] ? l->mac : "-");
	(void)printf("created:    %s\n", out_time(l->created, t, sizeof(t)));
	(void)printf("updated:    %s\n", out_time(l->updated, t, sizeof(t)));
	(void)printf("released:   %s\n", out_time(l->released, t, sizeof(t)));
	(void)printf("expires:    %s\n", l->expires ? out_time(l->expires, t, sizeof(t))
						 : l->state == LEASE_RESERVED ? "never (pinned)" : "-");
	(void)now;
}

struct table {
	int ncols;
	size_t nrows, cap;
	char **cells; /* nrows * ncols, row 0 = headers */
	size_t *width;
};

struct table *table_new(int ncols, const char *const *headers)
{
	struct table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->ncols = ncols;
	t->width = calloc((size_t)ncols, sizeof(*t->width));
	if (!t->width || table_add(t, headers) < 0) {
		table_free(t);
		return NULL;
	}
	return t;
}

int table_add(struct table *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 32;
		char **nc = reallocarray(t->cells, cap * (size_t)t->ncols, sizeof(*nc));

		if (!nc)
			return err_set(-ENOMEM, "out of memory");
		t->cells = nc;
		t->cap = cap;
	}
	for (int i = 0; i < t->ncols; i++) {
		char *c = strdup(cells[i] ? cells[i] : "-");
		size_t len;

		if (!c) {
			for (int k = 0; k < i; k++)
				free(t->cells[t->nrows * (size_t)t->ncols + (size_t)k]);
			return err_set(-ENOMEM, "out of memory");
		}
		t->cells[t->nrows * (size_t)t->ncols + (size_t)i] = c;
		len = strlen(c);
		if (len > t->width[i])
			t->width[i] = len;
	}
	t->nrows++;
	return 0;
}

void table_print(struct table *t)
{
	for (size_t r = 0; r < t->nrows; r++) {
		for (int i = 0; i < t->ncols; i++) {
			const char *c = t->cells[r * (size_t)t->ncols + (size_t)i];

			if (i == t->ncols - 1)
				(void)printf("%s\n", c);
			else
				(void)printf("%-*s  ", (int)t->width[i], c);
		}
	}
}

void table_free(struct table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->width);
	free(t);
}
