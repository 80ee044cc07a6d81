/* Backend powerdns: the PowerDNS Authoritative HTTP API (PATCH /api/v1/servers/ID/zones/ZONE,
 * RRsets with changetype REPLACE or DELETE, names ending with a dot). PowerDNS has no way to
 * add one record to an RRset, so each RRset is written whole from what the store holds for
 * its name on this server: every v6pd address for an AAAA name, every v6pd name for a PTR.
 * The zones' PATCHes run in parallel (libcurl multi): one round trip for an ADD. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dns_curl.h"
#include "dns_int.h"
#include "err.h"

#define BODY_MAX (64u << 10)

static const struct dns_curl *cu;	/* set by dns_curl_load() */

struct rrset {
	char zone[DNS_NAME_MAX];
	char name[DNS_NAME_MAX];
	bool ptr;
	struct in6_addr addr;	/* ptr: the address the reverse name stands for */
};

struct request {
	const char *zone;
	CURL *h;
	char *body;		/* the PATCH's JSON */
	char reply[1024];	/* the start of the answer's body */
	size_t reply_len;
	int err;
	bool server_error;	/* 5xx: worth another try */
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

static size_t on_reply(char *data, size_t size, size_t n, void *user)
{
	struct request *q = user;
	size_t len = size * n, room = sizeof(q->reply) - 1 - q->reply_len;

	memcpy(q->reply + q->reply_len, data, len < room ? len : room);
	q->reply_len += len < room ? len : room;
	q->reply[q->reply_len] = '\0';
	return len;
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

static int errno_of_curl(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTUNREACH;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

/* Reads the outcome of a finished request into q->err and q->msg. */
static void outcome(struct request *q, const struct dns_config *c, CURLcode rc)
{
	char detail[STORE_DNS_ERROR_MAX];
	json_t *j = NULL;
	long status = 0;
	const char *e;

	if (rc != CURLE_OK) {
		fail(q, errno_of_curl(rc), c, "%s", cu->easy_strerror(rc));
		return;
	}
	(void)cu->easy_getinfo(q->h, CURLINFO_RESPONSE_CODE, &status);
	if (status == 204 || status == 200)
		return;
	j = json_loads(q->reply, 0, NULL);
	e = j ? json_string_value(json_object_get(j, "error")) : NULL;
	(void)snprintf(detail, sizeof(detail), "HTTP %ld%s%.200s", status, e || q->reply_len ? ": "
												 : "",
		       e ? e : q->reply);
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
		q->server_error = status >= 500;
	}
	json_decref(j);
}

static int request_setup(struct request *q, const struct dns_config *c, struct curl_slist *hdr)
{
	char url[DNS_URL_MAX + 2 * DNS_NAME_MAX + 64];
	CURLcode rc = CURLE_OK;

	(void)snprintf(url, sizeof(url), "%s/api/v1/servers/%s/zones/%s", c->pdns_url,
		       c->pdns_server_id, q->zone);
	q->h = cu->easy_init();
	if (!q->h)
		return err_set(-ENOMEM, "powerdns: out of memory");
#define SET(opt, val)                                                  \
	do {                                                           \
		if (rc == CURLE_OK)                                    \
			rc = cu->easy_setopt(q->h, opt, val);         \
	} while (0)
	SET(CURLOPT_URL, url);
	SET(CURLOPT_CUSTOMREQUEST, "PATCH");
	SET(CURLOPT_POSTFIELDS, q->body);
	SET(CURLOPT_HTTPHEADER, hdr);
	SET(CURLOPT_WRITEFUNCTION, on_reply);
	SET(CURLOPT_WRITEDATA, q);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_TIMEOUT_MS, (long)c->timeout * 1000L);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
#undef SET
	if (rc != CURLE_OK)
		return err_set(-EINVAL, "powerdns %s: %s", c->pdns_url, cu->easy_strerror(rc));
	return 0;
}

/* Runs qs[0..nq) at once; fills each one's err and msg. */
static void run(CURLM *m, struct request *qs, size_t nq, const struct dns_config *c)
{
	CURLMsg *msg;
	int running = 0, left;

	for (size_t i = 0; i < nq; i++) {
		qs[i].err = 0;
		qs[i].server_error = false;
		qs[i].reply_len = 0;
		qs[i].reply[0] = '\0';
		(void)cu->multi_add_handle(m, qs[i].h);
	}
	do {
		if (cu->multi_perform(m, &running) != CURLM_OK)
			break;
		if (running)
			(void)cu->multi_poll(m, NULL, 0, 1000, NULL);
	} while (running);
	while ((msg = cu->multi_info_read(m, &left)))
		for (size_t i = 0; msg->msg == CURLMSG_DONE && i < nq; i++)
			if (qs[i].h == msg->easy_handle)
				outcome(&qs[i], c, msg->data.result);
	for (size_t i = 0; i < nq; i++)
		(void)cu->multi_remove_handle(m, qs[i].h);
}

/* Every request at once, then, one at a time, those the server failed (5xx) up to twice
 * more: PowerDNS's gsqlite3 backend answers concurrent writes with "database is locked"
 * (HTTP 500), and PATCHing an RRset again is harmless. */
static int perform(struct request *qs, size_t nq, const struct dns_config *c)
{
	/* the first retry at once: the parallel pass is over, so the writes it raced are done;
	 * the second after a pause, for a race with another process */
	static const struct timespec pause[] = { { 0, 0 }, { 0, 100000000 } };
	CURLM *m = cu->multi_init();

	if (!m)
		return err_set(-ENOMEM, "powerdns: out of memory");
	run(m, qs, nq, c);
	for (size_t a = 0; a < sizeof(pause) / sizeof(pause[0]); a++)
		for (size_t i = 0; i < nq; i++) {
			if (!qs[i].server_error)
				continue;
			if (pause[a].tv_nsec)
				(void)nanosleep(&pause[a], NULL);
			run(m, &qs[i], 1, c);
		}
	(void)cu->multi_cleanup(m);
	return 0;
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
	char key[DNS_SECRET_MAX], header[DNS_SECRET_MAX + 16];
	struct curl_slist *hdr = NULL, *h2;
	struct rrset *sets = NULL;
	struct request *qs = NULL;
	size_t nsets = 0, nq = 0;
	int r, first = 0;

	if ((r = dns_curl_load(&cu)) < 0 ||
	    (r = dns_secret_read("powerdns apiKeyFile", c->pdns_key_file, key, sizeof(key))) < 0)
		goto fail_all;
	(void)snprintf(header, sizeof(header), "X-API-Key: %s", key);
	explicit_bzero(key, sizeof(key));
	hdr = cu->slist_append(NULL, header);
	explicit_bzero(header, sizeof(header));
	h2 = hdr ? cu->slist_append(hdr, "Content-Type: application/json") : NULL;
	if (!h2) {
		r = err_set(-ENOMEM, "out of memory");
		goto fail_all;
	}
	if ((r = build(s, c, ops, n, &sets, &nsets, &qs, &nq)) < 0)
		goto fail_all;
	for (size_t i = 0; i < nq && r == 0; i++)
		r = request_setup(&qs[i], c, hdr);
	if (r < 0 || (r = perform(qs, nq, c)) < 0)
		goto fail_all;
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
	for (size_t i = 0; qs && i < nq; i++) {
		cu->easy_cleanup(qs[i].h);
		free(qs[i].body);
	}
	free(qs);
	free(sets);
	if (hdr)
		cu->slist_free_all(hdr);
	return first;
}
