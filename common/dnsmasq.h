/* dnsmasq: how a VM learns its v6pd address with no configuration inside the guest.
 *
 * Router advertisements (prefix, flags, RDNSS) plus a DHCPv6 reservation keyed by MAC, from
 * one dnsmasq per host that v6pd runs for its own bridges and routed taps, or from libvirt's
 * dnsmasq for libvirt-managed networks (which reads the same reservations through a
 * dhcp-hostsdir passthrough). Reservations live one file per MAC in a directory dnsmasq
 * watches (inotify), rewritten atomically, so no restart per VM.
 */
#pragma once

#include <netinet/in.h>

/* state_dir/dhcp-hosts/NETWORK/: the reservations of one network. */
int dnsmasq_hosts_dir(const char *state_dir, const char *network, char *buf, size_t size);

/* Writes (temp + fsync + rename + fsync of the directory) the reservation
 * "dhcp-host=MAC,[ADDR],NAME" for mac in the network's directory, creating it 0755.
 * name may be NULL. Replaces an existing one for that MAC. */
int dnsmasq_host_put(const char *state_dir, const char *network, const char *mac,
		     const struct in6_addr *addr, const char *name);
/* Removes it; 0 when it was not there. */
int dnsmasq_host_remove(const char *state_dir, const char *network, const char *mac);

/* Makes sure the host's v6pd dnsmasq runs and serves iface (a bridge or tap that carries the
 * slice's gateway address): starts it when not running, restarts it when it died or when
 * iface is new to it (the set of served interfaces lives in state_dir/dnsmasq/). No shell;
 * its pid in state_dir/dnsmasq/dnsmasq.pid; DNS off (port=0). */
int dnsmasq_serve(const char *state_dir, const char *network, const char *iface);
/* Stops serving iface (restarting dnsmasq without it, or stopping it when none is left). */
int dnsmasq_unserve(const char *state_dir, const char *iface);
