#!/usr/bin/env python3
"""Podman 4.3 with the CNI backend (runc) driving the real v6pd plugin (label real-client).

Recipe: ../shared/TESTING.md "Podman 4.3 with the CNI backend". Podman runs with private
CONTAINERS_CONF / CONTAINERS_STORAGE_CONF (runroot, graphroot and tmp_dir under this run's
random directories), its networks are this run's conflists only, the image is built from
busybox-static (no registry), and each test has its own v6pd network: random bridge name,
random 2001:db8:XXXX::/56 prefix, its own stateDir. See realclient.py for the logging shim
that records what Podman sends.
"""
import ipaddress
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import realclient as rc  # noqa: E402


class PodmanCNI(unittest.TestCase):
    lab = None
    pm = None

    @classmethod
    def setUpClass(cls):
        rc.require("podman", "runc", "busybox", "ip", "tar")
        cls.lab = rc.Run("pm")
        try:
            cls.pm = rc.Podman(cls.lab)
            cls.image = cls.pm.import_image()
        except BaseException:
            cls._cleanup()
            raise

    @classmethod
    def _cleanup(cls):
        cls.lab.cleanup()       # podman rm/rmi first, then links, sysctls, directories

    @classmethod
    def tearDownClass(cls):
        cls._cleanup()

    def setUp(self):
        self.t0 = time.monotonic()
        self.names = []

    def tearDown(self):
        for n in self.names:
            self.podman("rm", "-f", "-t", "0", n, check=False)
        if not getattr(self._outcome, "success", True):
            print(f"\n{self.id()}: plugin calls so far:", file=sys.stderr)
            self.lab.dump_calls()
        print(f"\n[{self.id()}: {time.monotonic() - self.t0:.1f} s]", file=sys.stderr)

    # --- helpers ---

    def network(self, tag, **extra):
        net = rc.Network(self.lab, tag, **extra)
        self.pm.add_network(net)
        return net

    def name(self, n):
        full = f"{self.lab.id}-{n}"
        self.names.append(full)
        return full

    def start(self, net, name, *opts):
        """A detached container that keeps running; returns (id, address, prefixlen)."""
        cid = self.podman("run", "-d", "--name", name, "--network", net.name, *opts,
                          self.image, "sleep", "3600").stdout.strip()
        return (cid,) + self.addr_of(name)

    def addr_of(self, name):
        out = self.podman("exec", name, "ip", "-6", "addr", "show", "dev", "eth0").stdout
        g = rc.global_addrs(out)
        self.assertEqual(len(g), 1, f"{name}: want one global address:\n{out}")
        return g[0]

    def assert_in_slice(self, net, addr, plen, key):
        lease = net.lease(key)
        self.assertIsNotNone(lease, f"no lease keyed {key!r}: {net.leases()}")
        self.assertEqual(lease["address"], addr, lease)
        self.assertEqual(plen, 64, "bridge mode: address/sliceLength")
        slice_ = ipaddress.IPv6Network(lease["slice"])
        self.assertEqual(slice_.prefixlen, 64, lease)
        self.assertTrue(slice_.subnet_of(ipaddress.IPv6Network(net.prefix)),
                        f"slice {slice_} outside the netconf's prefix {net.prefix}")
        self.assertTrue(rc.in_net(addr, slice_), f"{addr} outside the slice {slice_}")
        return lease

    def podman(self, *argv, **kw):
        return self.pm(*argv, **kw)

    # --- tests ---

    def test_address_and_ping_between_containers(self):
        net = self.network("a")
        probe = self.name("probe")
        out = self.podman("run", "--rm", "--name", probe, "--network", net.name, self.image,
                          "ip", "-6", "addr").stdout
        g = rc.global_addrs(out)
        self.assertEqual(len(g), 1, f"want one global address:\n{out}")
        lease = self.assert_in_slice(net, g[0][0], g[0][1], probe)
        self.assertEqual(lease["state"], "reserved", "the --rm container's DEL released it")

        srv = self.name("srv")
        _, a_srv, plen = self.start(net, srv)
        self.assert_in_slice(net, a_srv, plen, srv)
        self.assertEqual(net.lease(srv)["state"], "active")
        cli = self.name("cli")
        p = self.podman("run", "--rm", "--name", cli, "--network", net.name, self.image,
                        "sh", "-c", "ip -6 addr show dev eth0; ping -6 -c 3 -w 10 " + a_srv,
                        check=False)
        self.assertEqual(p.returncode, 0, f"ping {a_srv} from another container failed:\n"
                                          f"{p.stdout}\n{p.stderr}")
        a_cli, _ = rc.global_addrs(p.stdout)[0]
        self.assertNotEqual(a_cli, a_srv)
        self.assertEqual(ipaddress.IPv6Network(f"{a_cli}/64", strict=False),
                         ipaddress.IPv6Network(f"{a_srv}/64", strict=False),
                         "both containers are on the network's one slice")
        self.assertIn("3 packets received", p.stdout)
        # the host end of the --rm containers is gone; the running one keeps its own
        self.assertEqual(len(net.host_veths()), 1, net.host_veths())

    def test_stop_start_keeps_address(self):
        net = self.network("s")
        c = self.name("keep")
        _, a1, plen = self.start(net, c)
        self.assert_in_slice(net, a1, plen, c)
        self.podman("stop", "-t", "0", c)
        self.assertEqual(net.lease(c)["state"], "reserved", "stop sends DEL: lease reserved")
        self.assertEqual(net.host_veths(), [], "stop sends DEL: no host end left")
        self.podman("start", c)
        a2, _ = self.addr_of(c)
        self.assertEqual(a2, a1, "stop + start keeps the address")
        self.assertEqual(net.lease(c)["state"], "active")
        adds = self.lab.calls(net.name, "ADD")
        self.assertEqual(len(adds), 2, [x.summary() for x in adds])
        self.assertNotEqual(adds[0].env["CNI_NETNS"], adds[1].env["CNI_NETNS"],
                            "start = ADD in a new netns")
        dels = self.lab.calls(net.name, "DEL")
        self.assertEqual([d.rc for d in dels], [0], [x.summary() for x in dels])

    def test_recreate_same_name_same_address_other_name_other_address(self):
        net = self.network("r")
        c = self.name("web")
        id1, a1, plen = self.start(net, c)
        self.assert_in_slice(net, a1, plen, c)
        self.podman("rm", "-f", "-t", "0", c)
        self.assertEqual(net.lease(c)["state"], "reserved")
        id2, a2, _ = self.start(net, c)
        self.assertNotEqual(id1, id2, "a new container")
        self.assertEqual(a2, a1, "rm + run --name SAME gets the same address")
        lease = net.lease(c)
        self.assertEqual(lease["containerId"], id2, lease)
        other = self.name("db")
        _, a3, plen3 = self.start(net, other)
        self.assertNotEqual(a3, a1, "a second name gets a different address")
        self.assert_in_slice(net, a3, plen3, other)

    def test_ip6_is_honoured(self):
        net = self.network("i", subnetId=7)
        want = str(ipaddress.IPv6Network(net.prefix)[0] + (7 << 64) + 0x1234abcd)
        c = self.name("fixed")
        _, a, plen = self.start(net, c, "--ip6", want)
        self.assertEqual(a, want, "--ip6 is honoured")
        self.assert_in_slice(net, a, plen, c)
        add = self.lab.calls(net.name, "ADD")[-1]
        self.assertIn(f"IP={want}", add.env["CNI_ARGS"].split(";"), add.summary())

    def test_leases_are_keyed_by_container_name(self):
        net = self.network("k")
        names = [self.name("alpha"), self.name("beta")]
        addrs = {n: self.start(net, n)[1] for n in names}
        table = net.ctl("leases").stdout
        lines = table.splitlines()
        header = lines[0].split()
        self.assertEqual(header[:3], ["NETWORK", "KEY", "ADDRESS"], table)
        rows = {l.split()[1]: l.split() for l in lines[1:] if l.split()}
        for n in names:
            self.assertIn(n, rows, f"container name {n} is not a key:\n{table}")
            self.assertEqual(rows[n][0], net.name, table)
            self.assertEqual(rows[n][2], addrs[n], table)
        # what Podman sent: its container name as K8S_POD_NAME, no namespace
        for add in self.lab.calls(net.name, "ADD"):
            args = dict(kv.split("=", 1) for kv in add.env["CNI_ARGS"].split(";"))
            self.assertIn(args.get("K8S_POD_NAME"), names, add.summary())
            self.assertNotIn("K8S_POD_NAMESPACE", args, add.summary())

    def test_mac_address_and_network_reload(self):
        """--mac-address arrives as MAC=; `network reload` is DEL then ADD with the old
        IP=/MAC=: the container keeps address and MAC."""
        net = self.network("m")
        c = self.name("mac")
        mac = "02:5e:11:22:33:44"
        _, a1, plen = self.start(net, c, "--mac-address", mac)
        self.assert_in_slice(net, a1, plen, c)
        link = self.podman("exec", c, "ip", "link", "show", "dev", "eth0").stdout
        self.assertIn(f"link/ether {mac}", link)
        self.podman("network", "reload", c)
        a2, _ = self.addr_of(c)
        self.assertEqual(a2, a1, "network reload keeps the address")
        self.assertIn(f"link/ether {mac}",
                      self.podman("exec", c, "ip", "link", "show", "dev", "eth0").stdout)
        calls = self.lab.calls(net.name)
        self.assertEqual([(x.command, x.rc) for x in calls],
                         [("ADD", 0), ("DEL", 0), ("ADD", 0)], [x.summary() for x in calls])
        args = calls[-1].env["CNI_ARGS"].split(";")
        self.assertIn(f"MAC={mac}", args, calls[-1].summary())
        self.assertIn(f"IP={a1}", args, calls[-1].summary())
        self.assertEqual(net.lease(c)["state"], "active")
        self.assertEqual(len(net.host_veths()), 1, net.host_veths())

    def test_failed_add_leaves_nothing(self):
        """An --ip6 outside the network's slice: ADD fails with a message naming it,
        Podman's follow-up DEL succeeds, and no lease or host end is left."""
        net = self.network("f", subnetId=3)
        outside = str(ipaddress.IPv6Network(net.prefix)[0] + (4 << 64) + 5)
        c = self.name("bad")
        p = self.podman("run", "--rm", "--name", c, "--network", net.name, "--ip6", outside,
                        self.image, "sh", "-c", ":", check=False)
        self.assertNotEqual(p.returncode, 0, p.stdout)
        self.assertIn(outside, p.stderr)
        calls = self.lab.calls(net.name)
        self.assertEqual([(x.command, x.rc) for x in calls], [("ADD", 1), ("DEL", 0)],
                         [x.summary() for x in calls])
        err = json.loads(calls[0].stdout)
        self.assertIn(outside, err["msg"], err)
        self.assertIsInstance(err["code"], int, err)
        self.assertEqual(net.leases(), [])
        self.assertEqual(net.host_veths(), [])

    def test_version_probe_with_dummy_env(self):
        """Podman probes VERSION with CNI_NETNS=dummy, CNI_IFNAME=dummy before each call."""
        net = self.network("v")
        c = self.name("v")
        self.podman("run", "--rm", "--name", c, "--network", net.name, self.image, "sh", "-c", ":")
        versions = self.lab.calls(command="VERSION")
        self.assertTrue(versions, "Podman sent no VERSION probe")
        for v in versions:
            self.assertEqual(v.rc, 0, v.summary())
            self.assertEqual(v.env.get("CNI_NETNS"), "dummy", v.summary())
            self.assertIn('"supportedVersions"', v.stdout, v.summary())
        self.assertEqual([x.rc for x in self.lab.calls(net.name)], [0, 0],
                         [x.summary() for x in self.lab.calls(net.name)])


if __name__ == "__main__":
    unittest.main(verbosity=2)
