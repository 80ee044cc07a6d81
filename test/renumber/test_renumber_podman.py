#!/usr/bin/env python3
"""Renumbering of Podman containers driven by a real prefix delegation (label real-client).

Kea 2.2 in a server netns delegates a /56 to dhcpcd in the PD lab's client netns (rnlab.py,
as test_renumber_pd.py); dhcpcd's shipped hook runs `v6pdctl prefix from-dhcp-env` on the
lab's store. Podman 4.3 (CNI backend, runc, private CONTAINERS_CONF / storage, busybox image
built from busybox-static: ../netns/realclient.py) runs in the real host netns and starts two
containers on a v6pd bridge network with no "prefix" (it follows the host's delegated prefix)
whose stateDir is that same store. The bridge and host routes are in the real host netns, so
the hook's v6pdctl is run there (nsenter --net on this test's netns); the containers are
entered by the netns path in their leases (Podman's /run/netns/netns-UUID).

Then Kea is restarted with another pool; at dhcpcd's next Renew the hook fires, and each
container, without a restart, has the new prefix with the same IID and answers there.
"""
import ipaddress
import json
import os
import re
import sys
import time
import types
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import rnlab  # noqa: E402
from rnlab import ct  # noqa: E402
import realclient as rc  # noqa: E402  (../netns, on the path through rnlab)

GRACE = 5


class HostNetnsDhcpcd(rnlab.Dhcpcd):
    """dhcpcd in the lab's client netns whose hook runs v6pdctl in this test's netns (where
    Podman made the bridge), on the lab's store and config."""

    def wrapper(self, hook, extra_env=""):
        shim = os.path.join(self.dir, "v6pdctl-hostns")
        with open(shim, "w", encoding="utf-8") as f:
            f.write("#!/bin/sh\n"
                    f"exec nsenter --net=/proc/{os.getpid()}/ns/net {ct.V6PDCTL} \"$@\"\n")
        os.chmod(shim, 0o755)
        # a later assignment on the wrapper's export line wins over rnlab's V6PDCTL=
        return super().wrapper(hook, extra_env + f" V6PDCTL={shim}")


