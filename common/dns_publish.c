/* Keeping DNS in step with the store: what to publish and remove, in which backend, and the
 * record of it in the store. Every change is a plan of ops: their rows are written first
 * (pending / stale), so a crash after a backend took a record still leaves the row that lets
 * dns sync remove it; then each backend applies its ops; then the outcome is written. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "dns_int.h"
#include "err.h"
#include "store_int.h"

static const char *const backends[] = { DNS_BACKEND_HOSTS, DNS_BACKEND_PDNS,
					DNS_BACKEND_RFC2136 };
#define N_BACKENDS (sizeof(backends) / sizeof(backends[0]))

struct plan {
	struct dns_op *ops;
	size_t n, cap;
};

static bool backend_on(const struct dns_config *c, const char *b)
{
	if (strcmp(b, DNS_BACKEND_HOSTS) == 0)
		return c->hosts;
	if (strcmp(b, DNS_BACKEND_PDNS) == 0)
		return c->pdns;
	return c->rfc2136;
}

/* Whether c can apply row: a hosts file needs only its directory, a server c's credentials
 * for that very server. */
static bool backend_reaches(const struct dns_config *c, const struct store_dns_record *row)
{
	char t[STORE_DNS_TARGET_MAX];

	if (strcmp(row->backend, DNS_BACKEND_HOSTS) == 0)
		return row->target[0] == '/';
	if (!backend_on(c, row->backend))
		return false;
	dns_target(c, row->backend, t);
	return strcmp(t, row->target) == 0;
}

static int plan_push(struct plan *p, const struct store_dns_record *row, bool add)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 4;
		struct dns_op *n = realloc(p->ops, cap * sizeof(*n));

		if (!n)
			return err_set(-ENOMEM, "out of memory");
		p->ops = n;
		p->cap = cap;
	}
	memset(&p->ops[p->n], 0, sizeof(p->ops[p->n]));
	p->ops[p->n].row = *row;
	p->ops[p->n++].add = add;
	return 0;
}

static void row_for(const struct dns_config *c, const char *network, const char *key,
		    const struct dns_record *rec, const char *backend, struct store_dns_record *ret)
{
	memset(ret, 0, sizeof(*ret));
	store_copy(ret->network, sizeof(ret->network), network);
	store_copy(ret->key, sizeof(ret->key), key);
	store_copy(ret->backend, sizeof(ret->backend), backend);
	dns_target(c, backend, ret->target);
	store_copy(ret->name, sizeof(ret->name), rec->name);
	store_copy(ret->zone, sizeof(ret->zone), rec->zone);
	ret->addr = rec->addr;
	store_copy(ret->ptr_zone, sizeof(ret->ptr_zone), rec->ptr_zone);
}

static bool same_record(const struct store_dns_record *a, const struct store_dns_record *b)
{
	return strcmp(a->backend, b->backend) == 0 && strcmp(a->key, b->key) == 0 &&
	       strcmp(a->name, b->name) == 0 && strcmp(a->target, b->target) == 0 &&
	       strcmp(a->zone, b->zone) == 0 && strcmp(a->ptr_zone, b->ptr_zone) == 0 &&
	       memcmp(&a->addr, &b->addr, sizeof(a->addr)) == 0;
}

static int cmp_backend(const void *a, const void *b)
{
	return strcmp(((const struct dns_op *)a)->row.backend, ((const struct dns_op *)b)->row.backend);
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp(((const struct dns_op *)a)->row.key, ((const struct dns_op *)b)->row.key);
}

void dns_ops_fail(struct dns_op *ops, size_t n, int r)
{
	for (size_t i = 0; i < n; i++) {
		ops[i].err = r;
		(void)snprintf(ops[i].row.error, sizeof(ops[i].row.error), "%s", err_msg(r));
	}
}

static int apply(struct store *s, const struct dns_config *c, const char *network,
		 struct dns_op *ops, size_t n)
{
	if (strcmp(ops[0].row.backend, DNS_BACKEND_HOSTS) == 0)
		return dns_hosts_apply(s, network, ops, n);
	if (strcmp(ops[0].row.backend, DNS_BACKEND_PDNS) == 0)
		return dns_pdns_apply(s, c, ops, n);
	return dns_rfc2136_apply(c, ops, n);
}

