/* dnsmasq: how a VM learns its v6pd address with no configuration inside the guest.
 *
 * Router advertisements (prefix, flags, RDNSS) plus a DHCPv6 reservation keyed by MAC, from
 * one dnsmasq per host (per state directory) that v6pd runs for its own bridges and routed
 * taps, or from libvirt's dnsmasq for libvirt-managed networks (which reads the same
 * reservations through a dhcp-hostsdir passthrough). Reservations live one file per MAC in a
 * directory dnsmasq watches (inotify), rewritten atomically, so no restart per VM.
 *
 * What dnsmasq 2.90 does with that directory, measured: a new file (or a rename onto a name)
 * is read within milliseconds; names starting with '.' are skipped, so temp files are
 * ".NAME.XXXXXX"; a changed or removed file's old record stays until SIGHUP (put and remove
 * send it to our dnsmasq; for libvirt's, see dnsmasq_reload()). dnsmasq drops root and runs
 * as nobody: the state directory is given o+x (traverse only; never r or w) so that it can
 * reach state_dir/dhcp-hosts/; directories there are 0755, files 0644.
 *
 * DHCPv6 leases outlive the VM: dnsmasq refuses a reserved address to a client whose DUID
 * differs from the one its lease records until that lease expires (1 h), and a guest's DUID
 * changes when libvirt gives the domain a new UUID (undefine + define: guests use DUID-UUID
 * from the SMBIOS UUID). So when the VM stops our dnsmasq also forgets its leases on that
 * address (dnsmasq_leases_forget(): a restart with the lease dropped from its lease file,
 * only when there is one; the libvirt hook leaves it to a worker it does not wait for).
 *
 * Served interfaces: a bridge or tap by name, or every tap of a routed entry at once by a
 * pattern "PREFIX*" (dnsmasq_link.iface), so that a new VM's tap needs no restart.
 *
 * Layout: state_dir/dnsmasq/{lock,dnsmasq.conf,interfaces,dnsmasq.pid,leases,dnsmasq.log}
 * and state_dir/dhcp-hosts/NETWORK/MAC. Every function that starts or stops dnsmasq holds an
 * flock on state_dir/dnsmasq/lock, so concurrent hook processes serialise. dnsmasq is started
 * with posix_spawn (no shell) as `dnsmasq --conf-file=state_dir/dnsmasq/dnsmasq.conf` (so
 * /etc/dnsmasq.conf is not read), from $V6PD_DNSMASQ or the first of /usr/sbin/dnsmasq,
 * /usr/local/sbin/dnsmasq, /sbin/dnsmasq; it daemonises itself, and its startup errors come
 * back in the message. "Running" means: the pid file names a live process (not a zombie)
 * whose comm is dnsmasq and whose command line has our --conf-file; anything else is dead
 * and gets restarted.
 */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#define DNSMASQ_DNS_MAX 3		/* RDNSS servers per interface */
#define DNSMASQ_LEASE_TIME "1h"

/* state_dir/dhcp-hosts/NETWORK/: the reservations of one network. -EINVAL for a bad network
 * name (config_check_name()), -ENAMETOOLONG when it does not fit in size. */
int dnsmasq_hosts_dir(const char *state_dir, const char *network, char *buf, size_t size);
/* The same, creating it (0755, and the state directory with o+x, its parents checked for
 * traverse permission) so that a dnsmasq started before any reservation exists finds it:
 * `v6pdctl libvirt network define` points libvirt's dnsmasq at it. */
int dnsmasq_hosts_dir_ensure(const char *state_dir, const char *network, char *buf,
			     size_t size);

/* Writes (temp + rename, no fsync: the file is derived from the store and rewritten by the
 * next start, see dnsmasq.c) the reservation "MAC,[ADDR],NAME" (a dhcp-hostsfile line: no
 * "dhcp-host=" in a hosts directory) for mac in the network's directory, creating it 0755
 * when missing. mac is aa:bb:cc:dd:ee:ff in either case (written lower case). name may be
 * NULL; a name that is not a host name label (1..63 of [A-Za-z0-9-], no '-' at either end)
 * is left out rather than refused. 0 when the reservation is new (a watching dnsmasq reads
 * it at once) or identical (no write); 1 when it replaced a different one for that MAC: our
 * dnsmasq was sent SIGHUP so the old record goes, and any other dnsmasq reading the
 * directory (libvirt's) needs one too (dnsmasq_reload()). */
int dnsmasq_host_put(const char *state_dir, const char *network, const char *mac,
		     const struct in6_addr *addr, const char *name);
