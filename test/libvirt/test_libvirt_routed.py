"""v6pd-libvirt-hook under a real libvirtd, routed mode (label real-client): taps made
beforehand (<interface type='ethernet'><target dev='TAP' managed='no'/>) matched by a name
pattern; the hook puts fe80::1 and the slice's ::1 (noprefixroute) on the tap and routes the
guest's /128 to it; v6pd's dnsmasq serves the tap (RA with the prefix off-link + DHCPv6
reservation by MAC). virt.py is the harness.
"""
import ipaddress
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import virt  # noqa: E402
from virt import RUN  # noqa: E402

NET = RUN + "-rt"


def setUpModule():
    lv = virt.setup_module()
    lv.write_config([{"match": {"tap": RUN + "t*"}, "name": NET, "mode": "routed",
                      "prefix": str(lv.prefix)}])


def tearDownModule():
    virt.teardown_module()


def route_dev(addr):
    """The device of the host's route to addr/128 ("" when none)."""
    out = virt.sh("ip", "-6", "route", "show", addr + "/128").stdout.split()
    return out[out.index("dev") + 1] if "dev" in out else ""


class RoutedMode(virt.VirtCase):
    def test_address_is_stable_across_destroy_start_and_undefine_define(self):
        lv, name, mac = virt.LV, RUN + "-ra", virt.LV.mac(11)
        tap = lv.tap("t1")
        self.addCleanup(self.undefine, name)
        t0 = time.monotonic()
        console, addrs = self.boot(name, [("ethernet", tap, mac)])
        boot_s = time.monotonic() - t0
        addr = self.assert_stable_address(addrs, lv.prefix)
        self.assertRegex(console.default_route(), r"^default via fe80::1 dev eth0")
        self.assertEqual(route_dev(addr), tap, "the guest's /128 is routed to its tap")
        self.assert_pings(addr)
        virt.log("routed: %s got %s, ready %.1f s after virsh start" % (name, addr, boot_s))

        self.destroy(name)
        self.assertEqual(route_dev(addr), "", "destroy removes the route")
        lv.start_domain(name)
        self.assertEqual(console.wait_ready(), [addr], "destroy + start")
        self.assert_pings(addr)

        self.undefine(name)
        console, addrs = self.boot(name, [("ethernet", tap, mac)])
        self.assertEqual(addrs, [addr], "undefine + define with the same name and MAC")
        self.assert_pings(addr)

    def test_two_guests_differ_reach_each_other_and_survive_a_libvirtd_restart(self):
        lv = virt.LV
        names, macs = [RUN + "-r1", RUN + "-r2"], [lv.mac(12), lv.mac(13)]
        taps = [lv.tap("t2"), lv.tap("t3")]
        consoles = []
        for n, m, t in zip(names, macs, taps):
            self.addCleanup(self.undefine, n)
            consoles.append(lv.define(n, [("ethernet", t, m)]))
        # One after the other: the second guest's tap is new to the v6pd dnsmasq, which
        # serves the config's tap pattern and so must serve it (RA + DHCPv6 reservation)
        # without a restart.
        addrs, pids = [], []
        for n, c in zip(names, consoles):
            lv.start_domain(n)
            addrs.append(self.assert_stable_address(c.wait_ready(), lv.prefix))
            pids.append(lv.dnsmasq_pid())
        self.assertGreater(pids[0], 0)
        self.assertEqual(pids[1], pids[0], "the second guest's new tap restarted dnsmasq")
        with open(os.path.join(lv.state, "dnsmasq", "dnsmasq.conf")) as f:
            self.assertIn("interface=%st*\n" % RUN, f.read())
        self.assertNotEqual(addrs[0], addrs[1])
        for a in addrs:
            self.assert_pings(a)
        # through the host: each guest's default route is fe80::1 on its own tap
        self.assertTrue(virt.reply_reaches(addrs[0], addrs[1], taps[0]),
                        "guest 2's answer to guest 1 never reached guest 1's tap")
        self.assertTrue(virt.reply_reaches(addrs[1], addrs[0], taps[1]),
                        "guest 1's answer to guest 2 never reached guest 2's tap")

        since = time.time_ns()
        lv.stop_libvirtd()
        lv.start_libvirtd()
        virt.wait_for(lambda: len([r for r in lv.hooks.records(since)
                                   if r["argv"][1:3] == ["reconnect", "begin"]]) >= 2,
                      60, 0.2, "reconnect begin for both domains")
        for r in lv.hooks.records(since):
            self.assertEqual(r["rc"], 0, "%s %s: %s" % (r["kind"], r["argv"], r["stderr"]))
        for a, t in zip(addrs, taps):
            self.assertEqual(route_dev(a), t)
            self.assert_pings(a)


if __name__ == "__main__":
    virt.main()