/* Applies the ops of one backend (ops[0..n) share it); those c cannot reach fail. */
static void apply_backend(struct store *s, const struct dns_config *c, const char *network,
			  struct dns_op *ops, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (backend_reaches(c, &ops[i].row)) {
			struct dns_op t = ops[k];

			ops[k++] = ops[i];
			ops[i] = t;
		}
	}
	for (size_t i = k; i < n; i++) {
		ops[i].err = -ENOENT;
		/* A message cut at the column's size is fine (the name comes first); looking at the
		 * result tells -Wformat-truncation that the cut is expected. */
		if (snprintf(ops[i].row.error, sizeof(ops[i].row.error),
			     "%s: no longer configured for network %s (%s %s); remove it by hand",
			     ops[i].row.name, network, ops[i].row.backend,
			     ops[i].row.target) >= (int)sizeof(ops[i].row.error))
			ops[i].row.error[sizeof(ops[i].row.error) - 1] = '\0';
	}
	if (k > 0)
		(void)apply(s, c, network, ops, k);
}

/* Runs p: intent, backends, outcome. Returns 0 or the first op's failure. */
static int plan_run(struct store *s, const struct dns_config *c, const char *network,
		    struct plan *p, int64_t now)
{
	struct store_dns_record *put = NULL, *del = NULL;
	char msg[STORE_DNS_ERROR_MAX] = "";
	size_t np = 0, nd = 0, j;
	int first = 0, r;

	if (p->n == 0)
		return 0;
	put = calloc(p->n, sizeof(*put));
	del = calloc(p->n, sizeof(*del));
	if (!put || !del) {
		first = err_set(-ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < p->n; i++) {
		p->ops[i].row.state = p->ops[i].add ? STORE_DNS_PENDING : STORE_DNS_STALE;
		p->ops[i].row.updated = now;
		put[i] = p->ops[i].row;
	}
	if ((first = store_dns_update(s, put, p->n, NULL, 0)) < 0)
		goto out;
	if (p->n > 1)
		qsort(p->ops, p->n, sizeof(*p->ops), cmp_backend);
	for (size_t i = 0; i < p->n; i = j) {
		for (j = i; j < p->n && strcmp(p->ops[j].row.backend, p->ops[i].row.backend) == 0; j++)
			;
		apply_backend(s, c, network, p->ops + i, j - i);
	}
	for (size_t i = 0; i < p->n; i++) {
		struct dns_op *o = &p->ops[i];

		if (o->err == 0 && !o->add) {
			del[nd++] = o->row;
			continue;
		}
		if (o->err == 0) {
			o->row.state = STORE_DNS_PUBLISHED;
			o->row.error[0] = '\0';
		} else if (first == 0) {
			first = o->err;
			(void)snprintf(msg, sizeof(msg), "%s", o->row.error);
		}
		put[np++] = o->row;
	}
	r = store_dns_update(s, put, np, del, nd);
	if (first == 0 && r < 0)
		first = r;
	else if (first < 0)
		(void)err_set(first, "%s", msg);
out:
	free(put);
	free(del);
	return first;
}

/* Records c as network's DNS settings; settings as recorded already cost a read, not a
 * write transaction (every ADD of the network passes here). */
static int config_record(struct store *s, const struct dns_config *c, const char *network,
			 int64_t now)
{
	json_t *j = dns_config_to_json(c);
	char *text = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL, *have = NULL;
	int r = text ? 0 : err_set(-ENOMEM, "out of memory");

	if (r == 0 && store_dns_config_get(s, network, &have) < 0) {
		have = NULL;
		err_clear();	/* none recorded yet; anything worse, the put tells */
	}
	if (r == 0 && (!have || strcmp(have, text) != 0))
		r = store_dns_config_put(s, network, text, now);
	free(have);
	free(text);
	json_decref(j);
	return r;
}

/* Takes back what a failed required publish did: its adds that went through are removed,
 * the others marked stale for dns sync. The first failure's message stays. */
static void rollback(struct store *s, const struct dns_config *c, const char *network,
		     struct plan *p, int64_t now)
{
	char msg[STORE_DNS_ERROR_MAX];
	struct plan back = { 0 };
	struct store_dns_record *stale = NULL;
	size_t ns = 0;

