#!/usr/bin/env python3
"""v6pd in the IPAM role, chained under the reference `bridge` plugin from /usr/lib/cni
(`"ipam": {"type": "v6pd"}`, isGateway): the container gets the lease's address, the bridge
the slice's ::1, the host netns reaches the container; CHECK and DEL go through the bridge
plugin and DEL releases the lease. Also the IPAM result itself in every cniVersion (its
"dns" too), and GC in the IPAM role."""
import ipaddress
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cnitest  # noqa: E402
from cnitest import Lab, check_add_result  # noqa: E402

BRIDGE = os.path.join(cnitest.REF_CNI, "bridge")


def setUpModule():
    cnitest.require_root()
    if not os.access(BRIDGE, os.X_OK):
        raise unittest.SkipTest(f"{BRIDGE} missing (apt-get install containernetworking-plugins)")


def chain_conf(lab, version="1.0.0", **ipam):
    c = {"cniVersion": version, "name": lab.net, "type": "bridge", "bridge": lab.name("br"),
         "isGateway": True,
         "ipam": dict({"type": "v6pd", "prefix": lab.prefix, "stateDir": lab.state}, **ipam)}
    return c


class ChainedUnderBridge(unittest.TestCase):
    def chain(self, version):
        lab = Lab(self)
        conf = chain_conf(lab, version)
        path = f"{cnitest.BIN}:{cnitest.REF_CNI}"
        args = "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0"
        ns = lab.netns()
        r = lab.cni("ADD", conf, ns, "c1", args=args, path=path, plugin=BRIDGE)
        res = lab.ok(r)
        self.assertEqual(res["cniVersion"], version)
        addr, plen = cnitest.addr_of(res)
        lease = lab.lease_for("c1")
        self.assertEqual((lease["address"], lease["state"], lease["key"]),
                         (addr, "active", "default/web-0"))
        slice_ = ipaddress.IPv6Network(lease["slice"])
        gw = cnitest.slice_gw(slice_)
        self.assertEqual(plen, 64)
        self.assertEqual(res["ips"][0]["gateway"], gw)
        # the kernel: the container has the lease, the bridge the slice's ::1 (isGateway)
        self.assertIn(f"{addr}/64", ns.addrs("eth0"))
        br = conf["bridge"]
        self.assertIn(f"{gw}/64", lab.host.addrs(br))
        self.assertIn({"dst": "default", "gateway": gw},
                      [{"dst": x["dst"], "gateway": x.get("gateway")}
                       for x in ns.routes("default")])
        # the reference plugin leaves DAD on: wait for it on both sides, then ping
        self.assertTrue(ns.wait_no_tentative("eth0"), ns.addrs("eth0"))
        self.assertTrue(lab.host.wait_no_tentative(br), lab.host.addrs(br))
        self.assertTrue(lab.host.ping(addr), f"host -> {addr}")
        self.assertTrue(ns.ping(gw), f"container -> {gw}")
        # CHECK through the bridge plugin (which asks v6pd for its part)
        r = lab.cni("CHECK", dict(conf, prevResult=res), ns, "c1", args=args, path=path,
                    plugin=BRIDGE)
        self.assertEqual(r.rc, 0, r)
        # DEL through the bridge plugin releases the lease
        r = lab.cni("DEL", dict(conf, prevResult=res), ns, "c1", args=args, path=path,
                    plugin=BRIDGE)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(lab.lease_for("c1")["state"], "reserved")
        self.assertIsNone(ns.link("eth0"))
        # the pod comes back in a new sandbox: same address
        ns2 = lab.netns()
        res2 = lab.ok(lab.cni("ADD", conf, ns2, "c2", args=args, path=path, plugin=BRIDGE))
        self.assertEqual(cnitest.addr_of(res2), (addr, 64))
        self.assertIn(f"{addr}/64", ns2.addrs("eth0"))
        self.assertTrue(ns2.wait_no_tentative("eth0"))
        self.assertTrue(lab.host.ping(addr), f"host -> {addr} after re-ADD")
        r = lab.cni("DEL", conf, ns2, "c2", args=args, path=path, plugin=BRIDGE)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(lab.lease_for("c2")["state"], "reserved")

    def test_chain_1_0_0(self):
        self.chain("1.0.0")

    def test_chain_0_4_0(self):
        self.chain("0.4.0")


