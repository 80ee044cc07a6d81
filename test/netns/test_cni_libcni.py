#!/usr/bin/env python3
"""v6pd driven by libcni, the library containerd's CRI plugin (and Podman's CNI backend)
use: ../shared/tools/cnitool-lite, built once per run from Debian's packages, runs add,
check and del on conflists in a private NETCONFPATH, with libcni's own result cache
(prevResult on CHECK and DEL). Debian 12's libcni (1.1.2) predates GC and STATUS: those are
sent to the plugin directly, built the way libcni 1.2 builds them from the same conflist.
The plugin runs inside a per-test "host" netns, as in the other netns tests."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cnitest  # noqa: E402
from cnitest import Lab  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("V6PD_SRC") or os.path.join(HERE, "..", "..")
BUILD_SH = os.path.normpath(os.path.join(SRC, "..", "shared", "tools", "cnitool-lite",
                                         "build.sh"))
if not os.path.exists(BUILD_SH):
    BUILD_SH = "/work/shared/tools/cnitool-lite/build.sh"
TOOL = None
_tool_dir = None


def setUpModule():
    global TOOL, _tool_dir
    cnitest.require_root()
    if os.environ.get("V6PD_CNITOOL"):
        TOOL = os.environ["V6PD_CNITOOL"]
        return
    if not os.path.exists(BUILD_SH):
        raise unittest.SkipTest(f"cnitool-lite's build script {BUILD_SH} is missing")
    _tool_dir = tempfile.mkdtemp(prefix=cnitest.RUN + "-cnitool-")
    out = os.path.join(_tool_dir, "cnitool-lite")
    p = subprocess.run([BUILD_SH, out], capture_output=True, text=True, timeout=1200)
    if p.returncode != 0 or not os.access(out, os.X_OK):
        tail = (p.stdout + p.stderr).strip().splitlines()[-5:]
        raise unittest.SkipTest("cannot build cnitool-lite (needs golang-go and "
                                "golang-github-appc-cni-dev from Debian's mirror): "
                                + " | ".join(tail))
    TOOL = out


def tearDownModule():
    if _tool_dir:
        shutil.rmtree(_tool_dir, ignore_errors=True)


class Libcni(unittest.TestCase):
    def setUp(self):
        self.lab = Lab(self)
        self.netconfpath = tempfile.mkdtemp(prefix=self.lab.id + "-netd-",
                                            dir=cnitest.tmp_root())
        self.cache = tempfile.mkdtemp(prefix=self.lab.id + "-cache-", dir=cnitest.tmp_root())

    def conflist(self, version, plugins, name=None):
        name = name or self.lab.net
        cl = {"cniVersion": version, "name": name, "plugins": plugins}
        with open(os.path.join(self.netconfpath, name + ".conflist"), "w") as f:
            json.dump(cl, f)
        return cl

    def tool(self, verb, ns, cid, ifname="eth0", args="", name=None, path=None):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "NETCONFPATH": self.netconfpath, "CNI_CACHEDIR": self.cache,
               "CNI_PATH": path or cnitest.BIN, "CNI_CONTAINERID": cid, "CNI_IFNAME": ifname,
               "CNI_ARGS": args}
        argv = ["ip", "netns", "exec", self.lab.host.name, TOOL, verb, name or self.lab.net,
                ns.path if isinstance(ns, cnitest.NS) else ns]
        p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
        return cnitest.Result(argv, p.returncode, p.stdout, p.stderr)

    def plugin_conf(self, cl, i=0, version=None):
        """One plugin's config as libcni builds it from a conflist."""
        c = dict(cl["plugins"][i], name=cl["name"], cniVersion=version or cl["cniVersion"])
        return c

    def v6pd(self, mode="bridge", **kw):
        return dict({"type": "v6pd", "mode": mode, "bridge": self.lab.name("br"),
                     "prefix": self.lab.prefix, "stateDir": self.lab.state, "mtu": 1400}, **kw)

    def add_check_del(self, version, mode):
        lab = self.lab
        cl = self.conflist(version, [self.v6pd(mode)])
        ns = lab.netns()
        args = "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=pod1"
        r = self.tool("add", ns, "ctr1", args=args)
        res = lab.ok(r)
        addr = cnitest.check_add_result(self, lab, res, version, ns, "eth0", mode, mtu=1400)
        lease = lab.lease_for("ctr1")
        self.assertEqual((lease["address"], lease["key"], lease["state"]),
                         (addr, "ns1/pod1", "active"))
        r = self.tool("check", ns, "ctr1", args=args)
        self.assertEqual(r.rc, 0, r)
        # break it: libcni's CHECK reports the plugin's precise message
        plen = 64 if mode == "bridge" else 128
        ns.ipc("addr", "del", f"{addr}/{plen}", "dev", "eth0")
        r = self.tool("check", ns, "ctr1", args=args)
        self.assertNotEqual(r.rc, 0, r)
        self.assertIn(f"address {addr}/{plen} is missing", r.stderr)
        r = self.tool("del", ns, "ctr1", args=args)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(lab.host_veths(), {})
        self.assertIsNone(ns.link("eth0"))
        self.assertEqual(lab.lease_for("ctr1")["state"], "reserved")
        # libcni dropped its cache: a second DEL goes without prevResult
        r = self.tool("del", ns, "ctr1", args=args)
        self.assertEqual(r.rc, 0, r)
        # the pod again, in a new sandbox: same address
        ns2 = lab.netns()
        res2 = lab.ok(self.tool("add", ns2, "ctr2", args=args))
        self.assertEqual(cnitest.addr_of(res2)[0], addr)
        self.assertTrue(lab.host.ping(addr) if mode == "bridge" else True)
        return cl, ns2

    def test_bridge_1_0_0(self):
        cl, ns = self.add_check_del("1.0.0", "bridge")
        self.assertEqual(self.tool("del", ns, "ctr2").rc, 0)

    def test_routed_0_4_0(self):
        cl, ns = self.add_check_del("0.4.0", "routed")
        self.assertEqual(self.tool("del", ns, "ctr2").rc, 0)

    def test_gc_and_status_as_libcni_1_2_sends_them(self):
        lab = self.lab
        cl = self.conflist("1.0.0", [self.v6pd()])
        keep, drop = lab.netns(), lab.netns()
        lab.ok(self.tool("add", keep, "keep"))
        lab.ok(self.tool("add", drop, "drop"))
        conf = self.plugin_conf(cl, version="1.1.0")
        r = lab.cni("STATUS", conf, None, None, None)
        self.assertEqual((r.rc, r.stdout.strip()), (0, ""), r)
        gc = dict(conf, **{"cni.dev/valid-attachments": [
            {"containerID": "keep", "ifname": "eth0"}]})
        r = lab.cni("GC", gc, None, None, None)
        self.assertEqual((r.rc, r.stdout.strip()), (0, ""), r)
        self.assertEqual(lab.lease_for("drop")["state"], "reserved")
        self.assertIsNone(drop.link("eth0"))
        self.assertEqual(len(lab.host_veths()), 1)
        # libcni still manages what GC kept
        self.assertEqual(self.tool("check", keep, "keep").rc, 0)
        self.assertEqual(self.tool("del", keep, "keep").rc, 0)
        self.assertEqual(lab.host_veths(), {})
        # and the DEL libcni sends for the collected one later is fine
        self.assertEqual(self.tool("del", drop, "drop").rc, 0)
        # STATUS without any prefix: 50
        conf = self.plugin_conf(self.conflist("1.0.0", [self.v6pd(prefix=None)], name="nopfx"),
                                version="1.1.0")
        conf.pop("prefix")
        lab.fails(lab.cni("STATUS", conf, None, None, None), 50, "prefix")

    def test_ipam_role_under_reference_bridge(self):
        lab = self.lab
        bridge = os.path.join(cnitest.REF_CNI, "bridge")
        if not os.access(bridge, os.X_OK):
            self.skipTest(f"{bridge} missing")
        cl = self.conflist("1.0.0", [{
            "type": "bridge", "bridge": lab.name("rb"), "isGateway": True,
            "ipam": {"type": "v6pd", "prefix": lab.prefix, "stateDir": lab.state}}])
        ns = lab.netns()
        path = f"{cnitest.BIN}:{cnitest.REF_CNI}"
        res = lab.ok(self.tool("add", ns, "c1", args="IgnoreUnknown=1;K8S_POD_NAME=web",
                                     path=path))
        addr = cnitest.addr_of(res)[0]
        self.assertEqual(lab.lease_for("c1")["address"], addr)
        self.assertIn(f"{addr}/64", ns.addrs("eth0"))
        self.assertTrue(lab.host.wait_no_tentative(cl["plugins"][0]["bridge"]))
        self.assertTrue(lab.host.ping(addr))
        self.assertEqual(self.tool("check", ns, "c1", path=path).rc, 0)
        self.assertEqual(self.tool("del", ns, "c1", path=path).rc, 0)
        self.assertEqual(lab.lease_for("c1")["state"], "reserved")

    def test_add_error_reaches_the_caller(self):
        lab = self.lab
        self.conflist("1.0.0", [self.v6pd(maxLeases=1)])
        lab.ok(self.tool("add", lab.netns(), "one"))
        ns = lab.netns()
        before = lab.snapshot(ns)
        r = self.tool("add", ns, "two")
        self.assertNotEqual(r.rc, 0, r)
        self.assertIn("maxLeases 1", r.stderr)
        self.assertEqual(lab.snapshot(ns), before)


if __name__ == "__main__":
    cnitest.main()
