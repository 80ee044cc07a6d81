/* Backend powerdns: the PowerDNS Authoritative HTTP API (PATCH /api/v1/servers/ID/zones/ZONE,
 * RRsets with changetype REPLACE or DELETE, names ending with a dot). PowerDNS has no way to
 * add one record to an RRset, so each RRset is written whole from what the store holds for
 * its name on this server: every v6pd address for an AAAA name, every v6pd name for a PTR.
 * The zones' PATCHes run in parallel (dns_http.c, libcurl multi): one round trip for an ADD,
 * in this process or in the helper v6pd-dns-http (dns_set_pdns_runner()), which lingers per
 * state directory. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns_http.h"
#include "dns_int.h"
#include "err.h"

/* The default runner: the exchanges in this process. */
static int run_here(struct dns_http_req *reqs, size_t n, const char *api_key,
		    unsigned timeout_ms, const char *state_dir)
{
	(void)state_dir;
	return dns_http_patch(reqs, n, api_key, timeout_ms);
}

static dns_pdns_runner_fn runner = run_here;

void dns_set_pdns_runner(dns_pdns_runner_fn fn)
{
	runner = fn ? fn : run_here;
}

struct rrset {
	char zone[DNS_NAME_MAX];
	char name[DNS_NAME_MAX];
	bool ptr;
	struct in6_addr addr;	/* ptr: the address the reverse name stands for */
};

/* One zone's PATCH and the outcome read from its exchange. */
struct request {
	const char *zone;
	char url[DNS_URL_MAX + 2 * DNS_NAME_MAX + 64];
	char *body;		/* the PATCH's JSON */
	int err;
	char msg[STORE_DNS_ERROR_MAX];
};

static int add_rrset(struct rrset **v, size_t *n, const struct rrset *x)
{
	struct rrset *nv;

	for (size_t i = 0; i < *n; i++)
		if (strcmp((*v)[i].zone, x->zone) == 0 && strcmp((*v)[i].name, x->name) == 0 &&
		    (*v)[i].ptr == x->ptr)
			return 0;
	nv = realloc(*v, (*n + 1) * sizeof(**v));
	if (!nv)
		return err_set(-ENOMEM, "out of memory");
	*v = nv;
	(*v)[(*n)++] = *x;
	return 0;
}

/* The RRset's JSON: REPLACE with what the store holds, DELETE when nothing. */
static int rrset_json(struct store *s, const char *target, uint32_t ttl, const struct rrset *x,
		      json_t **ret)
{
	char a[INET6_ADDRSTRLEN];
	struct store_dns_record *rows = NULL;
	json_t *records = json_array(), *o;
	size_t n = 0;
	int r;

	if (!records)
		return err_set(-ENOMEM, "out of memory");
	r = x->ptr ? store_dns_find(s, DNS_BACKEND_PDNS, target, NULL, &x->addr, &rows, &n)
		   : store_dns_find(s, DNS_BACKEND_PDNS, target, x->name, NULL, &rows, &n);
	for (size_t i = 0; r == 0 && i < n; i++) {
		const char *content = x->ptr ? rows[i].name
					     : prefix_addr_to_string(&rows[i].addr, a, sizeof(a));
		bool dup = false;
		size_t k;
		json_t *e;

		if (rows[i].state == STORE_DNS_STALE || (x->ptr && !rows[i].ptr_zone[0]))
			continue;
		json_array_foreach(records, k, e)
			dup = dup || strcmp(json_string_value(json_object_get(e, "content")),
					    content) == 0;
		if (!dup && json_array_append_new(records, json_pack("{s:s, s:b}", "content", content,
								     "disabled", 0)) < 0)
			r = err_set(-ENOMEM, "out of memory");
	}
	free(rows);
	if (r < 0) {
		json_decref(records);
		return r;
	}
	if (json_array_size(records) == 0) {
		json_decref(records);
		o = json_pack("{s:s, s:s, s:s}", "name", x->name, "type", x->ptr ? "PTR" : "AAAA",
			      "changetype", "DELETE");
	} else {
		o = json_pack("{s:s, s:s, s:I, s:s, s:o}", "name", x->name, "type",
			      x->ptr ? "PTR" : "AAAA", "ttl", (json_int_t)ttl, "changetype", "REPLACE",
			      "records", records);
	}
	if (!o)
		return err_set(-ENOMEM, "out of memory");
	*ret = o;
	return 0;
}

