/* dhcp6release: makes libvirt's dnsmasq forget a stopped guest's DHCPv6 leases.
 *
 * Why: dnsmasq refuses a reserved address to a client whose DUID differs from the one its
 * lease on that address records, until that lease expires. A guest's DUID comes from its
 * SMBIOS UUID, so a domain undefined and defined again (same name and MAC, new UUID) is
 * refused its reservation (its v6pd address) for the rest of the old lease. For v6pd's own
 * dnsmasq, dnsmasq_host_remove() drops such leases; libvirt's dnsmasq keeps its leases in
 * memory and in libvirt's lease status file (it runs with --leasefile-ro and libvirt's
 * leaseshelper), so the way to make it forget one is the way the guest would have: a DHCPv6
 * Release (RFC 8415 18.2.7) with the lease's client DUID, IAID and address and the server's
 * DUID, multicast to All_DHCP_Relay_Agents_and_Servers on the network's bridge. Measured
 * with libvirt 9.0 and dnsmasq 2.90: dnsmasq answers "release received", the leaseshelper
 * drops the lease from the status file, and the redefined domain gets its address.
 *
 * The leases come from libvirt's status file, STATUS_DIR/BRIDGE.status: a JSON array of
 * {"ip-address", "mac-address", "client-id", "iaid", "server-duid", ...}; the IPv6 ones
 * are those with a "server-duid". Where the bridge is not known (a domain's stopped hook:
 * the XML names the network, not its bridge, and libvirt forgets the ports of a network that
 * was restarted, so port-deleted does not come for them) every status file is looked at:
 * the file's name is the bridge's.
 */
#pragma once

#define DHCP6_LIBVIRT_STATUS_DIR "/var/lib/libvirt/dnsmasq"

/* Releases every DHCPv6 lease of mac (aa:bb:cc:dd:ee:ff, either case) that libvirt's
 * dnsmasq on bridge holds (bridge NULL: on any bridge with a status file), waiting up to
 * 300 ms for each answer. Returns how many were released (sent), 0 when no status file or
 * no running bridge has one. */
int dhcp6_release_libvirt(const char *status_dir, const char *bridge, const char *mac);