	(void)snprintf(msg, sizeof(msg), "%s", err_msg(-EIO));
	stale = calloc(p->n, sizeof(*stale));
	for (size_t i = 0; i < p->n; i++) {
		if (!p->ops[i].add)
			continue;
		if (p->ops[i].err == 0) {
			(void)plan_push(&back, &p->ops[i].row, false);
		} else if (stale) {
			stale[ns] = p->ops[i].row;
			stale[ns++].state = STORE_DNS_STALE;
		}
	}
	(void)plan_run(s, c, network, &back, now);
	if (ns)
		(void)store_dns_update(s, stale, ns, NULL, 0);
	free(stale);
	free(back.ops);
	(void)err_set(-EIO, "%s", msg);
}

int dns_publish(struct store *s, const struct dns_config *c, const struct lease *l, int64_t now)
{
	struct store_dns_record *rows = NULL, want;
	struct dns_record rec;
	struct plan p = { 0 };
	size_t n = 0;
	int r;

	if (!c->enabled)
		return 0;
	if ((r = dns_record_for_lease(c, l, &rec)) < 0 ||
	    (r = config_record(s, c, l->network, now)) < 0 ||
	    (r = store_dns_list(s, l->network, l->key, NULL, &rows, &n)) < 0)
		return r;
	for (size_t b = 0; b < N_BACKENDS && r == 0; b++) {
		if (!backend_on(c, backends[b]))
			continue;
		row_for(c, l->network, l->key, &rec, backends[b], &want);
		r = plan_push(&p, &want, true);
		/* what the key had elsewhere: an old address, an old name, another server */
		for (size_t i = 0; i < n && r == 0; i++)
			if (strcmp(rows[i].backend, backends[b]) == 0 && !same_record(&rows[i], &want))
				r = plan_push(&p, &rows[i], false);
	}
	for (size_t i = 0; i < n && r == 0; i++)
		if (!backend_on(c, rows[i].backend))
			r = plan_push(&p, &rows[i], false);
	if (r == 0)
		r = plan_run(s, c, l->network, &p, now);
	if (r < 0 && c->required) {
		int e = r;

		rollback(s, c, l->network, &p, now);
		r = e;
	}
	free(rows);
	free(p.ops);
	return r;
}

static int remove_key(struct store *s, const struct dns_config *c, const char *network,
		      const char *key, int64_t now)
{
	struct store_dns_record *rows = NULL;
	struct plan p = { 0 };
	size_t n = 0;
	int r;

	if ((r = store_dns_list(s, network, key, NULL, &rows, &n)) < 0)
		return r;
	for (size_t i = 0; i < n && r == 0; i++)
		r = plan_push(&p, &rows[i], false);
	if (r == 0)
		r = plan_run(s, c, network, &p, now);
	free(rows);
	free(p.ops);
	return r;
}

int dns_withdraw(struct store *s, const struct dns_config *c, const struct lease *l,
		 int64_t now)
{
	if (!c->enabled || c->on_release == DNS_RELEASE_KEEP)
		return 0;
	return remove_key(s, c, l->network, l->key, now);
}

int dns_restore(struct store *s, const struct dns_config *c, const char *network,
		const char *key, const struct lease *prev, int64_t now)
{
	struct dns_config again;

	if (!c->enabled)
		return 0;
	if (prev && dns_lease_wanted(c, prev)) {
		again = *c;
		again.required = false;	/* nothing to take back: this is the taking back */
		return dns_publish(s, &again, prev, now);
	}
	return remove_key(s, c, network, key, now);
}

/* The DNS settings network's last ADD recorded. -ENOENT when none. */
static int config_load(struct store *s, const char *network, struct dns_config *ret)
{
	json_error_t jerr;
	json_t *j;
	char *text = NULL;
	int r = store_dns_config_get(s, network, &text);

	if (r < 0)
		return r;
	j = json_loads(text, 0, &jerr);
	free(text);
	if (!j)
		return err_set(-EBADMSG, "network %s: the recorded DNS settings are damaged: %s",
			       network, jerr.text);
	r = dns_config_from_json(j, 0, false, ret);
	json_decref(j);
	if (r == 0 && !ret->enabled)
		r = err_set(-EBADMSG, "network %s: the recorded DNS settings have no zone", network);
	return r < 0 ? err_wrap(r, "network %s: recorded DNS settings", network) : 0;
}

int dns_lease_renumbered(struct store *s, const struct lease *l, int64_t now)
{
	struct dns_config c;
	int r = config_load(s, l->network, &c);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (dns_lease_wanted(&c, l))
		return dns_publish(s, &c, l, now);
	return remove_key(s, &c, l->network, l->key, now);
}

/* The ops that bring network's DNS in line with its leases. */
static int sync_plan(struct store *s, const struct dns_config *c, const char *network,
		     struct plan *p)
{
	struct store_dns_record *rows = NULL, want;
	struct lease *leases = NULL;
	struct dns_record rec;
	size_t nl = 0, nr = 0, nadd;
	int r;

