#!/usr/bin/env python3
"""Renumbering driven by a real prefix delegation (label real-client).

Kea 2.2 in a server netns delegates a /56 to dhcpcd (then, in the second test, to ISC
dhclient) in the lab's host netns; the client runs the shipped hook (dhcp-hooks/), pointed at
this build's v6pdctl and the lab's store by a wrapper, which feeds `v6pdctl prefix
from-dhcp-env`. Containers are attached by the real v6pd plugin (bridge mode, and routed mode
with ndpProxy on the uplink), published in DNS through dnsmasq --hostsdir. Then Kea is
restarted with another pool, as an ISP that renumbers; at the client's next Renew its hook
fires and every container, without a restart, has the new prefix with the same IID, answers
there, keeps its old address deprecated for renumberGrace (5 s here) and then loses it; the
bridge's gateway, the host routes and the proxy NDP entries follow, old ones drain, and DNS
answers the new address.
"""
import ipaddress
import json
import os
import re
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import rnlab  # noqa: E402
from rnlab import ct  # noqa: E402
import dnsservers as ds  # noqa: E402

ZONE = "pd.test"
GRACE = 5


def gw_of(addr):
    """The ::1 of the /64 addr is in: the bridge's global gateway."""
    return str(ipaddress.IPv6Network(f"{addr}/64", strict=False).network_address + 1)