class IpamResult(unittest.TestCase):
    def test_every_version(self):
        lab = Lab(self)
        for v in ("0.4.0", "1.0.0", "1.1.0"):
            with self.subTest(version=v):
                conf = chain_conf(lab, v)
                ns = lab.netns()
                before = lab.snapshot(ns)
                r = lab.cni("ADD", conf, ns, "ipam-" + v.replace(".", ""))
                res = lab.ok(r)
                addr = check_add_result(self, lab, res, v, ns, "eth0", "ipam")
                lease = lab.lease_for("ipam-" + v.replace(".", ""))
                self.assertEqual(lease["address"], addr)
                gw = cnitest.slice_gw(lease["slice"])
                self.assertEqual(res["ips"][0]["gateway"], gw)
                self.assertEqual(res["routes"], [{"dst": "::/0", "gw": gw}])
                # the IPAM role touches no link: bridge, host, container unchanged
                self.assertEqual(lab.snapshot(ns)["host"], before["host"])
                self.assertEqual(lab.snapshot(ns)["ns"], before["ns"])
                r = lab.cni("DEL", conf, ns, "ipam-" + v.replace(".", ""))
                self.assertEqual(r.rc, 0, r)
                self.assertEqual(lab.lease_for("ipam-" + v.replace(".", ""))["state"],
                                 "reserved")

    def test_dns(self):
        """The IPAM result's "dns" comes from the v6pd settings' "dns" ("ipam.dns"): CNI's
        keys, and the zone v6pd publishes in as default domain and first search domain. (The
        reference bridge plugin passes an IPAM result's dns on only from v1.2.0, PR #733;
        Debian 12's 1.1.1 puts its own netconf's "dns" in its result.)"""
        lab = Lab(self)
        hosts = os.path.join(lab.state, "hosts")
        os.mkdir(hosts)
        dns = {"nameservers": ["2001:db8::53"], "search": ["corp.example"],
               "zone": "pods.example", "hostsDir": hosts, "ptr": False}
        want = {"nameservers": ["2001:db8::53"], "domain": "pods.example",
                "search": ["pods.example", "corp.example"]}
        ns = lab.netns()
        for v in ("0.4.0", "1.0.0", "1.1.0"):
            with self.subTest(version=v):
                conf = chain_conf(lab, v, dns=dns)
                cid = "ipam" + v.replace(".", "")
                res = lab.ok(lab.cni("ADD", conf, ns, cid, args="K8S_POD_NAME=" + cid))
                check_add_result(self, lab, res, v, ns, "eth0", "ipam")
                self.assertEqual(res.get("dns"), want, res)
                self.assertEqual(lab.cni("DEL", conf, ns, cid).rc, 0)
        # a bad nameserver: refused by name, before anything is leased
        bad = chain_conf(lab, "1.0.0", dns={"nameservers": ["2001:db8::g"]})
        lab.fails(lab.cni("ADD", bad, ns, "c3"), 7, '"dns.nameservers"[0]', '"2001:db8::g"')
        self.assertIsNone(lab.lease_for("c3"))

    def test_ipam_check_and_gc(self):
        lab = Lab(self)
        conf = chain_conf(lab, "1.1.0")
        ns = lab.netns()
        for cid in ("keep", "drop"):
            lab.ok(lab.cni("ADD", conf, ns, cid))
        self.assertEqual(lab.cni("CHECK", conf, ns, "keep").rc, 0)
        lab.fails(lab.cni("CHECK", conf, ns, "nope"), 104, "nope")
        gc = dict(conf, **{"cni.dev/valid-attachments": [{"containerID": "keep",
                                                          "ifname": "eth0"}]})
        r = lab.cni("GC", gc)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(lab.lease_for("keep")["state"], "active")
        self.assertEqual(lab.lease_for("drop")["state"], "reserved")


if __name__ == "__main__":
    cnitest.main()
