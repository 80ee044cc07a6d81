"""v6pd-libvirt-hook under a real libvirtd, bridge mode (label real-client): a v6pd-managed
bridge, the test guest booted under TCG, its address delivered by v6pd's dnsmasq (RA +
DHCPv6 reservation by MAC) with no configuration inside the guest. virt.py is the harness
(what it starts, installs and cleans up).
"""
import ipaddress
import os
import statistics
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import virt  # noqa: E402
from virt import RUN  # noqa: E402

NET = RUN + "-br"
BR = (RUN + "br")[:15]


def setUpModule():
    lv = virt.setup_module()
    lv.write_config([{"match": {"bridge": BR}, "name": NET, "mode": "bridge",
                      "prefix": str(lv.prefix)}])


def tearDownModule():
    virt.teardown_module()


class BridgeMode(virt.VirtCase):
    def lease_of(self, name, mac):
        key = "%s/%s" % (virt.LV.uuid(name), mac)
        got = [l for l in virt.LV.leases() if l["network"] == NET and l["key"] == key]
        self.assertEqual(len(got), 1, "no lease for key %s in %s" % (key, virt.LV.leases()))
        return got[0]

    def test_address_is_stable_across_destroy_start_and_undefine_define(self):
        lv, name, mac = virt.LV, RUN + "-a", virt.LV.mac(1)
        self.addCleanup(self.undefine, name)
        t0 = time.monotonic()
        console, addrs = self.boot(name, [("bridge", BR, mac)])
        boot_s = time.monotonic() - t0
        addr = self.assert_stable_address(addrs, lv.prefix)
        lease = self.lease_of(name, mac)
        self.assertEqual(lease["address"], addr)
        self.assertEqual(lease["state"], "active")
        self.assertIn(ipaddress.IPv6Address(addr), ipaddress.IPv6Network(lease["slice"]))
        self.assertRegex(console.default_route(), r"^default via fe80::1 dev eth0")
        self.assert_pings(addr)
        virt.log("bridge: %s got %s, ready %.1f s after virsh start" % (name, addr, boot_s))

        self.destroy(name)
        self.assertEqual(self.lease_of(name, mac)["state"], "reserved")
        virt.LV.start_domain(name)
        self.assertEqual(console.wait_ready(), [addr], "destroy + start")
        self.assert_pings(addr)

        uuid = lv.uuid(name)
        self.undefine(name)
        console, addrs = self.boot(name, [("bridge", BR, mac)])
        self.assertNotEqual(lv.uuid(name), uuid, "libvirt gave the redefined domain a new UUID")
        self.assertEqual(addrs, [addr], "undefine + define with the same name and MAC")
        self.assert_pings(addr)

    def test_two_guests_differ_reach_each_other_and_survive_a_libvirtd_restart(self):
        lv = virt.LV
        names, macs = [RUN + "-b1", RUN + "-b2"], [lv.mac(2), lv.mac(3)]
        consoles = []
        for n, m in zip(names, macs):
            self.addCleanup(self.undefine, n)
            consoles.append(lv.define(n, [("bridge", BR, m)]))
        for n in names:            # boot both at once
            lv.start_domain(n)
        addrs = [self.assert_stable_address(c.wait_ready(), lv.prefix) for c in consoles]
        self.assertNotEqual(addrs[0], addrs[1])
        self.assertEqual(ipaddress.IPv6Network(addrs[0] + "/64", strict=False),
                         ipaddress.IPv6Network(addrs[1] + "/64", strict=False),
                         "one network, one slice")
        for a in addrs:
            self.assert_pings(a)
        taps = [lv.taps_of(n)[m] for n, m in zip(names, macs)]
        self.assertTrue(virt.reply_reaches(addrs[0], addrs[1], taps[0]),
                        "guest 2's answer to guest 1 never reached guest 1's link")
        self.assertTrue(virt.reply_reaches(addrs[1], addrs[0], taps[1]),
                        "guest 1's answer to guest 2 never reached guest 2's link")

        # libvirtd restart with both running: the reconnect path must keep them served
        since = time.time_ns()
        lv.stop_libvirtd()
        restart_s = lv.start_libvirtd()
        virt.wait_for(lambda: len([r for r in lv.hooks.records(since)
                                   if r["argv"][1:3] == ["reconnect", "begin"]]) >= 2,
                      60, 0.2, "reconnect begin for both domains")
        recs = [r for r in lv.hooks.records(since) if r["argv"][1:3] == ["reconnect", "begin"]]
        for r in recs:
            self.assertEqual(r["rc"], 0, "reconnect of %s: %s" % (r["argv"][0], r["stderr"]))
        for n in names:
            self.assertIn("running", lv.virsh("domstate", n).stdout)
        for a in addrs:
            self.assert_pings(a)
        # dnsmasq still serves: a new DHCPv6 exchange works after the restart
        self.destroy(names[0])
        lv.start_domain(names[0])
        self.assertEqual(consoles[0].wait_ready(), [addrs[0]], "start after libvirtd restart")
        self.assert_pings(addrs[0])
        virt.log("libvirtd restarted in %.1f s with 2 guests running" % restart_s)

    def test_broken_config_aborts_start_with_a_clear_message(self):
        lv, name = virt.LV, RUN + "-c"
        self.addCleanup(self.undefine, name)
        self.addCleanup(lv.write_config)
        lv.define(name, [("bridge", BR, lv.mac(4))])
        before = len(lv.leases())
        for raw, want in (("{\"interfaces\": [", lv.conf),
                          ('{"interfaces": [{"match": {"bridge": "%s"}, "name": "%s", '
                           '"sliceLength": 200}]}' % (BR, NET), "sliceLength")):
            lv.write_config(raw=raw)
            p = lv.start_domain(name, check=False)
            self.assertNotEqual(p.returncode, 0, "virsh start succeeded with a broken config")
            self.assertIn("hook script execution failed", p.stderr.lower())
            self.assertIn(want, p.stderr)
            virt.log("broken config: virsh start says: ...%s" % p.stderr.strip().splitlines()[-1][-160:])
            self.assertNotIn("running", lv.virsh("domstate", name).stdout)
        self.assertEqual(len(lv.leases()), before, "a failed start leaves no lease")

    def test_start_time_with_and_without_the_hook(self):
        """Printed, not asserted: virsh start (which returns once QEMU runs, after the
        prepare/start/started hooks) of a domain on a plain bridge with no hook installed
        at all, the same with the hook installed (it runs and passes through), and a domain
        whose interface v6pd manages, with a bare exec wrapper; then each hook call's time
        from the recording wrapper."""
        lv = virt.LV
        plain_br = lv.bridge("ub")
        managed, unmanaged = RUN + "-tm", RUN + "-tu"
        for n in (managed, unmanaged):
            self.addCleanup(self.undefine, n)
        lv.define(managed, [("bridge", BR, lv.mac(5))])
        lv.define(unmanaged, [("bridge", plain_br, lv.mac(6))])
        rounds = 7

        def time_start(n):
            t0 = time.monotonic()
            lv.start_domain(n)
            took = time.monotonic() - t0
            self.destroy(n)
            return took

        self.addCleanup(lv.restart_libvirtd)
        lv.restart_libvirtd(hooks=False)
        no_hook = [time_start(unmanaged) for _ in range(rounds)]
        lv.restart_libvirtd()
        times = {managed: [], unmanaged: []}
        lv.hooks.plain(True)
        self.addCleanup(lv.hooks.plain, False)
        for _ in range(rounds):
            for n in (unmanaged, managed):
                times[n].append(time_start(n))
        lv.hooks.plain(False)
        since = time.time_ns()
        for _ in range(3):
            lv.start_domain(managed)
            self.destroy(managed)
        per = {}
        for r in lv.hooks.records(since):
            per.setdefault(" ".join([r["kind"]] + r["argv"][1:3]), []).append(
                (r["t1"] - r["t0"]) / 1e6)
            self.assertEqual(r["rc"], 0, r["stderr"])
        med_m, med_u = statistics.median(times[managed]), statistics.median(times[unmanaged])
        med_0 = statistics.median(no_hook)
        virt.log("virsh start, median of %d: no hook installed %.0f ms; hook installed, "
                 "interface not managed %.0f ms; managed bridge %.0f ms: the hook adds "
                 "%+.0f ms to a managed start (%+.0f ms to an unmanaged one)" % (
                     rounds, med_0 * 1000, med_u * 1000, med_m * 1000,
                     (med_m - med_0) * 1000, (med_u - med_0) * 1000))
        for k, v in sorted(per.items()):
            virt.log("hook %-26s median %.1f ms, max %.1f ms (n=%d, incl. fork+exec)" % (
                k, statistics.median(v), max(v), len(v)))
        on_start = [k for k in per if k.split()[1] in ("prepare", "start", "started")]
        virt.log("hook calls on the path of one virsh start (%s): %.1f ms in all (medians); "
                 "virsh start itself varies by more than that here" % (
                     ", ".join(sorted(on_start)),
                     sum(statistics.median(per[k]) for k in on_start)))


if __name__ == "__main__":
    virt.main()