	if ((r = store_lease_list(s, network, &leases, &nl)) < 0 ||
	    (r = store_dns_list(s, network, NULL, NULL, &rows, &nr)) < 0)
		goto out;
	for (size_t i = 0; i < nl && r == 0; i++) {
		if (!dns_lease_wanted(c, &leases[i]))
			continue;
		if (dns_record_for_lease(c, &leases[i], &rec) < 0)
			continue; /* no name or address to publish: nothing to do */
		for (size_t b = 0; b < N_BACKENDS && r == 0; b++) {
			if (!backend_on(c, backends[b]))
				continue;
			row_for(c, network, leases[i].key, &rec, backends[b], &want);
			r = plan_push(p, &want, true);
		}
	}
	/* Rows find their add by bisection over the adds sorted by key. */
	nadd = p->n;
	if (nadd > 1)
		qsort(p->ops, nadd, sizeof(*p->ops), cmp_key);
	for (size_t i = 0; i < nr && r == 0; i++) {
		size_t lo = 0, hi = nadd;
		bool keep = false;

		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (strcmp(p->ops[mid].row.key, rows[i].key) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (; lo < nadd && !keep && strcmp(p->ops[lo].row.key, rows[i].key) == 0; lo++)
			keep = same_record(&p->ops[lo].row, &rows[i]);
		if (!keep)
			r = plan_push(p, &rows[i], false);
	}
out:
	free(leases);
	free(rows);
	return r;
}

static int sync_one(struct store *s, const char *network, int64_t now,
		    struct dns_sync_report *rep)
{
	struct dns_config c;
	struct plan p = { 0 };
	int r;

	if ((r = config_load(s, network, &c)) < 0)
		return r;
	rep->networks++;
	if ((r = sync_plan(s, &c, network, &p)) == 0) {
		r = plan_run(s, &c, network, &p, now);
		for (size_t i = 0; i < p.n; i++) {
			if (p.ops[i].err)
				rep->failed++;
			else if (p.ops[i].add)
				rep->published++;
			else
				rep->removed++;
		}
	}
	/* a hosts file edited or deleted by hand comes back even when no op touched it */
	if (r == 0 && c.hosts)
		r = dns_hosts_write(s, network, c.hosts_dir);
	free(p.ops);
	return r;
}

int dns_sync(struct store *s, const char *network, int64_t now, struct dns_sync_report *ret)
{
	char msg[STORE_DNS_ERROR_MAX] = "";
	struct dns_sync_report rep = { 0 };
	struct store_name *nets = NULL;
	size_t n = 0;
	int r, first = 0;

	if (network) {
		first = sync_one(s, network, now, &rep);
		goto out;
	}
	if ((first = store_dns_config_list(s, &nets, &n)) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		r = sync_one(s, nets[i].name, now, &rep);
		if (r < 0 && first == 0) {
			first = r;
			(void)snprintf(msg, sizeof(msg), "%s", err_msg(r));
		}
	}
	if (first < 0)
		(void)err_set(first, "%s", msg);
	free(nets);
out:
	if (ret)
		*ret = rep;
	return first;
}

int dns_export(struct store *s, const char *network, char **ret)
{
	char a[INET6_ADDRSTRLEN], rev[DNS_NAME_MAX];
	struct dns_config c;
	struct dns_record rec;
	struct lease *leases = NULL;
	size_t nl = 0, size = 0;
	char *text = NULL;
	FILE *f;
	int r;

	if ((r = config_load(s, network, &c)) < 0 ||
	    (r = store_lease_list(s, network, &leases, &nl)) < 0)
		return r;
	f = open_memstream(&text, &size);
	if (!f) {
		free(leases);
		return err_set(-ENOMEM, "out of memory");
	}
	(void)fprintf(f, "; v6pd network %s: zone %s, reverse zone %s\n", network, c.zone,
		      !c.ptr ? "(no PTR)" : c.reverse_zone[0] ? c.reverse_zone : "(the slice's)");
	for (size_t i = 0; i < nl; i++) {
		if (!dns_lease_wanted(&c, &leases[i]) || dns_record_for_lease(&c, &leases[i], &rec) < 0)
			continue;
		(void)fprintf(f, "%s\t%u\tIN\tAAAA\t%s\n", rec.name, c.ttl,
			      prefix_addr_to_string(&rec.addr, a, sizeof(a)));
		if (rec.ptr_zone[0]) {
			dns_reverse_name(&rec.addr, rev);
			(void)fprintf(f, "%s\t%u\tIN\tPTR\t%s\n", rev, c.ttl, rec.name);
		}
	}
	free(leases);
	if (fclose(f) != 0 || !text) {
		free(text);
		return err_set(-ENOMEM, "out of memory");
	}
	*ret = text;
	return 0;
}
