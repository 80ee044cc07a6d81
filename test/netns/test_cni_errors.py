#!/usr/bin/env python3
"""Errors of the real v6pd binary: the CNI error JSON with the spec's code and a message
naming the field and value, and, after every failed ADD, nothing left behind: no new link
in the host netns or the container's, the store's leases as before."""
import hashlib
import ipaddress
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cnitest  # noqa: E402
from cnitest import Lab  # noqa: E402


def setUpModule():
    cnitest.require_root()


class Base(unittest.TestCase):
    def setUp(self):
        self.lab = Lab(self)
        self.ns = self.lab.netns()
        self.conf = self.lab.conf(bridge=self.lab.name("br"))

    def failed_add(self, code, *needles, conf=None, ns=None, stdin=None, **kw):
        """Runs an ADD that must fail and leave nothing; then the DEL a runtime sends after a
        failed ADD must succeed and change nothing either. Returns the error JSON."""
        lab = self.lab
        ns = ns or self.ns
        kw.setdefault("cid", "failing")
        target = kw.pop("netns", ns)
        before = lab.snapshot(ns)
        r = lab.cni("ADD", conf if conf is not None else self.conf, target, stdin=stdin, **kw)
        err = lab.fails(r, code, *needles)
        self.assertEqual(lab.snapshot(ns), before, f"a failed ADD left something: {r}")
        if stdin is None and code not in (1, 4, 6, 7, 100):
            r = lab.cni("DEL", conf if conf is not None else self.conf, target, **kw)
            self.assertEqual(r.rc, 0, r)
            self.assertEqual(lab.snapshot(ns), before)
        return err


class Decode(Base):
    def test_malformed_json(self):
        for bad in ('{"cniVersion":', "", "[1,2]", "null", '{"a":1}{', "\x00",
                    '{"cniVersion":"1.1.0","name":"n","name":"m","type":"v6pd"}'):
            with self.subTest(stdin=bad):
                err = self.failed_add(6, stdin=bad)
                self.assertEqual(err["cniVersion"], "1.1.0")


class Config(Base):
    def test_wrong_types_name_the_key(self):
        cases = [
            ({"mtu": "1500"}, '"mtu"'), ({"mtu": 100}, '"mtu" 100'),
            ({"maxLeases": "x"}, '"maxLeases"'), ({"maxLeases": 0}, '"maxLeases" 0'),
            ({"perContainerSlice": "yes"}, '"perContainerSlice"'),
            ({"sliceLength": "64"}, '"sliceLength"'), ({"sliceLength": 48}, '"sliceLength" 48'),
            ({"sliceLength": 121}, '"sliceLength" 121'),
            ({"subnetId": -1}, '"subnetId" -1'), ({"subnetId": 1.5}, '"subnetId"'),
            ({"prefix": 5}, '"prefix"'), ({"prefix": "2001:db8::/129"}, "2001:db8::/129"),
            ({"prefix": "10.0.0.0/8"}, "10.0.0.0/8"),
            ({"mode": 3}, '"mode"'), ({"mode": "nat"}, '"mode" "nat"'),
            ({"bridge": ["x"]}, '"bridge"'), ({"bridge": "a/b"}, '"bridge" "a/b"'),
            ({"bridge": "x" * 16}, '"bridge"'),
            ({"ndpProxy": 1}, '"ndpProxy"'), ({"iid": 5}, '"iid"'),
            ({"iid": "random"}, "random"), ({"retention": 7}, '"retention"'),
            ({"retention": "7 days"}, '"retention"'), ({"stateDir": "relative"}, '"stateDir"'),
            ({"stateDir": 1}, '"stateDir"'), ({"name": 7}, '"name"'),
            ({"name": "bad/name"}, "bad/name"), ({"name": None}, '"name"'),
            ({"type": "other"}, '"type" "other"'), ({"type": 1}, '"type"'),
            ({"ipam": []}, '"ipam"'),
            ({"args": {"cni": {"v6pd": {"key": 5}}}}, "args.cni.v6pd.key"),
            ({"args": {"cni": "x"}}, "args.cni"),
            ({"runtimeConfig": {"v6pd": {"key": []}}}, "runtimeConfig.v6pd.key"),
            ({"runtimeConfig": {"ips": "x"}}, "runtimeConfig.ips"),
            ({"runtimeConfig": {"ips": [5]}}, "runtimeConfig.ips"),
            ({"runtimeConfig": {"ips": ["2001:db8::zz/64"]}}, "runtimeConfig.ips"),
            ({"runtimeConfig": {"mac": "zz"}}, "runtimeConfig.mac"),
            ({"runtimeConfig": {"mac": 5}}, "runtimeConfig.mac"),
            ({"perContainerSlice": True}, '"perContainerSlice"'),  # only in routed mode
        ]
        for extra, needle in cases:
            with self.subTest(extra=extra):
                conf = dict(self.conf)
                for k, v in extra.items():
                    if v is None:
                        conf.pop(k, None)
                    else:
                        conf[k] = v
                self.failed_add(7, needle, conf=conf)

    def test_bad_cni_args_values(self):
        for args, needle in (("IP=2001:db8::zz", "IP"), ("MAC=zz:00", "MAC"),
                             ("novalue", "novalue")):
            with self.subTest(args=args):
                self.failed_add(4, needle, args=args)

    def test_unsupported_versions(self):
        for v in ("2.0.0", "0.2.0", "0.1.0", "1.1", ""):
            with self.subTest(version=v):
                self.failed_add(1, "cniVersion", conf=dict(self.conf, cniVersion=v))
        # not a string: the version cannot be decoded at all
        self.failed_add(6, "cniVersion", conf=dict(self.conf, cniVersion=1))
        conf = dict(self.conf)
        del conf["cniVersion"]
        self.failed_add(1, "cniVersion", conf=conf)

    def test_errors_answer_in_the_version_asked(self):
        for v in ("0.4.0", "1.0.0"):
            err = self.failed_add(7, '"mtu"', conf=dict(self.conf, cniVersion=v, mtu="x"))
            self.assertEqual(err["cniVersion"], v)