class PodmanRenumberPD(unittest.TestCase):

    def setUp(self):
        rc.require("podman", "runc", "busybox", "ip", "tar", "nsenter", "kea-dhcp6",
                   "dhcpcd", "ping")
        self.t0 = time.monotonic()
        # the PD lab first: its cleanups (Kea, dhcpcd, namespaces, store) run last
        self.lab = rnlab.RenumberLab(self, grace=f"{GRACE}s")
        self.work = ct.tmp_root()
        self.srv = rnlab.PDServer(self.lab, self.work)
        self.run_ = rc.Run("rp")
        self.addCleanup(self.run_.cleanup)      # podman rm/rmi, bridge, veths, sysctls, dirs
        self.pm = rc.Podman(self.run_)
        self.image = self.pm.import_image()

    def tearDown(self):
        if not getattr(self._outcome, "success", True):
            print(f"\n{self.id()}: plugin calls:", file=sys.stderr)
            self.run_.dump_calls()
            if getattr(self, "pd", None):
                print("hook log:\n" + self.pd.hook_log()[-3000:], file=sys.stderr)
        print(f"\n[{self.id()}: {time.monotonic() - self.t0:.1f} s]", file=sys.stderr)

    # --- helpers ---

    def ctl(self, *argv):
        """v6pdctl in this (the real host's) netns on the lab's store."""
        return rc.sh(ct.V6PDCTL, "--state-dir", self.lab.state, *argv,
                     env=dict(os.environ, **self.lab.ctl_env()))

    def wait_prefix(self, want, timeout):
        rnlab.wait_for(lambda: re.search(f": prefix {re.escape(want)}( |$)",
                                         self.pd.hook_log(), re.M), timeout,
                       f"v6pd's prefix {want} (hook log:\n{self.pd.hook_log()[-3000:]})")
        self.assertEqual(json.loads(self.ctl("--json", "prefix", "show").stdout)["prefix"],
                         want)

    def network(self):
        name = f"{self.run_.id}-pd"
        bridge = f"{self.run_.id}pd"[:15]
        conf = {"cniVersion": rc.CNI_VERSION, "name": name,
                "plugins": [{"type": "v6pd", "mode": "bridge", "bridge": bridge,
                             "stateDir": self.lab.state, "renumberGrace": f"{GRACE}s"}]}
        path = os.path.join(self.run_.confroot, "podman", name + ".conflist")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(conf, f)
        # Run.cleanup() removes the bridge, host veths and libcni cache of its networks
        self.run_.networks.append(types.SimpleNamespace(name=name, bridge=bridge,
                                                        prefix=None, state=self.lab.state))
        return name, bridge

    def addrs(self, name):
        out = self.pm("exec", name, "ip", "-6", "addr", "show", "dev", "eth0").stdout
        return out, rc.global_addrs(out)

    def lease(self, net, key):
        p = self.ctl("--json", "leases", "--network", net)
        got = [l for l in json.loads(p.stdout or "[]") if l["key"] == key]
        self.assertEqual(len(got), 1, p.stdout)
        return got[0]

    # --- the test ---

    def test_podman_containers_follow_the_delegated_prefix(self):
        old_p, new_p = rnlab.prefix_of(rnlab.POOL_A), rnlab.prefix_of(rnlab.POOL_B)
        self.srv.start(rnlab.POOL_A)
        self.pd = HostNetnsDhcpcd(self.lab, self.work)
        self.pd.start()
        self.wait_prefix(old_p, 20)

        net, bridge = self.network()
        cs = []
        for n in ("web1", "web2"):
            name = f"{self.run_.id}-{n}"
            cid = self.pm("run", "-d", "--name", name, "--network", net, self.image,
                          "sleep", "3600").stdout.strip()
            out, g = self.addrs(name)
            self.assertEqual(len(g), 1, f"{name}: want one global address:\n{out}")
            addr, plen = g[0]
            self.assertTrue(ct.in_prefix(addr, old_p), f"{name}: {addr} not in {old_p}")
            lease = self.lease(net, name)
            self.assertEqual(lease["address"], addr, lease)
            self.assertTrue(lease["netns"].startswith("/run/netns/"), lease)
            pid = self.pm("inspect", "-f", "{{.State.Pid}}", name).stdout.strip()
            cs.append({"name": name, "cid": cid, "addr": addr, "plen": plen,
                       "netns": lease["netns"], "pid": pid})
        for c in cs:
            self.assertTrue(self.ping(c["addr"]), f"{c['name']} at {c['addr']}")

        # the ISP renumbers: dhcpcd's next Renew brings the new prefix, the hook runs
        self.srv.restart(rnlab.POOL_B)
        t_change = time.monotonic()
        self.wait_prefix(new_p, 30)
        print(f"\n[new prefix in v6pd {time.monotonic() - t_change:.1f} s after Kea "
              "restarted]", file=sys.stderr)
        self.assertRegex(self.pd.hook_log(), f"prefix {re.escape(new_p)} \\(was "
                                             f"{re.escape(old_p)}\\)")
        for c in cs:
            new = rnlab.moved(c["addr"], old_p, new_p)
            self.assertEqual(rnlab.iid_of(new), rnlab.iid_of(c["addr"]))
            self.assertTrue(ct.in_prefix(new, new_p))
            out, g = self.addrs(c["name"])
            self.assertIn((new, c["plen"]), g, f"{c['name']}: {new} missing:\n{out}")
            # the kernel's view through the lease's netns path: the new one preferred
            j = json.loads(rc.sh("ip", "-j", "-6", "-n", os.path.basename(c["netns"]),
                                 "addr", "show", "dev", "eth0").stdout)
            info = {a["local"]: a for a in j[0]["addr_info"]}
            self.assertIn(new, info, j)
            self.assertFalse(info[new].get("deprecated"), info[new])
            if c["addr"] in info:       # gone only once the grace is over
                self.assertTrue(info[c["addr"]].get("deprecated"), info[c["addr"]])
            self.assertEqual(self.lease(net, c["name"])["address"], new)
            # the same container, not restarted
            self.assertEqual(self.pm("inspect", "-f", "{{.State.Pid}}",
                                     c["name"]).stdout.strip(), c["pid"])
            self.assertEqual(self.pm("inspect", "-f", "{{.Id}}", c["name"]).stdout.strip(),
                             c["cid"])
            self.assertTrue(self.ping(new), f"{c['name']} at {new}")
            c["new"] = new
        gw = str(ipaddress.IPv6Network(f"{cs[0]['new']}/64", strict=False)
                 .network_address + 1)
        self.assertIn(f"inet6 {gw}/64",
                      rc.sh("ip", "-6", "addr", "show", "dev", bridge).stdout)

        # after the grace: old addresses gone, the new ones still answer
        def old_gone():
            return all((c["addr"], c["plen"]) not in self.addrs(c["name"])[1] for c in cs)
        rnlab.wait_for(old_gone, GRACE + 5, "old addresses gone")
        for c in cs:
            self.assertTrue(self.ping(c["new"]), f"{c['name']} at {c['new']} after grace")

    @staticmethod
    def ping(addr):
        return rc.sh("ping", "-6", "-c", "1", "-w", "5", addr, check=False).returncode == 0


if __name__ == "__main__":
    unittest.main(verbosity=2)
