/* dns-rtt: bench/dns's reference for "one round trip": the time of one backend call in a
 * process that is already running (libcurl loaded, the key read each call as the plugin
 * does): one record's AAAA and PTR published, then removed, n times. Prints the median
 * publish and removal in ms:
 *
 *     dns-rtt STATE_DIR DNS_JSON N   ->   "PUBLISH_MS REMOVE_MS"
 *
 * With N 0 it serves samples: each line on stdin asks for one publish and removal and gets
 * "PUBLISH_MS REMOVE_MS" back, so bench/dns can take them in the same rhythm as its ADDs
 * (Knot 3.2, for one, answers an UPDATE that comes after 150 ms of quiet only at its next
 * one-second tick: a reference taken in a tight loop would not see that).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dns.h"
#include "dns_int.h"
#include "err.h"

static double now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int apply(struct store *s, const struct dns_config *c, struct dns_op *op)
{
	if (strcmp(op->row.backend, DNS_BACKEND_HOSTS) == 0)
		return dns_hosts_apply(s, "rtt", op, 1);
	if (strcmp(op->row.backend, DNS_BACKEND_PDNS) == 0)
		return dns_pdns_apply(s, c, op, 1);
	return dns_rfc2136_apply(c, op, 1);
}

/* The op of sample i: one name in the zone, one address in the reverse zone. */
static void op_init(const struct dns_config *c, int i, struct dns_op *op)
{
	memset(op, 0, sizeof(*op));
	(void)snprintf(op->row.network, sizeof(op->row.network), "rtt");
	(void)snprintf(op->row.key, sizeof(op->row.key), "rtt%d", i);
	(void)snprintf(op->row.backend, sizeof(op->row.backend), "%s",
		       c->hosts ? DNS_BACKEND_HOSTS : c->pdns ? DNS_BACKEND_PDNS : DNS_BACKEND_RFC2136);
	dns_target(c, op->row.backend, op->row.target);
	if (snprintf(op->row.name, sizeof(op->row.name), "rtt%d.%s", i, c->zone) < 0)
		op->row.name[0] = '\0';
	(void)snprintf(op->row.zone, sizeof(op->row.zone), "%s", c->zone);
	(void)snprintf(op->row.ptr_zone, sizeof(op->row.ptr_zone), "%s", c->reverse_zone);
	(void)prefix_addr_from_string("2001:db8::1", &op->row.addr);
	if (c->reverse_zone[0]) {
		/* an address inside the reverse zone: its nibbles, then ::i */
		char nib[DNS_NAME_MAX];
		size_t k = 0;

		(void)snprintf(nib, sizeof(nib), "%s", c->reverse_zone);
		memset(&op->row.addr, 0, sizeof(op->row.addr));
		for (int q = (int)(strlen(nib) - strlen("ip6.arpa.")) - 2; q >= 0; q -= 2, k++) {
			unsigned v = (unsigned)(nib[q] <= '9' ? nib[q] - '0' : nib[q] - 'a' + 10);

			op->row.addr.s6_addr[k / 2] |= (uint8_t)(k % 2 ? v : v << 4);
		}
		op->row.addr.s6_addr[15] = (uint8_t)(i + 1);
	}
}

/* One publish and one removal: their times in ms; -1 on failure (message printed). */
static int sample(struct store *s, const struct dns_config *c, int i, double *pub, double *rem)
{
	struct dns_op op;
	double t;
	int r;

	op_init(c, i, &op);
	op.add = true;
	op.row.state = STORE_DNS_PENDING;
	(void)store_dns_update(s, &op.row, 1, NULL, 0);
	t = now_ms();
	r = apply(s, c, &op);
	*pub = now_ms() - t;
	if (r < 0) {
		(void)fprintf(stderr, "dns-rtt: %s\n", err_msg(r));
		return -1;
	}
	op.add = false;
	op.row.state = STORE_DNS_STALE;
	(void)store_dns_update(s, &op.row, 1, NULL, 0);
	t = now_ms();
	r = apply(s, c, &op);
	*rem = now_ms() - t;
	(void)store_dns_update(s, NULL, 0, &op.row, 1);
	return r < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	char line[64];
	struct dns_config c;
	struct store *s = NULL;
	json_t *j;
	double *pub, *rem;
	int n;

	if (argc != 4 || (n = atoi(argv[3])) < 0) {
		(void)fprintf(stderr, "usage: dns-rtt STATE_DIR DNS_JSON N\n");
		return 2;
	}
	j = json_loads(argv[2], 0, NULL);
	if (!j || dns_config_from_json(j, 64, false, &c) < 0 || !c.enabled ||
	    store_open(argv[1], &s) < 0) {
		(void)fprintf(stderr, "dns-rtt: %s\n", err_msg(-EINVAL));
		return 1;
	}
	if (n == 0) {
		double p, r;

		for (int i = 0; fgets(line, sizeof(line), stdin); i++) {
			if (sample(s, &c, i % 200, &p, &r) < 0)
				return 1;
			(void)printf("%.3f %.3f\n", p, r);
			(void)fflush(stdout);
		}
		store_close(s);
		json_decref(j);
		return 0;
	}
	pub = calloc((size_t)n, sizeof(*pub));
	rem = calloc((size_t)n, sizeof(*rem));
	for (int i = 0; i < n; i++)
		if (sample(s, &c, i, &pub[i], &rem[i]) < 0)
			return 1;
	qsort(pub, (size_t)n, sizeof(*pub), cmp);
	qsort(rem, (size_t)n, sizeof(*rem), cmp);
	(void)printf("%.3f %.3f\n", pub[n / 2], rem[n / 2]);
	free(pub);
	free(rem);
	store_close(s);
	json_decref(j);
	return 0;
}