class Environment(Base):
    HOSTILE_CID = ["../../etc/passwd", "a;b", "a b", "-leading-dash", "x" * 256, "",
                   "a\nb", "caf\u00e9", "$(reboot)"]
    HOSTILE_IFNAME = ["a/b", "x" * 16, "", ".", "..", "eth 0", "a:b", "a%d", "e\x01h",
                      "e\tx"]
    HOSTILE_NETNS = ["relative/path", "/" + "x" * 300, "/run/netns/a\nb", "dummy",
                     "/run/netns/\x7f"]

    def test_hostile_values(self):
        for verb in ("ADD", "DEL", "CHECK"):
            for cid in self.HOSTILE_CID:
                with self.subTest(verb=verb, cid=cid):
                    self.hostile(verb, 4, "CNI_CONTAINERID", cid=cid)
            for ifname in self.HOSTILE_IFNAME:
                with self.subTest(verb=verb, ifname=ifname):
                    self.hostile(verb, 4, "CNI_IFNAME", ifname=ifname)
            for netns in self.HOSTILE_NETNS:
                with self.subTest(verb=verb, netns=netns):
                    self.hostile(verb, 4, "CNI_NETNS", netns=netns)

    def hostile(self, verb, code, needle, cid="c1", ifname="eth0", netns=None):
        lab = self.lab
        before = lab.snapshot(self.ns)
        r = lab.cni(verb, self.conf, netns if netns is not None else self.ns, cid,
                    ifname=ifname)
        lab.fails(r, code, needle)
        self.assertEqual(lab.snapshot(self.ns), before)

    def test_missing_variables(self):
        lab = self.lab
        for drop, needle in (("CNI_COMMAND", "CNI_COMMAND"), ("CNI_NETNS", "CNI_NETNS"),
                             ("CNI_IFNAME", "CNI_IFNAME"),
                             ("CNI_CONTAINERID", "CNI_CONTAINERID")):
            with self.subTest(missing=drop):
                e = lab.env("ADD", self.ns, "c1")
                del e[drop]
                p = cnitest.subprocess.run(
                    ["ip", "netns", "exec", lab.host.name, cnitest.V6PD], env=e,
                    input=json.dumps(self.conf), capture_output=True, text=True)
                r = cnitest.Result([], p.returncode, p.stdout, p.stderr)
                lab.fails(r, 4, needle)
        r = lab.cni("FROB", self.conf, self.ns, "c1")
        lab.fails(r, 4, "FROB")

    def test_netns_not_usable(self):
        regular = os.path.join(self.lab.state, "regular-file")
        with open(regular, "w") as f:
            f.write("x")
        cases = [(f"/run/netns/{self.lab.name('nope')}", "No such file"),
                 (regular, "not a namespace"), ("/proc/self/ns/mnt", "mount namespace"),
                 (self.lab.state, "not a namespace")]
        for path, needle in cases:
            with self.subTest(netns=path):
                self.failed_add(103, path, needle, netns=path)