class Base:
    client = None       # rnlab.Dhcpcd or rnlab.Dhclient
    tools = ()

    def setUp(self):
        ct.require_root()
        missing = rnlab.missing_tools("kea-dhcp6", "dnsmasq", "dig", "ping", *self.tools)
        if missing:
            raise RuntimeError(f"not installed: {', '.join(missing)} (scripts/deps.sh test)")
        self.t0 = time.monotonic()
        self.lab = rnlab.RenumberLab(self, grace=f"{GRACE}s")
        self.work = ct.tmp_root()
        os.chmod(self.work, 0o755)          # dnsmasq reads the hosts dir as nobody
        self.srv = rnlab.PDServer(self.lab, self.work)
        self.dns = ds.Dnsmasq(self.work, ZONE, netns=self.lab.host.name)
        self.addCleanup(self.dns.stop)
        self.dns.start()

    def tearDown(self):
        print(f"\n[{self.id()}: {time.monotonic() - self.t0:.1f} s]", file=sys.stderr)

    def prefix(self):
        return self.lab.show()["prefix"]

    def wait_prefix(self, want, timeout):
        """Until the hook has run v6pdctl to its end with want: it prints the prefix once
        the renumbering is done (the store has it before)."""
        rnlab.wait_for(lambda: re.search(f": prefix {re.escape(want)}( |$)",
                                         self.pd.hook_log(), re.M), timeout,
                       f"v6pd's prefix {want} (hook log:\n{self.pd.hook_log()[-3000:]})")
        self.assertEqual(self.prefix(), want)

    def add(self, conf, name):
        ns = self.lab.netns()
        res, cid = self.lab.add(conf, ns, args=f"K8S_POD_NAME={name}")
        addr, plen = ct.addr_of(res)
        return {"name": name, "ns": ns, "cid": cid, "addr": addr, "plen": plen,
                "ifindex": ns.link("eth0")["ifindex"]}

    def assert_dns(self, name, addr):
        rnlab.wait_for(lambda: self.dns.query("AAAA", f"{name}.{ZONE}.") == [addr], 5,
                       f"AAAA {name}.{ZONE} = {addr}")

    def proxies(self):
        return {n["dst"] for n in self.lab.host.ip("-6", "neigh", "show", "proxy", "dev",
                                                   rnlab.UPLINK)}

    def test_renumber_through_the_hook(self):
        lab = self.lab
        old_p, new_p = rnlab.prefix_of(rnlab.POOL_A), rnlab.prefix_of(rnlab.POOL_B)
        self.srv.start(rnlab.POOL_A)
        self.pd = self.client(lab, self.work)
        self.pd.start()
        self.wait_prefix(old_p, 20)
        dns = {"zone": ZONE, "ttl": 60, "hostsDir": self.dns.hostsdir}
        web = lab.net_conf(lab.id + "-web", mode="bridge", dns=dns)
        edge = lab.net_conf(lab.id + "-edge", mode="routed", ndpProxy=rnlab.UPLINK, dns=dns)
        cs = [self.add(web, "web1"), self.add(web, "web2"), self.add(edge, "edge1")]
        for c in cs:
            self.assertTrue(ct.in_prefix(c["addr"], old_p), c)
            self.assertTrue(lab.host.ping(c["addr"]), c)
            self.assert_dns(c["name"], c["addr"])
        self.assertIn(cs[2]["addr"], self.proxies())
        bridge = web["bridge"] if "bridge" in web else "v6pd-" + web["name"][:10]
        old_gw = gw_of(cs[0]["addr"])

        # the ISP renumbers: the client's next Renew brings the new prefix (and, for dhcpcd,
        # the old one withdrawn), the hook runs v6pdctl prefix from-dhcp-env
        self.srv.restart(rnlab.POOL_B)
        t_change = time.monotonic()
        self.wait_prefix(new_p, 30)
        print(f"\n[{self.client.kind}: new prefix in v6pd {time.monotonic() - t_change:.1f} s "
              "after Kea restarted]", file=sys.stderr)
        self.assertRegex(self.pd.hook_log(), f"prefix {new_p} \\(was {old_p}\\)")
        for c in cs:
            new = rnlab.moved(c["addr"], old_p, new_p)
            self.assertEqual(rnlab.iid_of(new), rnlab.iid_of(c["addr"]))
            c["new"] = new
            addrs = c["ns"].addrs("eth0")
            a = addrs.get(f"{new}/{c['plen']}")
            self.assertIsNotNone(a, f"{c['name']}: {new} missing: {addrs}")
            self.assertFalse(a.get("deprecated"), a)
            old = addrs.get(f"{c['addr']}/{c['plen']}")
            if old is not None:     # gone only once the grace is over
                self.assertTrue(old.get("deprecated"), old)
                self.assertEqual(old["preferred_life_time"], 0, old)
            # the same interface, never restarted
            self.assertEqual(c["ns"].link("eth0")["ifindex"], c["ifindex"])
            self.assertTrue(lab.host.ping(new), f"{c['name']} at {new}")
            self.assert_dns(c["name"], new)
        new_gw = gw_of(cs[0]["new"])
        br = lab.host.addrs(bridge)
        self.assertIn(f"{new_gw}/64", br)
        self.assertIn(cs[2]["new"], self.proxies())
        routes = {r["dst"]: r for r in lab.host.routes()}
        self.assertIn(cs[2]["new"], routes)
        shown = lab.show()
        self.assertEqual(shown["pending"], 0, shown)
        self.assertTrue(any(d["from"] == old_p for d in shown["draining"]), shown)
        text = lab.v6pdctl("prefix", "show").stdout
        self.assertIn(f"draining {old_p}", text)

        # after the grace: the old addresses are gone (the kernel's timers), the old proxy
        # entry too (drained by the hook's next run, at the next Renew)
        def old_gone():
            for c in cs:
                if f"{c['addr']}/{c['plen']}" in c["ns"].addrs("eth0"):
                    return False
            return f"{old_gw}/64" not in lab.host.addrs(bridge)
        rnlab.wait_for(old_gone, GRACE + 3, "old addresses gone")
        rnlab.wait_for(lambda: cs[2]["addr"] not in self.proxies(), 25,
                       "old proxy NDP entry drained")
        rnlab.wait_for(lambda: lab.show()["draining"] == [], 25, "nothing left draining")
        for c in cs:
            self.assertTrue(lab.host.ping(c["new"]), c)
        # the same prefix again changes nothing
        out = json.loads(lab.v6pdctl("--json", "prefix", "set", new_p).stdout)
        self.assertEqual(out, {"prefix": new_p, "previous": new_p, "changed": False})


class Dhcpcd(Base, unittest.TestCase):
    client = rnlab.Dhcpcd
    tools = ("dhcpcd",)


class Dhclient(Base, unittest.TestCase):
    client = rnlab.Dhclient
    tools = ("dhclient",)


if __name__ == "__main__":
    unittest.main(verbosity=2)
