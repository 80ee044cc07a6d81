/* netns: network namespaces by path, and moving the calling thread between them.
 *
 * setns() moves the calling thread only; v6pd's front ends are single-threaded. A netlink
 * socket (nl_ctx_open()) or a /proc/sys/net file stays bound to the namespace that was
 * current when it was opened, so the usual pattern is: enter, open, leave, then use.
 */
#pragma once

/* Opens path (/run/netns/NAME, /proc/PID/ns/net, a bind mount of either) O_RDONLY|O_CLOEXEC
 * and checks that it is a network namespace (nsfs, then NS_GET_NSTYPE). On success
 * *ret_fd is a new fd the caller closes. -ENOENT when missing, -EINVAL when not a namespace
 * or a namespace of another type; the message names the path. */
int netns_open(const char *path, int *ret_fd);

/* Opens the calling thread's current network namespace (/proc/thread-self/ns/net). */
int netns_open_current(int *ret_fd);

/* Moves the calling thread into the netns fd (borrowed). *ret_orig_fd gets a new fd of the
 * namespace left behind, to hand to netns_leave(). On failure nothing changed. */
int netns_enter(int fd, int *ret_orig_fd);

/* Moves the calling thread back into orig_fd and closes it (always, even on failure). A
 * failure leaves the thread in the other namespace: the caller must not go on. */
int netns_leave(int orig_fd);

/* Runs fn(userdata) inside the netns fd and comes back. Returns fn's result, or the error
 * of entering or leaving (a failure to leave wins over fn's result). */
int netns_run(int fd, int (*fn)(void *userdata), void *userdata);
