/* sysctl: /proc/sys/net/ipv6/conf/<ifname>/<key>.
 *
 * /proc/sys/net shows the network namespace of the calling thread at open() time: to read or
 * write a container's settings, call these inside netns_run() or between netns_enter() and
 * netns_leave().
 */
#pragma once

/* ifname: an interface name (nl_ifname_validate() rules), "all" or "default". key: a
 * setting such as accept_ra, forwarding, proxy_ndp, accept_dad, disable_ipv6,
 * addr_gen_mode ([a-z0-9_], at most 64 characters). Both are checked before the path is
 * built: -EINVAL naming the value. -ENOENT when the interface is missing or has no IPv6
 * (e.g. MTU below 1280); the message names the sysctl. */
int sysctl_ipv6_conf_set(const char *ifname, const char *key, int value);
/* (sysctl_ipv6_conf_set() reads first and writes only a value that differs.) */
int sysctl_ipv6_conf_get(const char *ifname, const char *key, int *ret_value);