/* Removes it: 1, or 0 when it was not there. When our dnsmasq holds a DHCPv6 lease on the
 * reserved address, restarts it with that lease dropped (see above); otherwise sends it
 * SIGHUP so the record goes (another dnsmasq reading the directory needs
 * dnsmasq_reload() for that too). Call it when the VM stops: it is
 * dnsmasq_host_unlink() and dnsmasq_leases_forget(..., true). */
int dnsmasq_host_remove(const char *state_dir, const char *network, const char *mac);
/* The reservation file goes and our dnsmasq gets SIGHUP; *ret_addr (may be NULL) is the
 * address it reserved (:: when unreadable). 1, or 0 when there was none. */
int dnsmasq_host_unlink(const char *state_dir, const char *network, const char *mac,
			struct in6_addr *ret_addr);
/* Makes our dnsmasq forget its DHCPv6 leases on addrs[0..n) (:: entries are skipped),
 * restarting it once when it holds any. With wait false (a libvirt hook, which libvirtd
 * waits for) that restart is left to a detached worker and the call returns at once; the
 * worker holds the lock until dnsmasq runs again (a later serve or forget waits for it), and
 * logs a failure to state_dir/dnsmasq/dnsmasq.log. Returns how many leases there were. */
int dnsmasq_leases_forget(const char *state_dir, const struct in6_addr *addrs, size_t n,
			  bool wait);

/* How one interface is served. */
struct dnsmasq_link {
	const char *network;		/* whose reservations: state_dir/dhcp-hosts/NETWORK/ */
	const char *iface;		/* a bridge or tap carrying the slice's ::1 (any global
					 * address in the slice: dnsmasq sends no RA without one),
					 * or a pattern "PREFIX*": every such interface, present
					 * and future, served alike with no restart when one
					 * appears (dnsmasq's own trailing-'*' wildcard) */
	unsigned prefixlen;		/* the slice length, 64..120 */
	struct in6_addr slice;		/* the slice's prefix, needed unless prefixlen is 64:
					 * dnsmasq builds ranges from an interface's addresses
					 * ("constructor", which follows a renumbering by
					 * itself) for /64 only; a longer slice gets a fixed
					 * range, so serve it again after a renumbering */
	bool off_link;			/* RA prefix without the L flag: every packet goes to
					 * the host (routed taps: the slice's other addresses
					 * are behind other taps, nobody answers their NS) */
	const struct in6_addr *dns;	/* RDNSS and DHCPv6 dns-server; borrowed; may be NULL */
	size_t n_dns;			/* 0..DNSMASQ_DNS_MAX */
};

/* Makes sure the host's v6pd dnsmasq runs and serves l->iface: starts it when not running,
 * restarts it when it died or when iface is new to it or served differently (the set of
 * served interfaces lives in state_dir/dnsmasq/interfaces). A running dnsmasq that already
 * serves it the same way is left alone (no restart). On failure the served set and the
 * running dnsmasq are as before. Per interface: RA (interval 10 s, router lifetime 600 s)
 * with the M flag, DHCPv6 for reserved addresses only (dhcp-range ::,constructor:IFACE,
 * static for a /64, SLICE,static,LEN for a longer slice: addresses nobody reserved are
 * never handed out), leases of 1 h. DNS off (port=0).
 * The interface need not exist yet (bind-dynamic: dnsmasq follows it). Serving a pattern
 * drops the served interfaces it matches (it serves them). */
int dnsmasq_serve_link(const char *state_dir, const struct dnsmasq_link *l);
/* dnsmasq_serve_link() with what the interface says: prefixlen and slice from its first
 * global address (/64 when it has none yet), off_link unless it is a bridge, no RDNSS. */
int dnsmasq_serve(const char *state_dir, const char *network, const char *iface);
/* Stops serving iface (restarting dnsmasq without it, or stopping it when none is left).
 * 0 when it was not served. */
int dnsmasq_unserve(const char *state_dir, const char *iface);

/* The pid of the running v6pd dnsmasq of state_dir, 0 when none runs. */
int dnsmasq_pid(const char *state_dir);
/* Stops it and forgets every served interface (reservations stay). 0 when none ran. */
int dnsmasq_stop(const char *state_dir);
/* Sends SIGHUP to the dnsmasq whose pid file this is (libvirt's:
 * /run/libvirt/network/NAME.pid), so it drops records of changed or removed reservation
 * files. 1 when signalled, 0 when no dnsmasq runs under that pid file. */
int dnsmasq_reload(const char *pid_file);
/* dnsmasq_reload() of libvirt's dnsmasq of libvirt network NAME, which reads a v6pd network's
 * reservations when `v6pdctl libvirt network define` pointed it at them. */
#define DNSMASQ_LIBVIRT_PID_DIR "/run/libvirt/network"
int dnsmasq_reload_libvirt(const char *network);