class Resources(Base):
    def test_full_network(self):
        lab = self.lab
        conf = dict(self.conf, maxLeases=2)
        for _ in range(2):
            lab.add(conf, lab.netns())
        self.assertEqual(len(lab.leases()), 2)
        self.failed_add(101, "maxLeases 2", conf=conf, ns=lab.netns())
        self.assertEqual(len(lab.leases()), 2)
        self.assertEqual(len(lab.host_veths()), 2)

    def test_ifname_taken_first_add_leaves_no_bridge(self):
        lab = self.lab
        self.ns.ipc("link", "add", "eth0", "type", "veth", "peer", "name", "other")
        err = self.failed_add(102, '"eth0"', self.ns.path, "already")
        self.assertNotIn(self.conf["bridge"], lab.host.links(), err)
        # and on a network in use, with the key's earlier lease reserved: put back as it was
        ns2 = lab.netns()
        res, cid = lab.add(self.conf, ns2, args="K8S_POD_NAME=p1")
        self.assertEqual(lab.cni("DEL", self.conf, ns2, cid, args="K8S_POD_NAME=p1").rc, 0)
        held = lab.lease_for(cid)
        self.assertEqual(held["state"], "reserved")
        self.failed_add(102, '"eth0"', args="K8S_POD_NAME=p1")
        self.assertEqual(lab.lease_for(cid), held)

    def test_a_pair_left_by_an_add_killed_half_way_is_made_anew(self):
        """An ADD killed after it made the veth leaves both names taken: its host end
        (v6pd + 11 hex digits of SHA-256(containerID NUL ifname)) and CNI_IFNAME in the
        container. The runtime's retry of that ADD replaces the pair."""
        lab = self.lab
        lab.add(self.conf, lab.netns())  # the bridge exists: the names are found taken late
        for cid in ("half1", "half2"):
            with self.subTest(cid):
                ns = lab.netns()
                host = "v6pd" + hashlib.sha256(f"{cid}\0eth0".encode()).hexdigest()[:11]
                lab.host.ipc("link", "add", host, "type", "veth", "peer", "name", "eth0",
                             "netns", ns.name)
                old = lab.host.links()[host]["ifindex"]
                if cid == "half2":  # the host end alone: its peer went with the netns
                    ns.ipc("link", "del", "eth0")
                res, _ = lab.add(self.conf, ns, cid=cid)
                self.assertIn(res["ips"][0]["address"], ns.addrs("eth0"))
                self.assertNotEqual(lab.host.links()[host]["ifindex"], old)
                self.assertEqual(lab.cni("DEL", self.conf, ns, cid).rc, 0)
                self.assertNotIn(host, lab.host.links())

    def test_no_free_slice(self):
        lab = self.lab
        two = cnitest.random_prefix(63)
        lab.ctl("prefix", "set", two)
        for i in range(2):
            c = lab.conf(prefix=None, name=f"{lab.net}{i}", bridge=lab.name(f"b{i}"))
            lab.add(c, lab.netns())
        c = lab.conf(prefix=None, name=f"{lab.net}2", bridge=lab.name("b2"))
        self.failed_add(101, two, conf=c)
        # an explicit subnetId past the end
        c = dict(self.conf, subnetId=256)
        self.failed_add(101, "subnetId 256", self.conf["prefix"], conf=c)

    def test_no_prefix_known(self):
        self.failed_add(101, "prefix", conf=dict(self.conf, prefix=None))

    def test_bridge_name_taken_by_another_kind(self):
        lab = self.lab
        lab.host.ipc("link", "add", self.conf["bridge"], "type", "veth", "peer", "name",
                     lab.name("pp"))
        self.failed_add(102, self.conf["bridge"], "veth")

    def test_default_bridge_name_shared_by_two_networks(self):
        # the default bridge name keeps 10 bytes of the network name: two networks whose
        # names share them must not silently share one L2 segment
        lab = self.lab
        web = lab.conf(name="production-web", bridge=None)
        db = lab.conf(name="production-db", bridge=None, subnetId=7)
        lab.add(web, lab.netns())
        self.assertIn("v6pd-production", lab.host_bridges())
        self.failed_add(7, '"v6pd-production"', '"production-db"', '"production-web"',
                        '"bridge"', conf=db)
        db_slice = list(ipaddress.IPv6Network(lab.prefix).subnets(new_prefix=64))[7]
        self.assertEqual([a for a in lab.host.addrs("v6pd-production")
                          if ipaddress.IPv6Address(a.split("/")[0]) in db_slice], [])
        # given explicitly, a bridge may carry two networks
        shared = lab.name("sh")
        lab.add(dict(web, bridge=shared), lab.netns())
        lab.add(dict(db, bridge=shared), lab.netns())

    def test_ndp_proxy_uplink_missing(self):
        conf = dict(self.conf, mode="routed", ndpProxy=self.lab.name("up"))
        self.failed_add(7, '"ndpProxy"', self.lab.name("up"), conf=conf)

    def test_mac_not_unicast(self):
        for mac in ("01:00:5e:00:00:01", "ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00"):
            with self.subTest(mac=mac):
                self.failed_add(4, "CNI_ARGS MAC", mac, args=f"MAC={mac}")
                self.failed_add(7, "runtimeConfig.mac", mac,
                                conf=dict(self.conf, runtimeConfig={"mac": mac}))

    def test_state_dir_unusable(self):
        path = os.path.join(self.lab.state, "file")
        with open(path, "w") as f:
            f.write("x")
        err = self.failed_add(100, path, conf=dict(self.conf, stateDir=path))
        self.assertNotIn("(null)", err["msg"])


if __name__ == "__main__":
    cnitest.main()
