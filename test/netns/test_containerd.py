#!/usr/bin/env python3
"""containerd 1.6's `ctr run --cni` driving the real v6pd plugin (label real-client).

Recipe: ../shared/TESTING.md "containerd 1.6 (`ctr run --cni`)". containerd is started by
hand with its root, state and sockets under this run's random directories and the CRI
plugin disabled; ctr runs inside `unshare -m --propagation private` with /etc/cni/net.d and
/opt/cni/bin bind-mounted from the test's directories (ctr reads only those). The image is
busybox-static imported into a private Podman storage and moved over with
`podman save --format docker-archive` + `ctr images import` (no registry). Each test has
its own v6pd network: random bridge name, random 2001:db8:XXXX::/56 prefix, own stateDir.

ctr passes no stable key (CNI_ARGS is empty): the container ID, "<namespace>-<id>", keys
the lease, so the same ctr ID gets the same address back.
"""
import ipaddress
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import realclient as rc  # noqa: E402


class ContainerdCtrCNI(unittest.TestCase):
    lab = None

    @classmethod
    def setUpClass(cls):
        rc.require("containerd", "ctr", "containerd-shim-runc-v2", "runc", "podman",
                   "busybox", "unshare", "ip", "tar")
        cls.lab = rc.Run("cd")
        try:
            pm = rc.Podman(cls.lab)
            pm.import_image()
            archive = pm.save_docker_archive()
            cls.cd = rc.Containerd(cls.lab)
            cls.cd.start()
            cls.image = pm.image + ":latest"
            cls.cd.import_image(archive, cls.image)
        except BaseException:
            cls.lab.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.lab.cleanup()       # tasks, containerd (by PID), shims, podman, links, dirs

    def setUp(self):
        self.t0 = time.monotonic()

    def tearDown(self):
        if not getattr(self._outcome, "success", True):
            print(f"\n{self.id()}: plugin calls so far:", file=sys.stderr)
            self.lab.dump_calls()
            print("containerd log tail:\n" + self.cd.log_tail(), file=sys.stderr)
        print(f"\n[{self.id()}: {time.monotonic() - self.t0:.1f} s]", file=sys.stderr)

    # --- helpers ---

    def network(self, tag):
        return rc.Network(self.lab, tag)

    def run_ip(self, net, cid):
        """`ctr run --rm --cni IMG ID ip -6 addr`: the task's one global address."""
        p = self.cd.run_cni(net, self.image, cid, "ip", "-6", "addr")
        g = rc.global_addrs(p.stdout)
        self.assertEqual(len(g), 1, f"want one global address:\n{p.stdout}\n{p.stderr}")
        return g[0], p

    def assert_in_slice(self, net, addr, plen, key):
        lease = net.lease(key)
        self.assertIsNotNone(lease, f"no lease keyed {key!r}: {net.leases()}")
        self.assertEqual(lease["address"], addr, lease)
        self.assertEqual(plen, 64, "bridge mode: address/sliceLength")
        slice_ = ipaddress.IPv6Network(lease["slice"])
        self.assertTrue(slice_.subnet_of(ipaddress.IPv6Network(net.prefix)),
                        f"slice {slice_} outside the netconf's prefix {net.prefix}")
        self.assertTrue(rc.in_net(addr, slice_), f"{addr} outside the slice {slice_}")
        return lease

    def full_id(self, cid):
        return f"{self.cd.ns}-{cid}"

    # --- tests ---

    def test_task_gets_its_address(self):
        net = self.network("a")
        cid = "t1"
        (addr, plen), _ = self.run_ip(net, cid)
        key = self.full_id(cid)
        lease = self.assert_in_slice(net, addr, plen, key)
        self.assertEqual(lease["containerId"], key, lease)
        adds = self.lab.calls(net.name, "ADD")
        self.assertEqual(len(adds), 1, [c.summary() for c in adds])
        add = adds[0]
        self.assertEqual(add.rc, 0, add.summary())
        # what ctr sends: no CNI_ARGS, "<namespace>-<id>", the task's /proc/PID/ns/net
        self.assertEqual(add.env.get("CNI_ARGS", ""), "", add.summary())
        self.assertEqual(add.env["CNI_CONTAINERID"], key, add.summary())
        self.assertRegex(add.env["CNI_NETNS"], r"^/proc/\d+/ns/net$", add.summary())
        self.assertEqual(add.env["CNI_IFNAME"], "eth0", add.summary())
        res = json.loads(add.stdout)
        self.assertEqual(res["ips"][0]["address"], f"{addr}/{plen}", res)

    def test_del_with_empty_netns_releases_and_cleans_up(self):
        net = self.network("d")
        cid = "t2"
        (addr, plen), _ = self.run_ip(net, cid)
        key = self.full_id(cid)
        add = self.lab.calls(net.name, "ADD")[-1]
        host_ends = [i["name"] for i in json.loads(add.stdout)["interfaces"]
                     if "sandbox" not in i and i["name"] != net.bridge]
        self.assertEqual(len(host_ends), 1, add.stdout)
        # the DEL that ctr sent when the foreground run exited
        dels = self.lab.calls(net.name, "DEL")
        self.assertEqual(len(dels), 1, [c.summary() for c in dels])
        d = dels[0]
        self.assertEqual(d.env.get("CNI_NETNS"), "", "ctr's DEL has an empty CNI_NETNS: "
                         + d.summary())
        self.assertEqual(d.env["CNI_CONTAINERID"], key, d.summary())
        self.assertIn("prevResult", d.stdin, d.summary())
        self.assertEqual(d.rc, 0, "DEL with empty CNI_NETNS must succeed: " + d.summary())
        self.assertEqual((d.stdout or "").strip(), "", d.summary())
        # nothing of the attachment is left on the host; the lease is reserved
        self.assertEqual(net.host_veths(), [], "a v6pd host veth outlived the task")
        self.assertFalse(self.lab.bridge_exists(host_ends[0]),
                         f"host end {host_ends[0]} outlived the task")
        lease = self.assert_in_slice(net, addr, plen, key)
        self.assertEqual(lease["state"], "reserved", lease)
        shown = net.ctl("--json", "lease", "show", net.name, key).stdout
        self.assertEqual(json.loads(shown)["state"], "reserved", shown)
        # ctr passes no stable key: the container ID keys the lease, so the same ID gets the
        # same address back and another ID another one
        (again, _), _ = self.run_ip(net, cid)
        self.assertEqual(again, addr, "the same ctr ID gets its reserved address back")
        (other, _), _ = self.run_ip(net, "t3")
        self.assertNotEqual(other, addr)
        self.assertEqual([c.rc for c in self.lab.calls(net.name)], [0] * 6,
                         [c.summary() for c in self.lab.calls(net.name)])
        self.assertEqual(net.host_veths(), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
