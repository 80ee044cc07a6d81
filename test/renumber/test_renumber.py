#!/usr/bin/env python3
"""Renumbering by `v6pdctl prefix set` and `prefix from-dhcp-env` without a DHCPv6 server
(label netns): the real v6pd plugin attaches containers in a private host netns, v6pdctl runs
there too. 100 attachments renumbered at once; the same prefix again changes nothing; a run
cut short is finished by the next; leases recorded before v6pd kept attachment records; the
IPAM role under the reference bridge plugin; a container whose netns is gone; a prefix too
small for the networks' slices and a withdrawal of the only prefix change nothing; the
choice among several delegations; proxy NDP entries drain after the grace; CHECK with the ADD
result from before a renumbering.
"""
import ipaddress
import json
import os
import sqlite3
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import rnlab  # noqa: E402
from rnlab import ct  # noqa: E402

A = "2001:db8:a100::/56"
B = "2001:db8:b200::/56"
C = "2001:db8:c300::/56"
BRIDGE = os.path.join(ct.REF_CNI, "bridge")


def dhcpcd_env(*prefixes, reason="RENEW6", interface="wan0", iaid="00000001"):
    """A dhcpcd hook environment: (prefix, vltime) pairs in one IA_PD."""
    e = {"reason": reason, "interface": interface, "protocol": "dhcp6",
         "new_dhcp6_ia_pd1_iaid": iaid}
    for i, (p, vl) in enumerate(prefixes, 1):
        n = ipaddress.IPv6Network(p)
        e[f"new_dhcp6_ia_pd1_prefix{i}"] = str(n.network_address)
        e[f"new_dhcp6_ia_pd1_prefix{i}_length"] = str(n.prefixlen)
        e[f"new_dhcp6_ia_pd1_prefix{i}_vltime"] = str(vl)
        e[f"new_dhcp6_ia_pd1_prefix{i}_pltime"] = str(vl // 2)
    return e


class Renumber(unittest.TestCase):
    def setUp(self):
        ct.require_root()
        self.lab = rnlab.RenumberLab(self, grace="5s")
        self.lab.v6pdctl("prefix", "set", A)

    def attach(self, conf, n, tag):
        out = []
        for i in range(n):
            ns = self.lab.netns()
            res, cid = self.lab.add(conf, ns, args=f"K8S_POD_NAME={tag}{i}")
            a, plen = ct.addr_of(res)
            out.append({"ns": ns, "cid": cid, "addr": a, "plen": plen})
        return out

    def assert_at(self, cs, old_p, new_p, ping=True):
        for c in cs:
            new = rnlab.moved(c["addr"], old_p, new_p)
            addrs = c["ns"].addrs("eth0")
            got = addrs.get(f"{new}/{c['plen']}")
            self.assertIsNotNone(got, f"{new} missing in {c['ns'].name}: {list(addrs)}")
            self.assertFalse(got.get("deprecated"), got)
            if ping:
                self.assertTrue(self.lab.host.ping(new), new)

    def env_run(self, env, *argv, check=True):
        e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        e.update(env)
        p = subprocess.run(
            ["ip", "netns", "exec", self.lab.host.name, ct.V6PDCTL, "--state-dir",
             self.lab.state, "prefix", "from-dhcp-env", *argv],
            env=dict(e, **self.lab.ctl_env()), capture_output=True, text=True, timeout=60)
        if check and p.returncode != 0:
            raise AssertionError(f"from-dhcp-env: exit {p.returncode}: {p.stderr}")
        return p

    def test_hundred_attachments(self):
        lab = self.lab
        bridged = self.attach(lab.net_conf(lab.id + "-b", mode="bridge"), 50, "b")
        routed = self.attach(lab.net_conf(lab.id + "-r", mode="routed"), 50, "r")
        cs = bridged + routed
        t = time.monotonic()
        out = json.loads(lab.v6pdctl("--json", "prefix", "set", B).stdout)
        took = time.monotonic() - t
        print(f"\n[prefix set: 100 attachments renumbered in {took * 1000:.0f} ms]",
              file=sys.stderr)
        self.assertTrue(out["changed"])
        rep = out["renumbered"]
        self.assertEqual((rep["pending"], rep["moved"], rep["interfaces"], rep["failed"]),
                         (100, 100, 100, 0), rep)
        self.assert_at(cs, A, B)
        # old addresses deprecated, then gone after the grace (5 s)
        for c in cs[:3] + cs[-3:]:
            old = c["ns"].addrs("eth0")[f"{c['addr']}/{c['plen']}"]
            self.assertTrue(old.get("deprecated"), old)
        rnlab.wait_for(lambda: all(f"{c['addr']}/{c['plen']}" not in c["ns"].addrs("eth0")
                                   for c in cs), 9, "old addresses gone")
        # the same prefix again: nothing
        out = json.loads(lab.v6pdctl("--json", "prefix", "set", B).stdout)
        self.assertEqual(out, {"prefix": B, "previous": B, "changed": False})
        # and back: the IIDs stay
        lab.v6pdctl("prefix", "set", A)
        self.assert_at(cs[::10], A, A)

    def test_run_cut_short_is_finished(self):
        lab = self.lab
        cs = self.attach(lab.net_conf(lab.id + "-b", mode="bridge"), 4, "b")
        # the state a crash right after the prefix changed in the store leaves: the new prefix
        # recorded, no attachment moved yet
        db = sqlite3.connect(os.path.join(lab.state, "leases.db"))
        db.execute("UPDATE meta SET v = ? WHERE k = 'prefix'", (B,))
        db.commit()
        db.close()
        self.assertEqual(lab.show()["pending"], 4)
        self.assertIn("4 leases not yet moved", lab.v6pdctl("prefix", "show").stdout)
        out = json.loads(lab.v6pdctl("--json", "renumber").stdout)
        self.assertEqual(out["renumbered"]["moved"], 4, out)
        self.assert_at(cs, A, B)
        self.assertEqual(lab.show()["pending"], 0)

    def test_leases_from_before_attachment_records(self):
        lab = self.lab
        cs = self.attach(lab.net_conf(lab.id + "-r", mode="routed"), 2, "r")
        db = sqlite3.connect(os.path.join(lab.state, "leases.db"))
        db.execute("DELETE FROM attachments")
        db.commit()
        db.close()
        lab.v6pdctl("prefix", "set", B)
        self.assert_at(cs, A, B)        # found through the netns, and the host route moved

    def test_netns_gone(self):
        lab = self.lab
        cs = self.attach(lab.net_conf(lab.id + "-b", mode="bridge"), 2, "b")
        ct.sh("ip", "netns", "del", cs[0]["ns"].name)
        out = json.loads(lab.v6pdctl("--json", "prefix", "set", B).stdout)
        rep = out["renumbered"]
        self.assertEqual((rep["moved"], rep["gone"], rep["failed"]), (2, 1, 0), rep)
        self.assert_at(cs[1:], A, B)

    def test_proxy_ndp_follows_and_drains(self):
        lab = self.lab
        up = lab.netns("u")
        ct.sh("ip", "link", "add", "up0", "netns", lab.host.name, "type", "veth", "peer",
              "name", "x", "netns", up.name)
        lab.host.ipc("link", "set", "up0", "up")
        cs = self.attach(lab.net_conf(lab.id + "-r", mode="routed", ndpProxy="up0"), 2, "r")

        def proxies():
            return {n["dst"] for n in lab.host.ip("-6", "neigh", "show", "proxy", "dev", "up0")}
        self.assertEqual(proxies(), {c["addr"] for c in cs})
        lab.v6pdctl("prefix", "set", B)
        new = {rnlab.moved(c["addr"], A, B) for c in cs}
        self.assertEqual(proxies(), new | {c["addr"] for c in cs})
        routes = {r["dst"]: r for r in lab.host.routes()}
        for c in cs:
            self.assertIn("expires", routes[c["addr"]], routes[c["addr"]])
        shown = lab.show()
        kinds = sorted(d["kind"] for d in shown["draining"])
        self.assertEqual(kinds, ["address"] * 2 + ["proxy"] * 2 + ["route"] * 2, shown)
        self.assertEqual(json.loads(lab.v6pdctl("--json", "renumber").stdout)["drained"], 0)
        time.sleep(5.5)
        out = json.loads(lab.v6pdctl("--json", "renumber").stdout)
        self.assertEqual((out["drained"], out["renumbered"]["pending"]), (6, 0), out)
        self.assertEqual(proxies(), new)
        routes = {r["dst"] for r in lab.host.routes()}
        self.assertFalse({c["addr"] for c in cs} & routes, routes)
        self.assertEqual(lab.show()["draining"], [])

    def test_ipam_role_under_reference_bridge(self):
        if not os.access(BRIDGE, os.X_OK):
            self.skipTest(f"{BRIDGE} missing (containernetworking-plugins)")
        lab = self.lab
        br = lab.name("br")
        conf = {"cniVersion": "1.0.0", "name": lab.id + "-i", "type": "bridge", "bridge": br,
                "isGateway": True,
                "ipam": {"type": "v6pd", "stateDir": lab.state, "renumberGrace": "5s"}}
        ns = lab.netns()
        res = lab.ok(lab.cni("ADD", conf, ns, "c1", args="IgnoreUnknown=1;K8S_POD_NAME=i0",
                             path=f"{ct.BIN}:{ct.REF_CNI}", plugin=BRIDGE))
        addr, plen = ct.addr_of(res)
        self.assertTrue(ns.wait_no_tentative("eth0"))
        lab.v6pdctl("prefix", "set", B)
        new = rnlab.moved(addr, A, B)
        gw = str(ipaddress.IPv6Network(f"{new}/64", strict=False).network_address + 1)
        self.assertIn(f"{new}/{plen}", ns.addrs("eth0"))
        self.assertIn(f"{gw}/64", lab.host.addrs(br))      # the bridge plugin's gateway
        self.assertEqual([r.get("gateway") for r in ns.routes("default")], [gw])
        self.assertTrue(lab.host.wait_no_tentative(br))
        self.assertTrue(lab.host.ping(new))
        self.assertTrue(ns.ping(gw))

    def check(self, conf, ns, cid, prev, ok=True, *needles):
        r = self.lab.cni("CHECK", dict(conf, prevResult=prev), ns, cid)
        if ok:
            self.assertEqual((r.rc, r.stdout.strip()), (0, ""), r)
        else:
            self.lab.fails(r, 104, *needles)
        return r

    @staticmethod
    def with_address(res, addr):
        out = json.loads(json.dumps(res))
        out["ips"][0]["address"] = addr
        return out

    def test_check_with_the_add_result_after_renumbering(self):
        """The runtime keeps the ADD result for the container's life and passes it to CHECK:
        after a renumbering it lists the address from before. CHECK passes (a failed CHECK may
        get the pod torn down) and checks the current address; an address the attachment
        never had still fails."""
        lab = self.lab
        for mode in ("bridge", "routed"):
            with self.subTest(mode=mode):
                lab.v6pdctl("prefix", "set", A)
                conf = lab.net_conf(f"{lab.id}-{mode[0]}", mode=mode)
                ns, other_ns = lab.netns(), lab.netns()
                res, cid = lab.add(conf, ns, args=f"K8S_POD_NAME={mode}0")
                other, _ = lab.add(conf, other_ns, args=f"K8S_POD_NAME={mode}1")
                addr, plen = ct.addr_of(res)
                self.check(conf, ns, cid, res)
                lab.v6pdctl("prefix", "set", B)
                new = rnlab.moved(addr, A, B)
                r = self.check(conf, ns, cid, res)
                self.assertIn(f"prevResult lists {addr}/{plen}", r.stderr)
                self.assertIn(f"moved it to {new}/{plen}", r.stderr)
                self.check(conf, ns, cid, self.with_address(res, f"{new}/{plen}"))
                # a foreign address: the other container's, before and after; a made-up one
                for bad in (ct.addr_of(other)[0], rnlab.moved(ct.addr_of(other)[0], A, B),
                            "2001:db8:ffff::1"):
                    self.check(conf, ns, cid, self.with_address(res, f"{bad}/{plen}"), False,
                               f"prevResult lists {bad}/{plen}", "never had",
                               f"holds {new}/{plen}")
                # its IID in a slice it never had, and its address with a wrong length
                slice_off = str(ipaddress.IPv6Address(int(ipaddress.IPv6Address(addr)) +
                                                      (1 << 64)))
                self.check(conf, ns, cid, self.with_address(res, f"{slice_off}/{plen}"), False,
                           "never had")
                self.check(conf, ns, cid, self.with_address(res, f"{addr}/{plen - 1}"), False,
                           f"{addr}/{plen - 1}", "never had")
                # a second renumbering, the first address gone for good, the prefix length
                # changed: the ADD result still passes
                lab.v6pdctl("prefix", "set", "2001:db8:c3::/48")
                now = rnlab.moved(addr, A, "2001:db8:c3::/48")
                rnlab.wait_for(lambda: [a for a in ns.addrs("eth0") if not a.startswith("fe80")]
                               == [f"{now}/{plen}"], 15, "the old addresses expire")
                lab.v6pdctl("renumber")
                self.check(conf, ns, cid, res)
                # and CHECK looks at the current address, not at the listed one
                ns.ipc("addr", "del", f"{now}/{plen}", "dev", "eth0")
                self.check(conf, ns, cid, res, False, f"{now}/{plen}", "missing")

    def test_check_in_the_ipam_role_after_renumbering(self):
        lab = self.lab
        conf = {"cniVersion": "1.1.0", "name": lab.id + "-i", "type": "bridge",
                "bridge": lab.name("br"),
                "ipam": {"type": "v6pd", "stateDir": lab.state, "renumberGrace": "5s"}}
        ns = lab.netns()
        res, cid = lab.add(conf, ns)
        addr, plen = ct.addr_of(res)
        lab.v6pdctl("prefix", "set", B)
        r = self.check(conf, ns, cid, res)
        self.assertIn(f"moved it to {rnlab.moved(addr, A, B)}/{plen}", r.stderr)
        self.check(conf, ns, cid, self.with_address(res, f"2001:db8:ffff::1/{plen}"), False,
                   "2001:db8:ffff::1", "never had")

    def test_prefix_too_small_changes_nothing(self):
        lab = self.lab
        cs = self.attach(lab.net_conf(lab.id + "-b", mode="bridge", subnetId=200), 1, "b")
        small = "2001:db8:d400::/60"
        p = self.env_run(dhcpcd_env((small, 300), (A, 0)), check=False)
        self.assertEqual(p.returncode, 1, p)
        self.assertIn(f"the delegated prefix {small} is refused (v6pd keeps {A}, nothing "
                      "changed)", p.stderr)
        self.assertIn("does not fit", p.stderr)
        self.assertEqual(lab.show()["prefix"], A)
        self.assertEqual(list(cs[0]["ns"].addrs("eth0")).count(f"{cs[0]['addr']}/64"), 1)
        self.assertTrue(lab.host.ping(cs[0]["addr"]))

    def test_withdraw_of_the_only_prefix_changes_nothing(self):
        lab = self.lab
        cs = self.attach(lab.net_conf(lab.id + "-b", mode="bridge"), 1, "b")
        self.env_run(dhcpcd_env((A, 300), reason="BOUND6"))
        p = self.env_run(dhcpcd_env((A, 0)))
        self.assertIn(f"no delegated prefix is valid now; v6pd keeps {A} and changes nothing",
                      p.stderr)
        p = self.env_run({"reason": "EXPIRE6", "interface": "wan0", "protocol": "dhcp6"})
        self.assertIn("changes nothing", p.stderr)
        self.assertEqual(lab.show()["prefix"], A)
        a = cs[0]["ns"].addrs("eth0")[f"{cs[0]['addr']}/64"]
        self.assertFalse(a.get("deprecated"), a)
        self.assertTrue(lab.host.ping(cs[0]["addr"]))
        # the delegation comes back with a new prefix: renumbered
        p = self.env_run(dhcpcd_env((B, 300), reason="BOUND6"))
        self.assertIn(f"dhcpcd BOUND6 on wan0: prefix {B} (was {A})", p.stdout)
        self.assert_at(cs, A, B)

    def test_choice_among_delegations(self):
        lab = self.lab
        env = dhcpcd_env((B, 300), reason="BOUND6")
        env.update({"new_dhcp6_ia_pd2_iaid": "0000000a", "new_dhcp6_ia_pd2_prefix1":
                    C.split("/")[0], "new_dhcp6_ia_pd2_prefix1_length": "56",
                    "new_dhcp6_ia_pd2_prefix1_vltime": "900"})
        # another interface's delegation: ignored
        p = self.env_run(env, "--pd-interface", "eth7")
        self.assertIn("nothing for v6pd", p.stdout)
        self.assertEqual(lab.show()["prefix"], A)
        # IAID 1 on wan0
        self.env_run(env, "--pd-interface", "wan0", "--pd-iaid", "1")
        self.assertEqual(lab.show()["prefix"], B)
        # from the host config: IAID 10
        with open(lab.conf_file, "w", encoding="utf-8") as f:
            json.dump({"renumberGrace": "5s", "pdInterface": "wan0", "pdIaid": "0000000a"}, f)
        self.env_run(env)
        self.assertEqual(lab.show()["prefix"], C)
        # without a choice: the current one while valid
        with open(lab.conf_file, "w", encoding="utf-8") as f:
            json.dump({}, f)
        self.env_run(env)
        self.assertEqual(lab.show()["prefix"], C)

    def test_not_a_dhcp_environment(self):
        p = self.env_run({"PATH": "/usr/bin:/bin"}, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("no DHCPv6 client hook environment", p.stderr)
        p = self.env_run(dict(dhcpcd_env((B, 300)), new_dhcp6_ia_pd1_prefix1_length="x"),
                         check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("new_dhcp6_ia_pd1_prefix1_length", p.stderr)
        self.assertEqual(self.lab.show()["prefix"], A)


if __name__ == "__main__":
    unittest.main(verbosity=2)
