/* Backend rfc2136: DNS UPDATE (RFC 2136) signed with TSIG (RFC 8945). ldns builds, signs,
 * parses and verifies every message; this file only moves their bytes. One UPDATE per zone,
 * removals before additions (RFC 2136 3.4.2: in order), each RR added with class IN or
 * removed alone with class NONE, so records v6pd did not write stay. The zones' UPDATEs go
 * out at once over connected UDP sockets (a stopped server answers with ICMP, seen at once
 * as ECONNREFUSED) and are sent again, the same signed bytes, while no answer comes: at a
 * quarter and at half of "dns.timeout", which bounds the whole exchange. An UPDATE too big
 * for 1232 bytes, or one answered with TC (truncated), goes over TCP, within the same time.
 *
 * ldns builds, signs and checks every message; the sockets are ours because ldns's resolver
 * (ldns_resolver_send_pkt, 1.8.3) sends one message at a time (two zones would cost two
 * round trips), over an unconnected UDP socket (a stopped server would cost the whole
 * timeout instead of an ICMP's instant), and drops the answer when its TSIG does not verify
 * (the RCODE and TSIG error that name a wrong key would be lost). */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "dns_int.h"
#include "err.h"

#define UDP_MAX 1232		/* DNS flag day 2020's safe UDP size */
#define RRS_PER_MSG 200
#define FUDGE 300		/* seconds of clock skew the TSIG allows */
#define UDP_SENDS 3		/* sends of an UPDATE over UDP: at 0, T/4 and T/2 */

struct msg {
	const char *zone;
	ldns_pkt *pkt;
	uint8_t *wire;
	size_t len;
	int fd;
	unsigned sends;		/* over UDP so far */
	int64_t resend_ms;	/* when to send again while no answer came */
	bool truncated;		/* answered with TC over UDP: again over TCP */
	bool tcp;		/* fd is the TCP connection */
	bool done;
	int err;
	char text[STORE_DNS_ERROR_MAX];
};