static void fail(struct request *q, int err, const struct dns_config *c, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void fail(struct request *q, int err, const struct dns_config *c, const char *fmt, ...)
{
	va_list ap;
	int n;

	q->err = err;
	n = snprintf(q->msg, sizeof(q->msg), "powerdns %s (server %s) zone %s: ", c->pdns_url,
		     c->pdns_server_id, q->zone);
	if (n < 0 || (size_t)n >= sizeof(q->msg))
		return;
	va_start(ap, fmt);
	(void)vsnprintf(q->msg + n, sizeof(q->msg) - (size_t)n, fmt, ap);
	va_end(ap);
}

/* Reads the outcome of a finished exchange into q->err and q->msg. */
static void outcome(struct request *q, const struct dns_http_req *h, const struct dns_config *c)
{
	char detail[STORE_DNS_ERROR_MAX];
	long status = h->status;
	json_t *j = NULL;
	const char *e;

	if (h->err < 0) {
		fail(q, h->err, c, "%s", h->err_text);
		return;
	}
	if (status == 204 || status == 200)
		return;
	j = json_loads(h->reply, 0, NULL);
	e = j ? json_string_value(json_object_get(j, "error")) : NULL;
	(void)snprintf(detail, sizeof(detail), "HTTP %ld%s%.200s", status,
		       e || h->reply[0] ? ": " : "", e ? e : h->reply);
	for (char *p = detail; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	switch (status) {
	case 401:
	case 403:
		fail(q, -EACCES, c, "%s (the API key in \"apiKeyFile\" was refused)", detail);
		break;
	case 404:
		fail(q, -ENOENT, c, "%s (no such zone or server id on this server)", detail);
		break;
	case 422:
		fail(q, -EINVAL, c, "%s", detail);
		break;
	default:
		fail(q, -EIO, c, "%s", detail);
	}
	json_decref(j);
}

/* The rrsets ops touch, and one request per zone with their JSON. */
static int build(struct store *s, const struct dns_config *c, const struct dns_op *ops,
		 size_t n, struct rrset **ret_sets, size_t *ret_nsets, struct request **ret_qs,
		 size_t *ret_nq)
{
	char target[STORE_DNS_TARGET_MAX];
	struct rrset *sets = NULL, x;
	struct request *qs = NULL;
	size_t nsets = 0, nq = 0;
	int r = 0;

	dns_target(c, DNS_BACKEND_PDNS, target);
	for (size_t i = 0; i < n && r == 0; i++) {
		memset(&x, 0, sizeof(x));
		(void)snprintf(x.zone, sizeof(x.zone), "%s", ops[i].row.zone);
		(void)snprintf(x.name, sizeof(x.name), "%s", ops[i].row.name);
		r = add_rrset(&sets, &nsets, &x);
		if (r == 0 && ops[i].row.ptr_zone[0]) {
			(void)snprintf(x.zone, sizeof(x.zone), "%s", ops[i].row.ptr_zone);
			dns_reverse_name(&ops[i].row.addr, x.name);
			x.ptr = true;
			x.addr = ops[i].row.addr;
			r = add_rrset(&sets, &nsets, &x);
		}
	}
	qs = r == 0 ? calloc(nsets ? nsets : 1, sizeof(*qs)) : NULL;
	if (r == 0 && !qs)
		r = err_set(-ENOMEM, "out of memory");
	for (size_t i = 0; i < nsets && r == 0; i++) {
		json_t *list, *one = NULL;
		size_t k;

		for (k = 0; k < i && strcmp(sets[k].zone, sets[i].zone) != 0; k++)
			;
		if (k < i)
			continue; /* the zone's request is made with its first rrset */
		list = json_array();
		for (k = i; k < nsets && r == 0 && list; k++) {
			if (strcmp(sets[k].zone, sets[i].zone) != 0)
				continue;
			if ((r = rrset_json(s, target, c->ttl, &sets[k], &one)) == 0)
				(void)json_array_append_new(list, one);
		}
		qs[nq].zone = sets[i].zone;
		one = list ? json_pack("{s:o}", "rrsets", list) : NULL;
		qs[nq].body = one && r == 0 ? json_dumps(one, JSON_COMPACT) : NULL;
		json_decref(one);
		if (r == 0 && !qs[nq].body)
			r = err_set(-ENOMEM, "out of memory");
		nq++;
	}
	*ret_sets = sets;
	*ret_nsets = nsets;
	*ret_qs = qs;
	*ret_nq = nq;
	return r;
}

int dns_pdns_apply(struct store *s, const struct dns_config *c, struct dns_op *ops, size_t n)
{
	char key[DNS_SECRET_MAX];
	struct dns_http_req *http = NULL;
	struct rrset *sets = NULL;
	struct request *qs = NULL;
	size_t nsets = 0, nq = 0;
	int r, first = 0;

	if ((r = build(s, c, ops, n, &sets, &nsets, &qs, &nq)) < 0)
		goto fail_all;
	http = calloc(nq ? nq : 1, sizeof(*http));
	if (!http) {
		r = err_set(-ENOMEM, "out of memory");
		goto fail_all;
	}
	for (size_t i = 0; i < nq; i++) {
		(void)snprintf(qs[i].url, sizeof(qs[i].url), "%s/api/v1/servers/%s/zones/%s",
			       c->pdns_url, c->pdns_server_id, qs[i].zone);
		http[i].url = qs[i].url;
		http[i].body = qs[i].body;
	}
	if ((r = dns_secret_read("powerdns apiKeyFile", c->pdns_key_file, key, sizeof(key))) < 0)
		goto fail_all;
	r = runner(http, nq, key, c->timeout * 1000u, store_state_dir(s));
	explicit_bzero(key, sizeof(key));
	if (r < 0)
		goto fail_all;
	for (size_t k = 0; k < nq; k++)
		outcome(&qs[k], &http[k], c);
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < nq && ops[i].err == 0; k++) {
			if (!qs[k].err || (strcmp(qs[k].zone, ops[i].row.zone) != 0 &&
					   strcmp(qs[k].zone, ops[i].row.ptr_zone) != 0))
				continue;
			ops[i].err = qs[k].err;
			(void)snprintf(ops[i].row.error, sizeof(ops[i].row.error), "%s", qs[k].msg);
		}
	}
	for (size_t k = 0; k < nq && !first; k++)
		if (qs[k].err)
			first = err_set(qs[k].err, "%s", qs[k].msg);
	goto out;
fail_all:
	first = r;
	dns_ops_fail(ops, n, r);
out:
	for (size_t i = 0; qs && i < nq; i++)
		free(qs[i].body);
	free(qs);
	free(http);
	free(sets);
	return first;
}
