/* netxml: what `v6pdctl libvirt network define` changes in a libvirt network's XML, as pure
 * functions on strings (libxml2 only, no libvirt), so they are unit-tested without a daemon.
 *
 * v6pd owns two parts of the network: one IPv6 <ip> (the slice's ::1 with DHCPv6) and some
 * <dnsmasq:option>s (namespace NETXML_DNSMASQ_NS). Everything else is the user's and is
 * kept as it is. libvirt keeps neither comments nor attributes it does not know, so v6pd's
 * parts are recognised by what they are:
 *  - an IPv6 <ip> with a <dhcp> element (libvirt serves DHCPv6 on one IPv6 subnet per network,
 *    so any other would conflict with ours) or inside the wanted slice;
 *  - a dnsmasq option equal to one v6pd writes, a dhcp-hostsdir ending in
 *    "/dhcp-hosts/NETWORK" (ours under another state directory), a "ra-param=*," or a
 *    "dhcp-lease-max=" (ours with other values; another would override ours).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define NETXML_DNSMASQ_NS "http://libvirt.org/schemas/network/dnsmasq/1.0"
#define NETXML_OPTS_MAX 8
#define NETXML_REMOVED_MAX 16
#define NETXML_TEXT_MAX 256

/* What v6pd's parts must be. Strings are borrowed. The <ip> is
 *   <ip family='ipv6' address=ADDRESS prefix=PREFIX>
 *     <dhcp><host id=HOST_ID ip=ADDRESS/></dhcp></ip>
 * a DHCPv6 host and no range: libvirt then runs DHCPv6 in dnsmasq's static mode
 * (dhcp-range=ADDRESS,static,PREFIX), which hands out reserved addresses only. */
struct netxml_want {
	const char *address;		/* the slice's ::1, e.g. "2001:db8:0:1::1" */
	unsigned prefix;		/* the slice length, 64..120 */
	const char *host_id;		/* a DUID no client has */
	const char *hosts_suffix;	/* "/dhcp-hosts/NETWORK": our hostsdir anywhere */
	const char *options[NETXML_OPTS_MAX];	/* dnsmasq option values, in order */
	size_t n_options;
};

/* What the network is, and what an edit did. */
struct netxml_info {
	char forward[32];		/* <forward mode>: "nat" when the element has none; "" when
					 * there is no <forward> (an isolated network) */
	char bridge[16];		/* <bridge name>; "" when libvirt has not chosen one yet */
	unsigned long ipv4_range_size;	/* addresses in the IPv4 DHCP ranges */
	bool up_to_date;		/* v6pd's parts are exactly the wanted ones */
	size_t n_removed;		/* what an edit took out and did not put back as it
					 * was, e.g. "<ip> 2001:db8::1/64 (DHCPv6)",
					 * "<dnsmasq:option> ra-param=*,0,0" */
	char removed[NETXML_REMOVED_MAX][NETXML_TEXT_MAX];
	size_t n_removed_more;		/* removed beyond NETXML_REMOVED_MAX */
};

/* The XML of a new network: name, <forward mode='route'/> (the slice is routed to the host,
 * no NAT), and nothing else; netxml_edit() adds v6pd's parts. A new string (free()). */
int netxml_new(const char *name, char **ret);

/* Reads xml (a <network>) into ret without changing anything: ret->up_to_date says whether
 * v6pd's parts are as wanted. -EINVAL with a message for XML that is not a network. */
int netxml_inspect(const char *xml, const struct netxml_want *w, struct netxml_info *ret);

/* xml with v6pd's parts replaced by the wanted ones, the rest kept; *ret_xml a new string
 * (free()), the input unchanged in content when ret->up_to_date. -EINVAL for XML that is not
 * a network, -EOPNOTSUPP for a network libvirt runs no dnsmasq for (forward mode bridge,
 * passthrough, private, vepa, hostdev). */
int netxml_edit(const char *xml, const struct netxml_want *w, char **ret_xml,
		struct netxml_info *ret);

/* The host-side devices (<target dev>) of a running domain's interfaces on libvirt network
 * `network` (<interface type='network'><source network=...>), from the domain's live XML:
 * up to max names into ret. Returns their number, or -EINVAL for XML that is not a domain. */
int netxml_domain_taps(const char *xml, const char *network, char (*ret)[16], size_t max);