struct ctx {
	const struct dns_config *c;
	struct dns_tsig_key key;
	char alg[40];		/* ldns's name: "hmac-sha256." */
	char target[STORE_DNS_TARGET_MAX];
	struct sockaddr_storage addr;
	socklen_t addrlen;
	int64_t deadline_ms;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void msg_fail(struct ctx *x, struct msg *m, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void msg_fail(struct ctx *x, struct msg *m, int err, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	m->err = err;
	m->done = true;
	n = (size_t)snprintf(m->text, sizeof(m->text), "rfc2136 %s zone %s: ", x->target, m->zone);
	if (n >= sizeof(m->text))
		return;
	va_start(ap, fmt);
	(void)vsnprintf(m->text + n, sizeof(m->text) - n, fmt, ap);
	va_end(ap);
}

static int resolve(struct ctx *x)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	char port[8];
	int rc;

	(void)snprintf(port, sizeof(port), "%u", x->c->rfc2136_port);
	/* an address first: no name service (which a static v6pd has to load) */
	hints.ai_flags |= AI_NUMERICHOST;
	rc = getaddrinfo(x->c->rfc2136_server, port, &hints, &ai);
	if (rc == EAI_NONAME) {
		hints.ai_flags &= ~AI_NUMERICHOST;
		rc = getaddrinfo(x->c->rfc2136_server, port, &hints, &ai);
	}
	if (rc != 0 || !ai)
		return err_set(-EHOSTUNREACH, "rfc2136 %s: cannot resolve the server: %s", x->target,
			       gai_strerror(rc));
	memcpy(&x->addr, ai->ai_addr, ai->ai_addrlen);
	x->addrlen = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

/* An RR for the update section: class IN with the TTL adds it, class NONE removes it. */
static ldns_rr *rr_new(const char *owner, ldns_rr_type type, bool add, uint32_t ttl,
		       ldns_rdf *rdata)
{
	ldns_rr *rr = ldns_rr_new();
	ldns_rdf *o = ldns_dname_new_frm_str(owner);

	if (!rr || !o || !rdata) {
		ldns_rr_free(rr);
		ldns_rdf_deep_free(o);
		ldns_rdf_deep_free(rdata);
		return NULL;
	}
	ldns_rr_set_owner(rr, o);
	ldns_rr_set_type(rr, type);
	ldns_rr_set_class(rr, add ? LDNS_RR_CLASS_IN : LDNS_RR_CLASS_NONE);
	ldns_rr_set_ttl(rr, add ? ttl : 0);
	(void)ldns_rr_push_rdf(rr, rdata);
	return rr;
}

/* The RRs ops[from..] put in zone, removals first; *next gets where a full message stopped. */
static ldns_rr_list *zone_rrs(const struct ctx *x, const char *zone, const struct dns_op *ops,
			      size_t n, size_t *cursor)
{
	ldns_rr_list *l = ldns_rr_list_new();
	size_t count = 0;

	/* cursor counts over the RRs of this zone in the order pass 0 (removals), pass 1 */
	for (int pass = 0; l && pass < 2; pass++) {
		for (size_t i = 0; i < n; i++) {
			char rev[DNS_NAME_MAX];
			const struct dns_op *o = &ops[i];
			ldns_rr *rr = NULL;

			if (o->add != (pass == 1))
				continue;
			for (int k = 0; k < 2; k++) {
				if (k == 0 && strcmp(o->row.zone, zone) == 0)
					rr = rr_new(o->row.name, LDNS_RR_TYPE_AAAA, o->add, x->c->ttl,
						    ldns_rdf_new_frm_data(LDNS_RDF_TYPE_AAAA, 16,
									  &o->row.addr));
				else if (k == 1 && o->row.ptr_zone[0] &&
					 strcmp(o->row.ptr_zone, zone) == 0) {
					dns_reverse_name(&o->row.addr, rev);
					rr = rr_new(rev, LDNS_RR_TYPE_PTR, o->add, x->c->ttl,
						    ldns_dname_new_frm_str(o->row.name));
				} else {
					continue;
				}
				if (count++ < *cursor) {
					ldns_rr_free(rr);
					continue;
				}
				if (!rr || ldns_rr_list_rr_count(l) == RRS_PER_MSG ||
				    !ldns_rr_list_push_rr(l, rr)) {
					ldns_rr_free(rr);
					if (rr && ldns_rr_list_rr_count(l) == RRS_PER_MSG)
						goto full;
					ldns_rr_list_deep_free(l);
					return NULL;
				}
			}
		}
	}
full:
	*cursor += ldns_rr_list_rr_count(l);
	return l;
}

static int msg_build(struct ctx *x, struct msg *m, ldns_rr_list *rrs)
{
	ldns_rdf *z = ldns_dname_new_frm_str(m->zone);
	ldns_status st;

	m->fd = -1;
	m->pkt = z ? ldns_update_pkt_new(z, LDNS_RR_CLASS_IN, NULL, rrs, NULL) : NULL;
	if (!m->pkt) {
		ldns_rdf_deep_free(z);
		return err_set(-ENOMEM, "rfc2136: out of memory");
	}
	ldns_pkt_set_rd(m->pkt, false);
	ldns_pkt_set_random_id(m->pkt);
	st = ldns_pkt_tsig_sign(m->pkt, x->key.name, x->key.secret, FUDGE, x->alg, NULL);
	if (st == LDNS_STATUS_OK)
		st = ldns_pkt2wire(&m->wire, m->pkt, &m->len);
	if (st != LDNS_STATUS_OK)
		return err_set(-EINVAL, "rfc2136 %s zone %s: signing the update with key %s: %s",
			       x->target, m->zone, x->key.name, ldns_get_errorstr_by_id(st));
	return 0;
}

static const char *tsig_error_name(unsigned e)
{
	switch (e) {
	case 16:
		return "BADSIG (wrong secret for the key?)";
	case 17:
		return "BADKEY (the server does not know the key's name or algorithm)";
	case 18:
		return "BADTIME (the clocks differ by more than 5 minutes)";
	case 22:
		return "BADTRUNC";
	default:
		return "error";
	}
}

/* Checks an answer to m: the same ID, NOERROR, a TSIG that verifies. 0: not ours, keep
 * waiting; 1: m is done. */
static int msg_reply(struct ctx *x, struct msg *m, uint8_t *buf, size_t len)
{
	ldns_pkt *a = NULL;
	ldns_rr *tsig, *qt = ldns_pkt_tsig(m->pkt);
	ldns_pkt_rcode rc;
	ldns_lookup_table *name;
	unsigned terr = 0;

	if (ldns_wire2pkt(&a, buf, len) != LDNS_STATUS_OK || !a)
		return 0;
	if (ldns_pkt_id(a) != ldns_pkt_id(m->pkt) || !ldns_pkt_qr(a)) {
		ldns_pkt_free(a);
		return 0;
	}
	if (ldns_pkt_tc(a) && !m->tcp) {
		/* the TCP pass sends it again */
		m->truncated = true;
		m->done = true;
		ldns_pkt_free(a);
		return 1;
	}
	rc = ldns_pkt_get_rcode(a);
	tsig = ldns_pkt_tsig(a);
	if (tsig && ldns_rr_rd_count(tsig) > 5)
		terr = ldns_rdf2native_int16(ldns_rr_rdf(tsig, 5));
	name = ldns_lookup_by_id(ldns_rcodes, (int)rc);
	if (rc != LDNS_RCODE_NOERROR || terr) {
		int e = rc == LDNS_RCODE_REFUSED || terr ? -EACCES
			: rc == LDNS_RCODE_NOTAUTH      ? -ENOENT
			: rc == LDNS_RCODE_NOTZONE || rc == LDNS_RCODE_FORMERR ? -EINVAL
										  : -EIO;

		if (terr)
			msg_fail(x, m, e, "update refused: %s, TSIG %s with key %s from %s",
				 name ? name->name : "?", tsig_error_name(terr), x->key.name,
				 x->c->rfc2136_key_file);
		else if (rc == LDNS_RCODE_NOTAUTH)
			msg_fail(x, m, e, "update refused: NOTAUTH (the server is not authoritative "
					  "for the zone, or does not accept key %s for it)",
				 x->key.name);
		else if (rc == LDNS_RCODE_REFUSED)
			msg_fail(x, m, e, "update refused: REFUSED, with key %s from %s (a wrong "
					  "secret, a key the zone does not allow, or no updates from "
					  "this address)",
				 x->key.name, x->c->rfc2136_key_file);
		else
			msg_fail(x, m, e, "update failed: %s", name ? name->name : "?");
	} else if (!tsig) {
		msg_fail(x, m, -EBADMSG, "the answer (NOERROR) is not signed");
	} else if (!ldns_pkt_tsig_verify(a, buf, len, x->key.name, x->key.secret,
					 qt ? ldns_rr_rdf(qt, 3) : NULL)) {
		msg_fail(x, m, -EBADMSG, "the answer's TSIG does not verify with key %s",
			 x->key.name);
	} else {
		m->done = true;
		m->err = 0;
	}
	ldns_pkt_free(a);
	return 1;
}

/* When an UPDATE that had no answer yet goes out again: at T/4 and T/2 of the timeout T. */
static int64_t resend_at(const struct ctx *x, unsigned sends)
{
	return x->deadline_ms - (int64_t)x->c->timeout * 1000 +
	       (int64_t)x->c->timeout * 1000 * sends / 4;
}

static void udp_send(struct ctx *x, struct msg *m)
{
	if (send(m->fd, m->wire, m->len, 0) < 0) {
		msg_fail(x, m, -errno, "%s", errno == ECONNREFUSED ? "connection refused (is the "
								    "server running?)"
								  : strerror(errno));
		return;
	}
	m->sends++;
	m->resend_ms = m->sends < UDP_SENDS ? resend_at(x, m->sends) : INT64_MAX;
}

static void udp_start(struct ctx *x, struct msg *m)
{
	m->fd = socket(x->addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (m->fd < 0 || connect(m->fd, (struct sockaddr *)&x->addr, x->addrlen) < 0)
		msg_fail(x, m, -errno, "%s", strerror(errno));
	else
		udp_send(x, m);
}

/* Waits for every started UDP message's answer until the deadline, sending again those
 * still without one when their time comes. */
static void udp_wait(struct ctx *x, struct msg *ms, size_t n)
{
	uint8_t buf[65536];

	for (;;) {
		struct pollfd p[64];
		size_t idx[64], np = 0;
		int64_t now = now_ms(), wake = x->deadline_ms;
		int k;

		for (size_t i = 0; i < n && np < 64; i++)
			if (!ms[i].done && ms[i].fd >= 0) {
				if (ms[i].resend_ms <= now)
					udp_send(x, &ms[i]);
				if (ms[i].done)
					continue;
				wake = ms[i].resend_ms < wake ? ms[i].resend_ms : wake;
				p[np] = (struct pollfd){ .fd = ms[i].fd, .events = POLLIN };
				idx[np++] = i;
			}
		if (np == 0)
			return;
		if (now >= x->deadline_ms) {
			for (size_t q = 0; q < np; q++)
				msg_fail(x, &ms[idx[q]], -ETIMEDOUT, "no answer within %us (%u sends)",
					 x->c->timeout, ms[idx[q]].sends);
			return;
		}
		k = poll(p, np, (int)(wake - now));
		for (size_t q = 0; k > 0 && q < np; q++) {
			struct msg *m = &ms[idx[q]];
			ssize_t got;

			if (!p[q].revents)
				continue;
			got = recv(m->fd, buf, sizeof(buf), 0);
			if (got < 0 && errno != EAGAIN && errno != EINTR)
				msg_fail(x, m, -errno, "%s", errno == ECONNREFUSED
								 ? "connection refused (is the server "
								   "running?)"
								 : strerror(errno));
			else if (got > 0)
				(void)msg_reply(x, m, buf, (size_t)got);
		}
	}
}

/* Waits for fd to be ready for events until the deadline: 0, or -ETIMEDOUT. */
static int wait_fd(struct ctx *x, int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };
	int64_t left = x->deadline_ms - now_ms();

	return left > 0 && poll(&p, 1, (int)left) > 0 ? 0 : -ETIMEDOUT;
}

static int tcp_io(struct ctx *x, int fd, uint8_t *buf, size_t len, bool out)
{
	while (len > 0) {
		ssize_t k;

		if (wait_fd(x, fd, out ? POLLOUT : POLLIN) < 0)
			return -ETIMEDOUT;
		k = out ? send(fd, buf, len, MSG_NOSIGNAL) : recv(fd, buf, len, 0);
		if (k < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -ECONNRESET;
		buf += k;
		len -= (size_t)k;
	}
	return 0;
}

static int tcp_exchange(struct ctx *x, struct msg *m, uint8_t **ret, size_t *ret_len)
{
	uint8_t hdr[2] = { (uint8_t)(m->len >> 8), (uint8_t)m->len }, *buf;
	size_t len;
	int r, soerr = 0;
	socklen_t sl = sizeof(soerr);

	if (m->fd >= 0)
		(void)close(m->fd);	/* the UDP socket of an answer with TC */
	m->tcp = true;
	m->fd = socket(x->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (m->fd < 0)
		return -errno;
	if (connect(m->fd, (struct sockaddr *)&x->addr, x->addrlen) < 0 && errno != EINPROGRESS)
		return -errno;
	if ((r = wait_fd(x, m->fd, POLLOUT)) < 0)
		return r;
	(void)getsockopt(m->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
	if (soerr)
		return -soerr;
	if ((r = tcp_io(x, m->fd, hdr, 2, true)) < 0 ||
	    (r = tcp_io(x, m->fd, m->wire, m->len, true)) < 0 ||
	    (r = tcp_io(x, m->fd, hdr, 2, false)) < 0)
		return r;
	len = (size_t)hdr[0] << 8 | hdr[1];
	buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	if ((r = tcp_io(x, m->fd, buf, len, false)) < 0) {
		free(buf);
		return r;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

/* A message over TCP (RFC 1035 4.2.2: two length bytes first), to its end. */
static void tcp_run(struct ctx *x, struct msg *m)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int r = tcp_exchange(x, m, &buf, &len);

	if (r < 0)
		msg_fail(x, m, r, "TCP: %s", r == -ECONNREFUSED ? "connection refused (is the "
								  "server running?)"
								: strerror(-r));
	else if (msg_reply(x, m, buf, len) == 0)
		msg_fail(x, m, -EBADMSG, "TCP: the answer is not one to this update");
	free(buf);
}

/* Every zone's RRs in messages of at most RRS_PER_MSG. */
static int build_all(struct ctx *x, const struct dns_op *ops, size_t n, struct msg **ret,
		     size_t *ret_n)
{
	struct msg *ms = NULL, *nm;
	size_t nm_ = 0;
	int r = 0;

	for (size_t i = 0; i < 2 * n && r == 0; i++) {
		const char *zone = i % 2 ? ops[i / 2].row.ptr_zone : ops[i / 2].row.zone;
		size_t cursor = 0;
		bool seen = false;

		if (!zone[0])
			continue;
		for (size_t k = 0; k < nm_ && !seen; k++)
			seen = strcmp(ms[k].zone, zone) == 0;
		while (!seen && r == 0) {
			ldns_rr_list *rrs = zone_rrs(x, zone, ops, n, &cursor);

			if (!rrs) {
				r = err_set(-ENOMEM, "rfc2136: out of memory");
				break;
			}
			if (ldns_rr_list_rr_count(rrs) == 0) {
				ldns_rr_list_deep_free(rrs);
				break;
			}
			nm = realloc(ms, (nm_ + 1) * sizeof(*ms));
			if (!nm) {
				ldns_rr_list_deep_free(rrs);
				r = err_set(-ENOMEM, "rfc2136: out of memory");
				break;
			}
			ms = nm;
			memset(&ms[nm_], 0, sizeof(ms[nm_]));
			ms[nm_].zone = zone;
			r = msg_build(x, &ms[nm_++], rrs);
			ldns_rr_list_deep_free(rrs);
		}
	}
	*ret = ms;
	*ret_n = nm_;
	return r;
}

static void result(struct dns_op *ops, size_t n, const struct msg *ms, size_t nm)
{
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < nm && ops[i].err == 0; k++) {
			if (!ms[k].err || (strcmp(ms[k].zone, ops[i].row.zone) != 0 &&
					   strcmp(ms[k].zone, ops[i].row.ptr_zone) != 0))
				continue;
			ops[i].err = ms[k].err;
			(void)snprintf(ops[i].row.error, sizeof(ops[i].row.error), "%s", ms[k].text);
		}
}

/* The key c names, checked against "algorithm" and what ldns can sign with. */
static int key_load(struct ctx *x)
{
	const struct dns_config *c = x->c;
	int r;

	dns_target(c, DNS_BACKEND_RFC2136, x->target);
	if ((r = dns_tsig_key_read(c->rfc2136_key_file, &x->key)) < 0)
		return r;
	if (c->rfc2136_algorithm[0] && strcmp(c->rfc2136_algorithm, x->key.algorithm) != 0)
		return err_set(-EINVAL, "rfc2136 %s: \"algorithm\" %s, but key file %s says %s",
			       x->target, c->rfc2136_algorithm, c->rfc2136_key_file,
			       x->key.algorithm);
	if (strcmp(x->key.algorithm, "hmac-sha256") != 0 &&
	    strcmp(x->key.algorithm, "hmac-sha512") != 0 && strcmp(x->key.algorithm, "hmac-sha1") != 0)
		return err_set(-EINVAL, "rfc2136 %s: key file %s: algorithm %s is not supported "
					"(hmac-sha256, hmac-sha512, hmac-sha1: ldns 1.8.3 cannot sign "
					"with the others)",
			       x->target, c->rfc2136_key_file, x->key.algorithm);
	(void)snprintf(x->alg, sizeof(x->alg), "%s.", x->key.algorithm);
	return 0;
}

void dns_rfc2136_warm(const struct dns_config *c)
{
	struct ctx x = { .c = c };
	struct msg m = { .zone = c->zone };
	ldns_rr_list *rrs = ldns_rr_list_new();

	/* an empty UPDATE, signed and thrown away: ldns's and OpenSSL's first use (~1 ms in a
	 * new process) is then over before the lease is */
	if (rrs && key_load(&x) == 0)
		(void)msg_build(&x, &m, rrs);
	ldns_rr_list_deep_free(rrs);
	ldns_pkt_free(m.pkt);
	free(m.wire);
	dns_tsig_key_clear(&x.key);
	err_clear();
}

int dns_rfc2136_apply(const struct dns_config *c, struct dns_op *ops, size_t n)
{
	struct ctx x = { .c = c };
	struct msg *ms = NULL;
	size_t nm = 0;
	int r, first = 0;

	if ((r = key_load(&x)) < 0)
		goto fail_all;
	if ((r = resolve(&x)) < 0 || (r = build_all(&x, ops, n, &ms, &nm)) < 0)
		goto fail_all;
	x.deadline_ms = now_ms() + (int64_t)c->timeout * 1000;
	for (size_t i = 0; i < nm; i++)
		if (ms[i].len <= UDP_MAX)
			udp_start(&x, &ms[i]);
	udp_wait(&x, ms, nm);
	for (size_t i = 0; i < nm; i++)
		if (ms[i].len > UDP_MAX || ms[i].truncated) {
			ms[i].done = false;
			tcp_run(&x, &ms[i]);
		}
	result(ops, n, ms, nm);
	for (size_t i = 0; i < nm && !first; i++)
		if (ms[i].err)
			first = err_set(ms[i].err, "%s", ms[i].text);
	goto out;
fail_all:
	first = r;
	dns_ops_fail(ops, n, r);
out:
	for (size_t i = 0; i < nm; i++) {
		if (ms[i].fd >= 0)
			(void)close(ms[i].fd);
		ldns_pkt_free(ms[i].pkt);
		free(ms[i].wire);
	}
	free(ms);
	dns_tsig_key_clear(&x.key);
	return first;
}
