#!/usr/bin/env python3
"""Stable keys of the real v6pd binary: the same workload (K8S_POD_NAMESPACE+K8S_POD_NAME,
K8S_POD_NAME alone, args.cni.v6pd.key / runtimeConfig, the container ID as last resort)
comes back to the same address after DEL and ADD with a new container ID and a new netns;
another key gets another address; fixed addresses from IP= and runtimeConfig.ips, and an
address held by another key refused with nothing left behind."""
import ipaddress
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cnitest  # noqa: E402
from cnitest import Lab  # noqa: E402


def setUpModule():
    cnitest.require_root()


def addr(res):
    return cnitest.addr_of(res)[0]


class StableKeys(unittest.TestCase):
    def cycle(self, lab, conf, key, args=None, conf2=None, args2=None):
        """ADD, DEL, ADD again with a new container ID in a new netns: both addresses."""
        ns1 = lab.netns()
        r1, cid1 = lab.add(conf, ns1, args=args)
        lease = lab.lease_for(cid1)
        self.assertEqual(lease["key"], key)
        self.assertEqual(lease["address"], addr(r1))
        self.assertEqual(lab.cni("DEL", conf, ns1, cid1, args=args).rc, 0)
        ns2 = lab.netns()
        r2, cid2 = lab.add(conf2 or conf, ns2, args=args2 or args)
        self.assertNotEqual(cid1, cid2)
        self.assertIn(f"{addr(r2)}/64", ns2.addrs("eth0"))
        return addr(r1), addr(r2), cid2

    def test_k8s_namespace_and_name(self):
        lab = Lab(self)
        conf = lab.conf()
        a = "IgnoreUnknown=1;K8S_POD_NAMESPACE=web;K8S_POD_NAME=front-0;K8S_POD_UID=x"
        first, again, cid = self.cycle(lab, conf, "web/front-0", a)
        self.assertEqual(first, again)
        self.assertEqual(lab.lease_for(cid)["hostname"], "front-0")
        # same pod name in another namespace: another workload
        _, other, _ = self.cycle(lab, conf, "shop/front-0",
                                 "K8S_POD_NAMESPACE=shop;K8S_POD_NAME=front-0")
        self.assertNotEqual(other, first)

    def test_k8s_name_alone_as_podman_sends_it(self):
        lab = Lab(self)
        conf = lab.conf()
        first, again, _ = self.cycle(lab, conf, "db1", "IgnoreUnknown=1;K8S_POD_NAME=db1")
        self.assertEqual(first, again)
        _, other, _ = self.cycle(lab, conf, "db2", "IgnoreUnknown=1;K8S_POD_NAME=db2")
        self.assertNotEqual(other, first)

    def test_args_key_beats_k8s(self):
        lab = Lab(self)
        conf = lab.conf(args={"cni": {"v6pd": {"key": "vm-42"}}})
        # the K8S_* arguments differ between the two ADDs: the args key wins
        first, again, _ = self.cycle(lab, conf, "vm-42", "K8S_POD_NAME=a",
                                     args2="K8S_POD_NAMESPACE=x;K8S_POD_NAME=b")
        self.assertEqual(first, again)
        _, other, _ = self.cycle(lab, lab.conf(args={"cni": {"v6pd": {"key": "vm-43"}}}),
                                 "vm-43")
        self.assertNotEqual(other, first)

    def test_runtime_config_key(self):
        lab = Lab(self)
        conf = lab.conf(runtimeConfig={"v6pd": {"key": "rc-1"}})
        first, again, _ = self.cycle(lab, conf, "rc-1")
        self.assertEqual(first, again)

    def test_container_id_fallback(self):
        lab = Lab(self)
        conf = lab.conf()
        ns = lab.netns()
        r = lab.cni("ADD", conf, ns, "ctr-1")
        first = addr(lab.ok(r))
        self.assertIn("container ID", r.stderr)
        self.assertEqual(lab.lease_for("ctr-1")["key"], "ctr-1")
        self.assertEqual(lab.cni("DEL", conf, ns, "ctr-1").rc, 0)
        # the same container restarted (same ID, new netns): same address
        ns2 = lab.netns()
        again = addr(lab.ok(lab.cni("ADD", conf, ns2, "ctr-1")))
        self.assertEqual(again, first)
        # re-created (new ID): a new address
        ns3 = lab.netns()
        other = addr(lab.ok(lab.cni("ADD", conf, ns3, "ctr-2")))
        self.assertNotEqual(other, first)

    def test_same_key_two_networks(self):
        lab = Lab(self)
        a = lab.conf(name=lab.net + "a", bridge=lab.name("ba"))
        b = lab.conf(name=lab.net + "b", bridge=lab.name("bb"))
        ns = lab.netns()
        ra, _ = lab.add(a, ns, args="K8S_POD_NAME=p", cid="c1")
        rb, _ = lab.add(b, ns, args="K8S_POD_NAME=p", cid="c1", ifname="net1")
        self.assertNotEqual(addr(ra), addr(rb))
        self.assertNotEqual(ipaddress.IPv6Network(f"{addr(ra)}/64", strict=False),
                            ipaddress.IPv6Network(f"{addr(rb)}/64", strict=False))


