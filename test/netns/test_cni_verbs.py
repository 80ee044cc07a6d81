#!/usr/bin/env python3
"""Every CNI verb of the real v6pd binary, in both modes and every cniVersion, in real
network namespaces: ADD's result shape and its "dns", VERSION with Podman's dummy
environment, STATUS, CHECK against hand-made breakage, DEL's idempotence, GC of attachments
not listed."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cnitest  # noqa: E402
from cnitest import Lab, check_add_result  # noqa: E402

VERSIONS = ("0.4.0", "1.0.0", "1.1.0")
MODES = ("bridge", "routed")


def setUpModule():
    cnitest.require_root()


class AddCheckDelEveryVersion(unittest.TestCase):
    def test_every_verb_mode_and_version(self):
        lab = Lab(self)
        for mode in MODES:
            for v in VERSIONS:
                with self.subTest(mode=mode, version=v):
                    self.one(lab, mode, v)

    def one(self, lab, mode, v):
        conf = lab.conf(v, mode=mode, name=f"{lab.net}-{mode}", mtu=1420)
        ns = lab.netns()
        before = set(lab.host_veths())
        res, cid = lab.add(conf, ns)
        addr = check_add_result(self, lab, res, v, ns, "eth0", mode, mtu=1420)
        lease = lab.lease_for(cid)
        self.assertEqual((lease["address"], lease["state"], lease["netns"]),
                         (addr, "active", ns.path))
        self.assertTrue(cnitest.in_prefix(addr, lab.prefix), addr)
        # CHECK and DEL get the result back as prevResult, in the same version
        withprev = dict(conf, prevResult=res)
        r = lab.cni("CHECK", withprev, ns, cid)
        self.assertEqual((r.rc, r.stdout.strip()), (0, ""), r)
        r = lab.cni("DEL", withprev, ns, cid)
        self.assertEqual((r.rc, r.stdout.strip()), (0, ""), r)
        self.assertEqual(set(lab.host_veths()), before)
        self.assertIsNone(ns.link("eth0"))
        self.assertEqual(lab.lease_for(cid)["state"], "reserved")

    def test_version_with_podman_dummy_env(self):
        lab = Lab(self)
        for v in ("1.0.0", "1.1.0", "0.4.0"):
            r = lab.cni("VERSION", None, "dummy", None, "dummy", path="dummy",
                        stdin=json.dumps({"cniVersion": v}))
            self.assertEqual(r.rc, 0, r)
            self.assertEqual(r.json["cniVersion"], v, r)
            for want in VERSIONS:
                self.assertIn(want, r.json["supportedVersions"], r)
        # without any of the attachment variables at all
        r = lab.cni("VERSION", None, None, None, None, stdin='{"cniVersion":"1.1.0"}')
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.json["cniVersion"], "1.1.0", r)

    def test_check_in_ipam_role_and_prev_result_mismatch(self):
        lab = Lab(self)
        conf = lab.conf()
        ns = lab.netns()
        res, cid = lab.add(conf, ns)
        bad = json.loads(json.dumps(res))
        bad["ips"][0]["address"] = "2001:db8:ffff::1/64"
        r = lab.cni("CHECK", dict(conf, prevResult=bad), ns, cid)
        lab.fails(r, 104, "prevResult", res["ips"][0]["address"])


class RepeatedAdd(unittest.TestCase):
    def test_add_twice_replaces_the_attachment(self):
        # a runtime retrying an ADD (or an ADD after one that was killed) without a DEL
        lab = Lab(self)
        for mode in MODES:
            with self.subTest(mode=mode):
                conf = lab.conf(mode=mode, name=f"{lab.net}-{mode}")
                ns = lab.netns()
                first, cid = lab.add(conf, ns)
                again, _ = lab.add(conf, ns, cid)
                self.assertEqual(again["ips"], first["ips"])
                check_add_result(self, lab, again, "1.1.0", ns, "eth0", mode)
                self.assertEqual(len([l for l in lab.host_veths().values()
                                      if l.get("ifalias", "").endswith(":" + cid)]), 1)
                self.assertEqual(lab.cni("CHECK", dict(conf, prevResult=again), ns, cid).rc, 0)
                self.assertEqual(lab.cni("DEL", conf, ns, cid).rc, 0)


class Status(unittest.TestCase):
    def status(self, lab, conf):
        return lab.cni("STATUS", conf, None, None, None)

    def test_prefix_in_netconf(self):
        lab = Lab(self)
        r = self.status(lab, lab.conf())
        self.assertEqual((r.rc, r.stdout.strip()), (0, ""), r)

    def test_no_prefix_then_host_prefix(self):
        lab = Lab(self)
        conf = lab.conf(prefix=None)
        r = self.status(lab, conf)
        lab.fails(r, 50, "prefix")
        lab.ctl("prefix", "set", lab.prefix)
        r = self.status(lab, conf)
        self.assertEqual((r.rc, r.stdout.strip()), (0, ""), r)

    def test_state_dir_unusable(self):
        lab = Lab(self)
        path = os.path.join(lab.state, "afile")
        with open(path, "w") as f:
            f.write("not a directory\n")
        lab.fails(self.status(lab, lab.conf(stateDir=path)), 50, path)
        # a store file that is not a database
        bad = os.path.join(lab.state, "bad")
        os.mkdir(bad)
        with open(os.path.join(bad, "leases.db"), "w") as f:
            f.write("garbage " * 200)
        lab.fails(self.status(lab, lab.conf(stateDir=bad)), 50, bad)


class Check(unittest.TestCase):
    """CHECK passes on a good attachment, then fails precisely for each thing removed."""

    def attach(self, lab, mode):
        conf = lab.conf(mode=mode, name=f"{lab.net}-{mode}")
        ns = lab.netns()
        res, cid = lab.add(conf, ns)
        conf = dict(conf, prevResult=res)
        r = lab.cni("CHECK", conf, ns, cid)
        self.assertEqual(r.rc, 0, r)
        host = [i["name"] for i in res["interfaces"] if i["name"].startswith("v6pd")
                and not i["name"].startswith("v6pd-")][0]
        return conf, ns, cid, res["ips"][0]["address"], host

    def broken(self, lab, conf, ns, cid, *needles):
        r = lab.cni("CHECK", conf, ns, cid)
        lab.fails(r, 104, *needles)

    def test_each_breakage(self):
        lab = Lab(self)
        for mode in MODES:
            with self.subTest(mode=mode, broken="address"):
                conf, ns, cid, addr, host = self.attach(lab, mode)
                ns.ipc("addr", "del", addr, "dev", "eth0")
                self.broken(lab, conf, ns, cid, addr, "missing", "eth0")
            with self.subTest(mode=mode, broken="default route"):
                conf, ns, cid, addr, host = self.attach(lab, mode)
                ns.ipc("-6", "route", "del", "default")
                self.broken(lab, conf, ns, cid, "default route", "fe80::1", "missing")
            with self.subTest(mode=mode, broken="container link moved out"):
                conf, ns, cid, addr, host = self.attach(lab, mode)
                other = lab.netns()
                ns.ipc("link", "set", "eth0", "netns", other.name)
                self.broken(lab, conf, ns, cid, '"eth0"', "missing", ns.path)
            with self.subTest(mode=mode, broken="container link down"):
                conf, ns, cid, addr, host = self.attach(lab, mode)
                ns.ipc("link", "set", "eth0", "down")
                self.broken(lab, conf, ns, cid, '"eth0"', "down")
            with self.subTest(mode=mode, broken="host veth deleted"):
                conf, ns, cid, addr, host = self.attach(lab, mode)
                lab.host.ipc("link", "del", host)
                self.broken(lab, conf, ns, cid, host, "missing")
            with self.subTest(mode=mode, broken="gateway fe80::1 removed"):
                conf, ns, cid, addr, host = self.attach(lab, mode)
                gwdev = f"v6pd-{conf['name']}"[:15] if mode == "bridge" else host
                lab.host.ipc("addr", "del", "fe80::1/64", "dev", gwdev)
                self.broken(lab, conf, ns, cid, "fe80::1", gwdev, "missing")
        with self.subTest(mode="bridge", broken="host veth off the bridge"):
            conf, ns, cid, addr, host = self.attach(lab, "bridge")
            lab.host.ipc("link", "set", host, "nomaster")
            self.broken(lab, conf, ns, cid, host, "not on bridge")
        with self.subTest(mode="routed", broken="host route"):
            conf, ns, cid, addr, host = self.attach(lab, "routed")
            lab.host.ipc("-6", "route", "del", addr, "dev", host)
            self.broken(lab, conf, ns, cid, "host route", addr, host, "missing")
        with self.subTest(broken="no lease"):
            conf, ns, cid, addr, host = self.attach(lab, "bridge")
            r = lab.cni("CHECK", conf, ns, "never-added")
            lab.fails(r, 104, "never-added")


class ResultDns(unittest.TestCase):
    """The result's "dns" (SPEC.md "DNS"): the netconf's CNI keys passed through, checked; a
    network publishing in a zone has it as the default domain and first search domain."""

    CNI_DNS = {"nameservers": ["2001:db8::53", "192.0.2.53"], "domain": "corp.example",
               "search": ["corp.example", "example.org"], "options": ["ndots:2", "edns0"]}

    def dns_of(self, lab, conf, version, mode="bridge"):
        ns = lab.netns()
        res, cid = lab.add(conf, ns, args=f"K8S_POD_NAME=web{version[0]}")
        check_add_result(self, lab, res, version, ns, "eth0", mode)
        self.assertEqual(lab.cni("CHECK", dict(conf, prevResult=res), ns, cid).rc, 0)
        self.assertEqual(lab.cni("DEL", conf, ns, cid).rc, 0)
        return res.get("dns")

    def test_each_case(self):
        lab = Lab(self)
        hosts = os.path.join(lab.state, "hosts")
        os.mkdir(hosts)
        zone = {"zone": "Pods.Example.COM.", "hostsDir": hosts, "ptr": False}
        cases = (
            # name, dns, version, want (None: no "dns" key at all)
            ("none 1.1.0", None, "1.1.0", {}),
            ("none 1.0.0", None, "1.0.0", {}),
            ("none 0.4.0", None, "0.4.0", None),
            ("empty 0.4.0", {}, "0.4.0", None),
            ("cni keys 1.1.0", self.CNI_DNS, "1.1.0", self.CNI_DNS),
            ("cni keys 0.4.0", self.CNI_DNS, "0.4.0", self.CNI_DNS),
            ("zone", zone, "1.1.0", {"domain": "pods.example.com",
                                     "search": ["pods.example.com"]}),
            ("zone 0.4.0", zone, "0.4.0", {"domain": "pods.example.com",
                                           "search": ["pods.example.com"]}),
            ("zone and cni keys", dict(zone, nameservers=["2001:db8::53"],
                                       search=["example.org", "pods.example.com"],
                                       options=["rotate"]), "1.1.0",
             {"nameservers": ["2001:db8::53"], "domain": "pods.example.com",
              "search": ["pods.example.com", "example.org"], "options": ["rotate"]}),
            ("zone, domain given", dict(zone, domain="corp.example"), "1.0.0",
             {"domain": "corp.example", "search": ["pods.example.com"]}),
        )
        for name, dns, version, want in cases:
            with self.subTest(case=name):
                conf = lab.conf(version, dns=dns)
                got = self.dns_of(lab, conf, version)
                self.assertEqual(got, want)
        with self.subTest(case="routed"):
            conf = lab.conf(mode="routed", name=lab.net + "-r", dns=self.CNI_DNS)
            self.assertEqual(self.dns_of(lab, conf, "1.1.0", "routed"), self.CNI_DNS)

    def test_refused(self):
        lab = Lab(self)
        cases = (
            ({"nameservers": ["2001:db8::53", "10.0.0.300"]},
             ['"dns.nameservers"[1]', '"10.0.0.300"', "not an IPv4 or IPv6 address"]),
            ({"nameservers": ["fe80::1%eth0"]}, ['"dns.nameservers"[0]', "fe80::1%eth0"]),
            ({"nameservers": "2001:db8::53"}, ['"dns.nameservers"', "list of strings"]),
            ({"nameservers": [53]}, ['"dns.nameservers"[0]', "must be a string"]),
            ({"domain": 5}, ['"dns.domain"', "must be a string"]),
            ({"domain": "a..b"}, ['"dns.domain"', "a..b"]),
            ({"search": ["ok.example", "bad name"]}, ['"dns.search"[1]', "bad name"]),
            ({"options": ["ndots:2", "a b"]}, ['"dns.options"[1]', '"a b"', "spaces"]),
            ({"options": [True]}, ['"dns.options"[0]', "must be a string"]),
            ({"nameserver": ["2001:db8::53"]}, ['"dns.nameserver"', "unknown key"]),
            # v6pd's own keys keep their types, with or without CNI's beside them
            ({"ttl": 60, "nameservers": ["2001:db8::53"]}, ['"dns.zone"', "missing"]),
            ({"zone": "z.example", "ttl": "60"}, ['"dns.ttl"', "must be an integer"]),
            ({"zone": 5, "domain": "x.example"}, ['"dns.zone"', "must be a string"]),
        )
        for dns, needles in cases:
            with self.subTest(dns=dns):
                ns = lab.netns()
                before = lab.snapshot(ns)
                r = lab.cni("ADD", lab.conf(dns=dns), ns, "bad")
                lab.fails(r, 7, *needles)
                self.assertEqual(lab.snapshot(ns), before)


class Del(unittest.TestCase):
    def attach(self, lab, mode="bridge"):
        conf = lab.conf(mode=mode, name=f"{lab.net}-{mode}")
        ns = lab.netns()
        res, cid = lab.add(conf, ns)
        self.assertEqual(len(lab.host_veths()), 1)
        return conf, ns, cid, res

    def gone(self, lab, cid):
        self.assertEqual(lab.host_veths(), {})
        self.assertEqual(lab.lease_for(cid)["state"], "reserved")

    def test_twice(self):
        lab = Lab(self)
        for mode in MODES:
            conf, ns, cid, res = self.attach(lab, mode)
            for _ in range(2):
                r = lab.cni("DEL", dict(conf, prevResult=res), ns, cid)
                self.assertEqual((r.rc, r.stdout.strip()), (0, ""), r)
                self.gone(lab, cid)
                self.assertIsNone(ns.link("eth0"))

    def test_netns_gone(self):
        lab = Lab(self)
        for mode in MODES:
            conf, ns, cid, res = self.attach(lab, mode)
            cnitest.sh("ip", "netns", "del", ns.name)
            r = lab.cni("DEL", dict(conf, prevResult=res), ns, cid)
            self.assertEqual((r.rc, r.stdout.strip()), (0, ""), r)
            self.gone(lab, cid)

    def test_empty_netns(self):
        # containerd's DEL: CNI_NETNS empty while the namespace may still exist
        lab = Lab(self)
        for mode in MODES:
            conf, ns, cid, res = self.attach(lab, mode)
            r = lab.cni("DEL", dict(conf, prevResult=res), "", cid)
            self.assertEqual((r.rc, r.stdout.strip()), (0, ""), r)
            self.gone(lab, cid)
            self.assertIsNone(ns.link("eth0"))
            if mode == "routed":
                self.assertEqual(lab.host.routes(res["ips"][0]["address"]), [])

    def test_without_prev_result(self):
        lab = Lab(self)
        for mode in MODES:
            conf, ns, cid, res = self.attach(lab, mode)
            r = lab.cni("DEL", conf, ns, cid)
            self.assertEqual((r.rc, r.stdout.strip()), (0, ""), r)
            self.gone(lab, cid)
            self.assertIsNone(ns.link("eth0"))

    def test_never_added(self):
        lab = Lab(self)
        ns = lab.netns()
        r = lab.cni("DEL", lab.conf(), ns, "nothing-here")
        self.assertEqual((r.rc, r.stdout.strip()), (0, ""), r)
        self.assertEqual(lab.leases(), [])


class GC(unittest.TestCase):
    def test_releases_unlisted(self):
        lab = Lab(self)
        for mode in MODES:
            with self.subTest(mode=mode):
                conf = lab.conf(mode=mode, name=f"{lab.net}-{mode}")
                keep_ns, drop_ns = lab.netns(), lab.netns()
                keep, kcid = lab.add(conf, keep_ns)
                drop, dcid = lab.add(conf, drop_ns)
                self.assertEqual(len(lab.host_veths()), 2)
                gc = dict(conf, **{"cni.dev/valid-attachments": [
                    {"containerID": kcid, "ifname": "eth0"}]})
                r = lab.cni("GC", gc)
                self.assertEqual((r.rc, r.stdout.strip()), (0, ""), r)
                self.assertEqual(lab.lease_for(dcid)["state"], "reserved")
                self.assertEqual(lab.lease_for(kcid)["state"], "active")
                veths = lab.host_veths()
                self.assertEqual(len(veths), 1, veths)
                self.assertEqual(list(veths.values())[0].get("ifalias"),
                                 f"v6pd:{conf['name']}:eth0:{kcid}")
                self.assertIsNone(drop_ns.link("eth0"))
                self.assertIsNotNone(keep_ns.link("eth0"))
                if mode == "routed":
                    self.assertEqual(lab.host.routes(drop["ips"][0]["address"]), [])
                r = lab.cni("CHECK", dict(conf, prevResult=keep), keep_ns, kcid)
                self.assertEqual(r.rc, 0, r)
                r = lab.cni("DEL", conf, keep_ns, kcid)
                self.assertEqual(r.rc, 0, r)

    def test_gc_removes_unnamed_host_ends_of_killed_adds(self):
        # an ADD killed between creating its veth and setting the alias leaves a host end
        # named like ours with no alias: GC removes it; links merely similar stay
        lab = Lab(self)
        conf = lab.conf(bridge=lab.name("br"))
        ns = lab.netns()
        _, cid = lab.add(conf, ns)
        orphan, peer = "v6pd0123456789a", lab.name("op")
        keep = ["v6pd-other", "v6pd0123456789z", "v6pdabc"]
        lab.host.ipc("link", "add", orphan, "type", "veth", "peer", "name", peer, "netns",
                     ns.name)
        lab.host.ipc("link", "add", lab.name("br2"), "type", "bridge")
        for k in keep:
            lab.host.ipc("link", "add", k, "type", "veth", "peer", "name", k + "p"
                         if len(k) < 14 else lab.name("kp"))
        r = lab.cni("GC", dict(conf, **{"cni.dev/valid-attachments": [
            {"containerID": cid, "ifname": "eth0"}]}))
        self.assertEqual(r.rc, 0, r)
        links = lab.host.links()
        self.assertNotIn(orphan, links)
        self.assertIsNone(ns.link(peer))
        for k in keep:
            self.assertIn(k, links)
        self.assertEqual(len(lab.host_veths()), 1)
        self.assertEqual(lab.lease_for(cid)["state"], "active")

    def test_gc_leaves_other_networks_alone(self):
        lab = Lab(self)
        a = lab.conf(name=lab.net + "-a", bridge=lab.name("bra"))
        b = lab.conf(name=lab.net + "-b", bridge=lab.name("brb"))
        ans, bns = lab.netns(), lab.netns()
        _, acid = lab.add(a, ans)
        _, bcid = lab.add(b, bns)
        r = lab.cni("GC", dict(a, **{"cni.dev/valid-attachments": []}))
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(lab.lease_for(acid)["state"], "reserved")
        self.assertEqual(lab.lease_for(bcid)["state"], "active")
        self.assertEqual(len(lab.host_veths()), 1)
        self.assertIsNotNone(bns.link("eth0"))


if __name__ == "__main__":
    cnitest.main()
