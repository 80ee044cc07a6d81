#!/usr/bin/env python3
"""v6pd-libvirt-hook's host side in a throwaway network namespace (root): `ip netns add`, the
taps made with `ip tuntap add` as a user makes a managed='no' tap and as libvirt makes
vnetN, the hook run inside it with `ip netns exec` with the recorded start/reconnect/stopped
inputs. Checked with `ip -j`: the v6pd bridge's gateways, a routed tap's fe80::1 and
slice::1 (no prefix route), the VM's /128 or slice routed to the tap, proxy NDP on the
uplink, the sysctls; and that stopped takes it all away again. Label netns.

Environment: V6PD_BIN (the directory holding v6pd-libvirt-hook and v6pdctl).
"""
import ipaddress
import json
import os
import secrets
import signal
import subprocess
import unittest

from hooktest import (BRIDGE, DOMAIN, LIBVIRT_NET, MAC_BR, MAC_NET, MAC_TAP, TAP, UUID,
                      HookCase, read_input)

UPLINK = "upl0"


def key(mac, who=UUID):
    return "%s/%s" % (who, mac)


class NetnsHook(HookCase):
    def setUp(self):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root (ip netns)")
        super().setUp()
        self.ns = "v6lvh" + secrets.token_hex(3)
        self.sh("ip", "netns", "add", self.ns)
        self.addCleanup(self.sh, "ip", "netns", "del", self.ns, check=False)
        self.addCleanup(self.stop_dnsmasq)
        self.nsh("ip", "link", "set", "lo", "up")
        self.nsh("ip", "link", "add", UPLINK, "type", "veth", "peer", "name", "upl1")
        self.nsh("ip", "link", "set", UPLINK, "up")

    def dnsmasq_pid(self):
        """The pid of the hook's dnsmasq for this state dir, 0 when none runs."""
        try:
            with open(os.path.join(self.state, "dnsmasq", "dnsmasq.pid")) as f:
                pid = int(f.read().split()[0])
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError, IndexError):
            return 0

    def stop_dnsmasq(self):
        """The dnsmasq the hook started for this state dir (dnsmasq.h: its pid file)."""
        try:
            with open(os.path.join(self.state, "dnsmasq", "dnsmasq.pid")) as f:
                pid = int(f.read().split()[0])
            os.kill(pid, signal.SIGTERM)
        except (OSError, ValueError, IndexError):
            pass

    @staticmethod
    def sh(*argv, check=True):
        p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        if check and p.returncode != 0:
            raise AssertionError("%s: exit %d: %s" % (" ".join(argv), p.returncode,
                                                      p.stderr.strip()))
        return p

    def nsh(self, *argv, check=True):
        return self.sh("ip", "netns", "exec", self.ns, *argv, check=check)

    def hook(self, kind, obj, op, subop, xml, path=None, expect=0, conf=True):
        self.net = self  # HookCase.hook() wraps argv with self.net.wrap()
        return super().hook(kind, obj, op, subop, xml, path=path, expect=expect, conf=conf)

    def wrap(self, argv):
        return ["ip", "netns", "exec", self.ns] + list(argv)

    def ip(self, *args):
        return json.loads(self.nsh("ip", "-j", *args).stdout or "[]")

    def sysctl(self, ifname, key_):
        return self.nsh("cat", "/proc/sys/net/ipv6/conf/%s/%s" % (ifname, key_)).stdout.strip()

    def addrs(self, dev):
        (l,) = self.ip("addr", "show", "dev", dev)
        return {"%s/%d" % (a["local"], a["prefixlen"]): a for a in l["addr_info"]
                if a["family"] == "inet6"}

    def routes(self, dev=None):
        args = ["-6", "route", "show"] + (["dev", dev] if dev else [])
        return {r["dst"]: r for r in self.ip(*args)}

    def proxies(self):
        return {(n["dst"], n["dev"]) for n in self.ip("-6", "neigh", "show", "proxy")}

    def tap(self, name, up=False):
        self.nsh("ip", "tuntap", "add", "dev", name, "mode", "tap")
        if up:
            self.nsh("ip", "link", "set", name, "up")

    def conf_full(self, **tap_keys):
        keys = {"mode": "routed", "subnetId": 3, "ndpProxy": UPLINK}
        keys.update(tap_keys)
        self.write_conf([self.entry({"network": LIBVIRT_NET}, "vmnet", subnetId=1),
                         self.entry({"bridge": BRIDGE}, "vmbr", subnetId=2),
                         self.entry({"tap": "vmtap*"}, "vmtap", **keys)])

    def libvirt_start(self, prepare_xml=None, start_xml=None):
        """prepare, then what libvirt does between prepare and start (the vnetN taps, vnet1 on
        the bridge), then start."""
        self.qemu("prepare", "begin", prepare_xml or read_input("prepare.xml"))
        if self.nsh("ip", "link", "show", "dev", "vnet1", check=False).returncode != 0:
            self.tap("vnet1", up=True)
        self.nsh("ip", "link", "set", "vnet1", "master", BRIDGE)
        self.qemu("start", "begin", start_xml or read_input("start.xml"))

    def lease(self, net, mac):
        return self.leases()[(net, key(mac))]

    def check_routed(self, l, slice_len=64, per_slice=False):
        gw = "%s1/%d" % (l["slice"].split("/")[0], slice_len)
        a = self.addrs(TAP)
        self.assertEqual(set(a), {"fe80::1/64", gw}, "exactly fe80::1 and slice::1 on the tap")
        self.assertTrue(a[gw].get("noprefixroute"), "slice::1 without its prefix route")
        rs = self.routes(TAP)
        dst = l["slice"] if per_slice else l["address"]
        self.assertIn(dst, rs, "the VM's %s routed to the tap" % dst)
        self.assertNotIn(l["slice"] if not per_slice else "none", rs)
        self.assertIn((l["address"], UPLINK), self.proxies())
        self.assertEqual(self.sysctl(UPLINK, "proxy_ndp"), "1")
        self.assertEqual(self.sysctl(TAP, "addr_gen_mode"), "1")
        self.assertEqual(self.sysctl(TAP, "accept_ra"), "0")
        self.assertEqual(self.sysctl("all", "forwarding"), "1")
        (link,) = self.ip("link", "show", "dev", TAP)
        self.assertIn("UP", link["flags"])

    def check_routed_gone(self, l):
        self.assertEqual(set(self.addrs(TAP)), set())
        self.assertEqual(self.routes(TAP), {})
        self.assertNotIn((l["address"], UPLINK), self.proxies())

    def test_bridge_and_routed_start_reconnect_stop(self):
        self.tap(TAP)
        self.conf_full()
        self.libvirt_start()
        # bridge mode: the v6pd bridge with its gateways
        br = self.addrs(BRIDGE)
        self.assertEqual({"fe80::1/64", "2001:db8:100:2::1/64"}, set(br),
                         "fe80::1 the bridge's only link-local: the guests' router")
        self.assertEqual(self.sysctl(BRIDGE, "addr_gen_mode"), "1")
        self.assertEqual(self.sysctl(BRIDGE, "accept_ra"), "0")
        self.assertEqual(self.sysctl(BRIDGE, "forwarding"), "1")
        self.assertIn("2001:db8:100:2::/64", self.routes(BRIDGE))
        # routed: the tap
        lt = self.lease("vmtap", MAC_TAP)
        self.check_routed(lt)
        for n, mac in (("vmnet", MAC_NET), ("vmbr", MAC_BR), ("vmtap", MAC_TAP)):
            l = self.lease(n, mac)
            self.assertEqual(l["state"], "active")
            self.assertIn(l["address"], self.reservations(n)[mac])
        snapshot = (self.addrs(TAP).keys(), self.routes(), self.proxies(),
                    self.addrs(BRIDGE).keys())
        # libvirtd restart: reconnect re-applies, twice (qemu + qemu.d), without a change
        self.qemu("reconnect", "begin", read_input("reconnect.xml"))
        self.qemu("reconnect", "begin", read_input("reconnect.xml"),
                  path=os.path.join(self.hooks, "qemu"))
        self.assertEqual((self.addrs(TAP).keys(), self.routes(), self.proxies(),
                          self.addrs(BRIDGE).keys()), snapshot)
        # virsh destroy: libvirt deletes vnetN; the user's vmtap0 stays
        self.nsh("ip", "link", "del", "vnet1")
        self.qemu("stopped", "end", read_input("stopped.xml"))
        self.qemu("release", "end", read_input("release.xml"))
        self.check_routed_gone(lt)
        self.assertLessEqual({"fe80::1/64", "2001:db8:100:2::1/64"}, set(self.addrs(BRIDGE)))
        for n, mac in (("vmnet", MAC_NET), ("vmbr", MAC_BR), ("vmtap", MAC_TAP)):
            self.assertEqual(self.lease(n, mac)["state"], "reserved")
            self.assertEqual(self.reservations(n), {})
        # virsh start again: the same addresses, the same host side
        self.libvirt_start()
        self.assertEqual(self.lease("vmtap", MAC_TAP)["address"], lt["address"])
        self.check_routed(lt)

    def test_stopped_finds_the_tap_by_its_route(self):
        """A stopped XML that no longer names the tap: the route of the lease leads to it."""
        self.tap(TAP)
        self.conf_full()
        self.libvirt_start()
        lt = self.lease("vmtap", MAC_TAP)
        xml = read_input("stopped.xml").replace("<target dev='%s' managed='no'/>" % TAP, "")
        self.qemu("stopped", "end", xml)
        self.check_routed_gone(lt)
        self.assertEqual(self.lease("vmtap", MAC_TAP)["state"], "reserved")

    def test_link_already_up_loses_its_kernel_link_local(self):
        """A tap gets a kernel link-local once up with a carrier (QEMU attached); a veth pair,
        up at both ends, stands in for that here."""
        self.nsh("ip", "link", "add", TAP, "type", "veth", "peer", "name", "vmpeer0")
        self.nsh("ip", "link", "set", "vmpeer0", "up")
        self.nsh("ip", "link", "set", TAP, "up")
        before = [a for a in self.addrs(TAP) if a.startswith("fe80:")]
        self.assertTrue(before and before != ["fe80::1/64"], before)
        self.conf_full()
        self.libvirt_start()
        self.check_routed(self.lease("vmtap", MAC_TAP))

    def test_per_container_slice(self):
        """Each VM its own /64 (dnsmasq's DHCPv6 constructor takes only /64 prefixes)."""
        self.tap(TAP)
        self.write_conf([self.entry({"tap": "vmtap*"}, "vmtap", mode="routed",
                                    perContainerSlice=True, ndpProxy=UPLINK)])
        self.qemu("prepare", "begin", read_input("prepare.xml"))
        self.qemu("start", "begin", read_input("start.xml"))
        l = self.lease("vmtap", MAC_TAP)
        self.assertTrue(l["slice"].endswith("/64"), l["slice"])
        self.assertIn(ipaddress.IPv6Address(l["address"]), ipaddress.IPv6Network(l["slice"]))
        self.check_routed(l, slice_len=64, per_slice=True)
        self.qemu("stopped", "end", read_input("stopped.xml"))
        self.check_routed_gone(l)

    def test_slice_longer_than_64(self):
        """sliceLength 80: dnsmasq's constructor takes /64 only, so the entry's pattern is
        served with a fixed range of the slice (the hook passes the slice along)."""
        self.tap(TAP)
        self.write_conf([self.entry({"tap": "vmtap*"}, "vmtap", mode="routed", subnetId=3,
                                    sliceLength=80, ndpProxy=UPLINK)])
        self.qemu("prepare", "begin", read_input("prepare.xml"))
        self.qemu("start", "begin", read_input("start.xml"))
        l = self.lease("vmtap", MAC_TAP)
        self.assertTrue(l["slice"].endswith("/80"), l["slice"])
        self.check_routed(l, slice_len=80)
        with open(os.path.join(self.state, "dnsmasq", "dnsmasq.conf")) as f:
            self.assertIn("dhcp-range=set:v6pd:vmtap,%s,static,off-link,80,1h\n" %
                          l["slice"].split("/")[0], f.read())

    def test_two_vms_two_taps_one_slice(self):
        self.tap(TAP)
        self.tap("vmtap1")
        self.write_conf([self.entry({"tap": "vmtap*"}, "vmtap", mode="routed", subnetId=3)])
        other = "1e8d3f2b-5c40-4f6e-9dac-b2c3d4e5f607"
        xml2 = {f: read_input(f).replace(UUID, other).replace(TAP, "vmtap1").replace(
            MAC_TAP, "52:54:00:bb:00:03").replace("<name>%s</name>" % DOMAIN, "<name>vm2</name>")
            for f in ("prepare.xml", "start.xml", "stopped.xml")}
        self.qemu("prepare", "begin", read_input("prepare.xml"))
        self.qemu("start", "begin", read_input("start.xml"))
        pid = self.dnsmasq_pid()
        self.hook("qemu", "vm2", "prepare", "begin", xml2["prepare.xml"])
        self.hook("qemu", "vm2", "start", "begin", xml2["start.xml"])
        # dnsmasq serves the entry's pattern: the second tap needs no restart
        self.assertGreater(pid, 0)
        self.assertEqual(self.dnsmasq_pid(), pid, "a new tap restarted dnsmasq")
        with open(os.path.join(self.state, "dnsmasq", "interfaces")) as f:
            self.assertEqual([l.split()[0] for l in f if not l.startswith("#")], ["vmtap*"])
        l1 = self.lease("vmtap", MAC_TAP)
        l2 = self.leases()[("vmtap", key("52:54:00:bb:00:03", other))]
        self.assertIn("2001:db8:100:3::1/64", self.addrs("vmtap1"))
        self.assertIn("2001:db8:100:3::1/64", self.addrs(TAP))
        self.assertIn(l1["address"], self.routes(TAP))
        self.assertIn(l2["address"], self.routes("vmtap1"))
        # stopping the first leaves the second alone, and dnsmasq running
        self.nsh("ip", "link", "del", TAP)
        self.qemu("stopped", "end", read_input("stopped.xml"))
        self.assertNotIn(l1["address"], self.routes())
        self.assertIn(l2["address"], self.routes("vmtap1"))
        self.assertIn("2001:db8:100:3::1/64", self.addrs("vmtap1"))
        self.assertEqual(self.dnsmasq_pid(), pid)

    def test_start_failure_leaves_nothing(self):
        """The uplink named by ndpProxy is missing: start fails after the tap was configured
        and takes it all back (a start without prepare: nothing was active before)."""
        self.tap(TAP)
        self.write_conf([self.entry({"tap": "vmtap*"}, "vmtap", mode="routed", subnetId=3,
                                    ndpProxy="nosuchlink")])
        _, err = self.qemu("start", "begin", read_input("start.xml"), expect=1)
        self.assert_one_line(err, MAC_TAP, "ndpProxy", "nosuchlink")
        self.assertEqual(self.leases(), {})
        self.assertEqual(self.reservations("vmtap"), {})
        self.assertEqual(set(self.addrs(TAP)), set())
        self.assertEqual(self.routes(TAP), {})

    def test_dnsmasq_serves_the_links(self):
        """start begin leaves the host's v6pd dnsmasq running (dnsmasq.h: its pid file)."""
        self.tap(TAP)
        self.conf_full()
        self.libvirt_start()
        pidfile = os.path.join(self.state, "dnsmasq", "dnsmasq.pid")
        self.assertTrue(os.path.exists(pidfile), "no %s after start" % pidfile)
        with open(pidfile) as f:
            pid = int(f.read().split()[0])
        os.kill(pid, 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