class FixedAddress(unittest.TestCase):
    def setUp(self):
        self.lab = Lab(self)
        self.conf = self.lab.conf(subnetId=0)
        self.slice = list(ipaddress.IPv6Network(self.lab.prefix).subnets(new_prefix=64))[0]

    def a(self, n):
        return str(self.slice.network_address + n)

    def test_ip_in_cni_args(self):
        lab = self.lab
        ns = lab.netns()
        want = self.a(0x1234)
        res, cid = lab.add(self.conf, ns, args=f"IgnoreUnknown=1;K8S_POD_NAME=x;IP={want}")
        self.assertEqual(addr(res), want)
        self.assertIn(f"{want}/64", ns.addrs("eth0"))
        self.assertEqual(lab.lease_for(cid)["address"], want)
        # an IPv4 IP= is another plugin's business; with /len it is still honoured
        ns2 = lab.netns()
        res2, _ = lab.add(self.conf, ns2, args=f"K8S_POD_NAME=y;IP={self.a(0x99)}/64")
        self.assertEqual(addr(res2), self.a(0x99))
        ns3 = lab.netns()
        res3, _ = lab.add(self.conf, ns3, args="K8S_POD_NAME=z;IP=10.1.2.3")
        self.assertNotIn(addr(res3), (want, self.a(0x99)))

    def test_runtime_config_ips(self):
        lab = self.lab
        ns = lab.netns()
        want = self.a(0xabcd)
        conf = dict(self.conf, runtimeConfig={"ips": ["10.0.0.5/24", f"{want}/64"]})
        res, cid = lab.add(conf, ns)
        self.assertEqual(addr(res), want)
        self.assertIn(f"{want}/64", ns.addrs("eth0"))
        # the capability wins over IP= in CNI_ARGS
        ns2 = lab.netns()
        conf2 = dict(self.conf, runtimeConfig={"ips": [f"{self.a(0xabce)}/64"]})
        res2, _ = lab.add(conf2, ns2, args=f"IP={self.a(0xabcf)}")
        self.assertEqual(addr(res2), self.a(0xabce))

    def test_address_of_another_key_refused(self):
        lab = self.lab
        owner_ns = lab.netns()
        held, ocid = lab.add(self.conf, owner_ns,
                             args="K8S_POD_NAMESPACE=prod;K8S_POD_NAME=owner")
        taken = addr(held)
        owner_args = "K8S_POD_NAMESPACE=prod;K8S_POD_NAME=owner"
        for state in ("active", "reserved"):
            for how in ("IP=", "runtimeConfig.ips"):
                with self.subTest(state=state, how=how):
                    ns = lab.netns()
                    before = lab.snapshot(ns)
                    if how == "IP=":
                        r = lab.cni("ADD", self.conf, ns, "intruder",
                                    args=f"K8S_POD_NAME=intruder;IP={taken}")
                    else:
                        r = lab.cni("ADD", dict(self.conf,
                                                runtimeConfig={"ips": [taken + "/64"]}),
                                    ns, "intruder", args="K8S_POD_NAME=intruder")
                    lab.fails(r, 101, taken, "prod/owner")
                    self.assertEqual(lab.snapshot(ns), before)
                    self.assertIsNone(lab.lease_for("intruder"))
                    self.assertEqual(lab.lease_for(ocid)["state"], state)
            if state == "active":
                # the owner's DEL keeps the address reserved for it
                self.assertEqual(lab.cni("DEL", self.conf, owner_ns, ocid, args=owner_args).rc,
                                 0)
        # the owner comes back asking for it (Podman's `network reload`): granted
        ns = lab.netns()
        res, _ = lab.add(self.conf, ns, args=f"{owner_args};IP={taken}")
        self.assertEqual(addr(res), taken)

    def test_address_outside_the_slice(self):
        lab = self.lab
        ns = lab.netns()
        before = lab.snapshot(ns)
        r = lab.cni("ADD", self.conf, ns, "c", args="IP=2001:db8:ffff:ffff::5")
        lab.fails(r, 7, "2001:db8:ffff:ffff::5", "outside", str(self.slice))
        self.assertEqual(lab.snapshot(ns), before)
        # the slice's gateway ::1 and the subnet-router anycast ::0 are never handed out
        for n in (0, 1):
            r = lab.cni("ADD", self.conf, ns, "c", args=f"IP={self.a(n)}")
            lab.fails(r, 101, self.a(n), "reserved")
            self.assertEqual(lab.snapshot(ns), before)


if __name__ == "__main__":
    cnitest.main()
