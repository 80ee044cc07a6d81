/* veth-floor: bench/cni's kernel floor. Creates one veth pair the way the plugin does (one
 * RTM_NEWLINK, the peer made directly inside a container netns) and prints how long that
 * single netlink call took, in nanoseconds; then deletes the pair. No plugin can attach a
 * container with a veth faster than this plus starting a process.
 *
 *     veth-floor NAME NETNS_PATH
 */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "netlink.h"
#include "netns.h"

static long long ns_since(const struct timespec *t0)
{
	struct timespec t1;

	(void)clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000000000LL + (t1.tv_nsec - t0->tv_nsec);
}

int main(int argc, char **argv)
{
	struct nl_ctx *ctx = NULL;
	struct timespec t0;
	int fd = -1, ifindex = 0, peer = 0, r;
	long long ns;

	if (argc != 3) {
		(void)fprintf(stderr, "usage: veth-floor NAME NETNS_PATH\n");
		return 2;
	}
	if ((r = netns_open(argv[2], &fd)) < 0 || (r = nl_ctx_open(&ctx)) < 0)
		goto fail;
	{
		struct nl_veth v = { .name = argv[1], .peer_name = "eth0", .peer_netns_fd = fd };

		(void)clock_gettime(CLOCK_MONOTONIC, &t0);
		r = nl_veth_create(ctx, &v, &ifindex, &peer);
		ns = ns_since(&t0);
	}
	if (r < 0 || (r = nl_link_del_ifindex(ctx, ifindex)) < 0)
		goto fail;
	(void)printf("%lld\n", ns);
	nl_ctx_free(ctx);
	(void)close(fd);
	return 0;
fail:
	(void)fprintf(stderr, "veth-floor: %s\n", err_msg(r));
	nl_ctx_free(ctx);
	if (fd >= 0)
		(void)close(fd);
	return 1;
}
