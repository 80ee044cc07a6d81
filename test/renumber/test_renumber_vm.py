#!/usr/bin/env python3
"""Renumbering the host side of libvirt guests (label netns): the real v6pd-libvirt-hook run
with the recorded prepare/start inputs (../libvirt/inputs) in a throwaway netns, as in
../libvirt/test_hook_netns.py, on networks that follow the host's delegated prefix; then
`v6pdctl prefix set` in that netns. The v6pd bridge and the routed tap carry the new slice's
::1 (the old one deprecated: dnsmasq's RA constructor advertises both, the old one with
preferred lifetime 0, so the guest deprecates its old address and takes the new prefix), the
VM's new /128 is routed to the tap with a proxy NDP entry on the uplink, and every DHCPv6
reservation (v6pd's dnsmasq and libvirt's network alike) names the new address.
"""
import json
import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "libvirt"))
from hooktest import BRIDGE, MAC_BR, MAC_NET, MAC_TAP, TAP, UUID, V6PDCTL  # noqa: E402
import test_hook_netns as thn  # noqa: E402

UPLINK = thn.UPLINK

A = "2001:db8:a100::/56"
B = "2001:db8:b200::/56"


def moved(addr, old, new):
    import ipaddress
    o, n = ipaddress.IPv6Network(old), ipaddress.IPv6Network(new)
    return str(ipaddress.IPv6Address(int(n.network_address) +
                                     int(ipaddress.IPv6Address(addr)) - int(o.network_address)))


class VmRenumber(thn.NetnsHook):
    # a network without "prefix" follows the host's delegated prefix
    @staticmethod
    def entry(match, name, **keys):
        e = {"match": match, "name": name, "renumberGrace": "30s"}
        e.update(keys)
        return e

    def ctl(self, *argv):
        p = subprocess.run(["ip", "netns", "exec", self.ns, V6PDCTL, "--state-dir", self.state,
                            *argv], capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, V6PD_CONFIG="/nonexistent"))
        self.assertEqual(p.returncode, 0, p.stderr)
        return p

    def test_bridge_tap_and_reservations_follow(self):
        self.ctl("prefix", "set", A)
        self.tap(TAP)
        self.conf_full()
        self.libvirt_start()
        before = {(n, mac): self.lease(n, mac)["address"]
                  for n, mac in (("vmnet", MAC_NET), ("vmbr", MAC_BR), ("vmtap", MAC_TAP))}
        self.assertIn("2001:db8:a100:2::1/64", self.addrs(BRIDGE))
        self.assertIn("2001:db8:a100:3::1/64", self.addrs(TAP))
        out = json.loads(self.ctl("--json", "prefix", "set", B).stdout)
        rep = out["renumbered"]
        self.assertEqual((rep["moved"], rep["failed"]), (3, 0), rep)
        self.assertTrue(any("libvirt network \"recnet\"" in n for n in rep["notes"]), rep)
        # the bridge: the new gateway, the old one deprecated
        br = self.addrs(BRIDGE)
        self.assertFalse(br["2001:db8:b200:2::1/64"].get("deprecated"), br)
        self.assertTrue(br["2001:db8:a100:2::1/64"].get("deprecated"), br)
        self.assertIn("2001:db8:b200:2::/64", self.routes(BRIDGE))
        # the tap: slice::1 without its prefix route, the VM's /128, the proxy entry
        tap = self.addrs(TAP)
        self.assertTrue(tap["2001:db8:b200:3::1/64"].get("noprefixroute"), tap)
        self.assertTrue(tap["2001:db8:a100:3::1/64"].get("deprecated"), tap)
        new_tap = moved(before[("vmtap", MAC_TAP)], A, B)
        self.assertIn(new_tap, self.routes(TAP))
        self.assertIn((new_tap, UPLINK), self.proxies())
        # every reservation names the new address (the guest's DHCPv6 client gets it)
        for (n, mac), addr in before.items():
            new = moved(addr, A, B)
            self.assertEqual(self.lease(n, mac)["address"], new)
            self.assertIn(f"[{new}]", self.reservations(n)[mac])
        # the same prefix again: nothing
        out = json.loads(self.ctl("--json", "prefix", "set", B).stdout)
        self.assertNotIn("renumbered", out)
        self.assertEqual(self.lease("vmtap", MAC_TAP)["key"], f"{UUID}/{MAC_TAP}")


def load_tests(loader, tests, pattern):
    """Only this file's tests, not those VmRenumber inherits."""
    return unittest.TestSuite(VmRenumber(name) for name in vars(VmRenumber)
                              if name.startswith("test_"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
