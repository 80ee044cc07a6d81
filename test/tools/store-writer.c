/* store-writer: acquires leases in a loop through the store interface, for the crash-safety
 * test (test/store/test_store_processes.py), which SIGKILLs it at random moments.
 *
 *   store-writer STATE_DIR NETWORK PREFIX [COUNT]
 *
 * Opens the store in STATE_DIR, prints "ready", and acquires an active lease in NETWORK
 * (default settings but maxLeases 1,000,000; it follows the host's delegated prefix, which
 * must be set) for the keys PREFIX-0, PREFIX-1, ... (COUNT of them; default: until killed).
 * A line "KEY ADDRESS" is printed and flushed only after store_lease_acquire() returned 0,
 * i.e. after the lease was committed: every line printed is a promise the store must keep.
 * Errors go to stderr, exit 1.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "prefix.h"
#include "store.h"

int main(int argc, char **argv)
{
	char key[STORE_KEY_MAX], cid[STORE_CID_MAX], addr[INET6_ADDRSTRLEN];
	struct store_network cfg;
	struct store *s = NULL;
	struct lease l;
	uint64_t count = UINT64_MAX;
	int r;

	if (argc != 4 && argc != 5) {
		(void)fprintf(stderr, "usage: store-writer STATE_DIR NETWORK PREFIX [COUNT]\n");
		return 2;
	}
	if (argc == 5) {
		char *end;

		errno = 0;
		count = strtoull(argv[4], &end, 10);
		if (errno || end == argv[4] || *end) {
			(void)fprintf(stderr, "store-writer: COUNT \"%s\": not a number\n", argv[4]);
			return 2;
		}
	}
	r = store_open(argv[1], &s);
	if (r < 0)
		goto out;
	/* The test measures its kill delay from here on, so the kills land among the
	 * transactions rather than in the process start. */
	(void)printf("ready\n");
	(void)fflush(stdout);
	store_network_init(&cfg, argv[2]);
	/* 100 runs of the crash test take more leases than the default cap. */
	cfg.max_leases = 1000000;
	for (uint64_t i = 0; i < count; i++) {
		struct lease_request req = { .key = key, .container_id = cid, .ifname = "eth0" };

		(void)snprintf(key, sizeof(key), "%s-%" PRIu64, argv[3], i);
		(void)snprintf(cid, sizeof(cid), "cid-%s-%" PRIu64, argv[3], i);
		r = store_lease_acquire(s, &cfg, &req, (int64_t)time(NULL), &l);
		if (r < 0)
			goto out;
		if (!l.addr_known) {
			r = err_set(-EINVAL, "lease %s: no address", key);
			goto out;
		}
		(void)printf("%s %s\n", key, prefix_addr_to_string(&l.addr, addr, sizeof(addr)));
		(void)fflush(stdout);
	}
out:
	/* As the CNI plugin does: a long WAL goes to a detached checkpoint worker. */
	store_close_detached(s);
	if (r < 0) {
		(void)fprintf(stderr, "store-writer: %s\n", err_msg(r));
		return 1;
	}
	return 0;
}
