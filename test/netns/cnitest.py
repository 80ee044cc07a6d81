"""Shared helpers for the CNI plugin's integration tests in real network namespaces.

Every test gets a Lab: its own "host" netns (the plugin runs inside it through
`ip netns exec`, so the real host's links and sysctls are never touched), its own state
directory and IPv6 prefix, and container namespaces made on demand.

How the plugin enters the host netns decides who runs a call (cni-plugin/serve.h):
`ip netns exec` gives every call a mount namespace of its own, so the lingering server
(`v6pd --serve`, serving callers of its own mount namespace) declines and each call runs in
its own process; with V6PD_TEST_ENTER=nsenter the calls keep the test's mount namespace
(`nsenter --net`, as a runtime calls a plugin) and, after the first, the server runs them.
ctest runs the verb, mode, key, IPAM and error suites both ways. A Lab stops the servers
of its state directory by PID when it ends. Every name carries a
random per-run prefix; namespaces and directories go in the test's cleanups, and at exit
anything left with this run's prefix is removed.

The plugin is driven exactly as a runtime drives it: CNI_* variables in the environment,
the netconf JSON on stdin, the result or error JSON on stdout. What it did is checked
independently: `ip -j` inside the namespaces and `v6pdctl --json leases` on the store.
"""
import atexit
import ipaddress
import itertools
import json
import os
import random
import re
import secrets
import shutil
import subprocess
import tempfile
import time
import unittest

from cniserve import servers, stop_servers  # noqa: F401 (tests use cnitest.servers)

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ.get("V6PD_BIN") or os.path.join(HERE, "..", "..", "build", "bin")
ENTER = os.environ.get("V6PD_TEST_ENTER", "ip")  # "ip": ip netns exec; "nsenter"
V6PD = os.path.join(BIN, "v6pd")
V6PDCTL = os.path.join(BIN, "v6pdctl")
REF_CNI = "/usr/lib/cni"

# a per-run prefix for every name made here: namespaces, links, directories
RUN = "v6t" + secrets.token_hex(2)
_seq = itertools.count()
_tmp_root = None


def tmp_root():
    global _tmp_root
    if _tmp_root is None:
        _tmp_root = tempfile.mkdtemp(prefix=RUN + "-")
    return _tmp_root


def sh(*argv, check=True, input=None, timeout=60):
    p = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(argv)}: exit {p.returncode}: {p.stderr.strip()}")
    return p


def _cleanup_run():
    for line in sh("ip", "netns", "list", check=False).stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        if name.startswith(RUN):
            sh("ip", "netns", "del", name, check=False)
    if _tmp_root:
        shutil.rmtree(_tmp_root, ignore_errors=True)


atexit.register(_cleanup_run)


def require_root():
    """Raises SkipTest unless we can make network namespaces and run the plugin."""
    if os.geteuid() != 0:
        raise unittest.SkipTest("needs root (ip netns)")
    if not shutil.which("ip"):
        raise unittest.SkipTest("needs iproute2")
    for b in (V6PD, V6PDCTL):
        if not os.access(b, os.X_OK):
            raise unittest.SkipTest(f"{b} is not built (set V6PD_BIN)")


class NS:
    """A network namespace made by a test."""

    def __init__(self, name):
        self.name = name
        self.path = f"/run/netns/{name}"

    def run(self, *argv, check=True, timeout=60):
        return sh("ip", "netns", "exec", self.name, *argv, check=check, timeout=timeout)

    def ip(self, *argv, check=True):
        """`ip -j ARGS` inside the netns, parsed ([] for no output)."""
        p = sh("ip", "-n", self.name, "-j", *argv, check=check)
        out = p.stdout.strip()
        return json.loads(out) if out else []

    def ipc(self, *argv, check=True):
        """`ip ARGS` inside the netns, for changes."""
        return sh("ip", "-n", self.name, *argv, check=check)

    def links(self):
        return {l["ifname"]: l for l in self.ip("-d", "link", "show")}

    def link(self, name):
        got = self.ip("-d", "link", "show", "dev", name, check=False)
        return got[0] if got else None

    def addrs(self, dev):
        """{"addr/len": addr_info} of the IPv6 addresses on dev."""
        out = {}
        for l in self.ip("-6", "addr", "show", "dev", dev):
            for a in l.get("addr_info", []):
                out[f"{a['local']}/{a['prefixlen']}"] = a
        return out

    def routes(self, *argv):
        return self.ip("-6", "route", "show", *argv)

    def sysctl(self, key):
        return int(self.run("cat", "/proc/sys/net/ipv6/conf/" + key.replace(".", "/"))
                   .stdout.strip())

    def ping(self, addr, count=1, tries=5):
        """True once a ping from this netns to addr is answered (a few tries)."""
        for _ in range(tries):
            p = self.run("ping", "-6", "-n", "-c", str(count), "-W", "1", addr, check=False,
                         timeout=10)
            if p.returncode == 0:
                return True
        return False

    def wait_no_tentative(self, dev, timeout=10.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            infos = self.addrs(dev).values()
            if infos and not any(a.get("tentative") for a in infos):
                return True
            time.sleep(0.05)
        return False


class Result:
    def __init__(self, argv, rc, stdout, stderr):
        self.argv, self.rc, self.stdout, self.stderr = argv, rc, stdout, stderr
        try:
            self.json = json.loads(stdout) if stdout.strip() else None
        except ValueError:
            self.json = None

    @property
    def code(self):
        return self.json.get("code") if isinstance(self.json, dict) else None

    @property
    def msg(self):
        return self.json.get("msg", "") if isinstance(self.json, dict) else ""

    def __repr__(self):
        return f"exit {self.rc}, stdout {self.stdout.strip()!r}, stderr {self.stderr.strip()!r}"


def random_prefix(length=56):
    """A random documentation prefix (2001:db8::/32) of the given length."""
    net = ipaddress.IPv6Network("2001:db8::/32")
    bits = length - 32
    sub = random.getrandbits(bits) << (128 - length)
    return str(ipaddress.IPv6Network((int(net.network_address) + sub, length)))


class Lab:
    """One test's world: a host netns, container namespaces, a state dir and a prefix."""

    def __init__(self, tc, host=True):
        self.tc = tc
        self.id = f"{RUN}{next(_seq):02d}"
        self.prefix = random_prefix(56)
        self.state = tempfile.mkdtemp(prefix=self.id + "-state-", dir=tmp_root())
        tc.addCleanup(shutil.rmtree, self.state, True)
        tc.addCleanup(stop_servers, self.state)
        self.net = self.id + "-net"
        self._n = itertools.count()
        self.host = self.netns("h") if host else None

    def name(self, tag):
        return f"{self.id}{tag}"

    def netns(self, tag=None):
        name = self.name(tag if tag is not None else f"c{next(self._n)}")
        sh("ip", "netns", "add", name)
        self.tc.addCleanup(sh, "ip", "netns", "del", name, check=False)
        sh("ip", "-n", name, "link", "set", "lo", "up")
        return NS(name)

    def conf(self, version="1.1.0", **kw):
        c = {"cniVersion": version, "name": self.net, "type": "v6pd",
             "prefix": self.prefix, "stateDir": self.state}
        for k, v in kw.items():
            if v is None:
                c.pop(k, None)
            else:
                c[k] = v
        return c

    def env(self, cmd, netns=None, cid=None, ifname="eth0", args=None, path=None):
        e = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
             "CNI_COMMAND": cmd}
        if cid is not None:
            e["CNI_CONTAINERID"] = cid
        if netns is not None:
            e["CNI_NETNS"] = netns.path if isinstance(netns, NS) else netns
        if ifname is not None:
            e["CNI_IFNAME"] = ifname
        if args is not None:
            e["CNI_ARGS"] = args
        e["CNI_PATH"] = path if path is not None else BIN
        return e

    def popen(self, cmd, conf, netns=None, cid=None, ifname="eth0", args=None, path=None,
              plugin=V6PD, env=None, stdin=None):
        """Starts the plugin inside the host netns with stdin written and closed."""
        e = self.env(cmd, netns, cid, ifname, args, path)
        if env:
            e.update(env)
        if not self.host:
            argv = [plugin]
        elif ENTER == "nsenter":
            argv = ["nsenter", f"--net={self.host.path}", plugin]
        else:
            argv = ["ip", "netns", "exec", self.host.name, plugin]
        data = stdin if stdin is not None else json.dumps(conf)
        p = subprocess.Popen(argv, env=e, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        p.v6pd_input = data
        p.v6pd_argv = argv
        return p

    @staticmethod
    def finish(p, timeout=60):
        out, err = p.communicate(p.v6pd_input, timeout=timeout)
        return Result(p.v6pd_argv, p.returncode, out, err)

    def cni(self, cmd, conf, netns=None, cid=None, ifname="eth0", args=None, path=None,
            plugin=V6PD, env=None, stdin=None, timeout=60):
        return self.finish(self.popen(cmd, conf, netns, cid, ifname, args, path, plugin, env,
                                      stdin), timeout)

    # ---- asserting helpers ----

    def ok(self, r):
        self.tc.assertEqual(r.rc, 0, f"plugin failed: {r}")
        return r.json

    def fails(self, r, code=None, *needles):
        """Asserts a CNI error result: exit non-zero, error JSON with code and msg."""
        self.tc.assertNotEqual(r.rc, 0, f"plugin should have failed: {r}")
        self.tc.assertIsInstance(r.json, dict, f"no error JSON on stdout: {r}")
        self.tc.assertIn("msg", r.json, r)
        self.tc.assertIsInstance(r.json.get("code"), int, r)
        if code is not None:
            self.tc.assertEqual(r.json["code"], code, r)
        for n in needles:
            self.tc.assertIn(n, r.json["msg"], r)
        return r.json

    def add(self, conf, netns, cid=None, **kw):
        cid = cid or secrets.token_hex(8)
        return self.ok(self.cni("ADD", conf, netns, cid, **kw)), cid

    def ctl(self, *argv, check=True):
        return sh(V6PDCTL, "--state-dir", self.state, *argv, check=check)

    def leases(self, network=None):
        argv = ["--json", "leases"] + (["--network", network] if network else [])
        p = self.ctl(*argv)
        return json.loads(p.stdout) if p.stdout.strip() else []

    def lease_for(self, cid, ifname="eth0"):
        got = [l for l in self.leases() if l["containerId"] == cid and l["ifname"] == ifname]
        self.tc.assertLessEqual(len(got), 1, got)
        return got[0] if got else None

    def host_veths(self):
        """The plugin's host ends in the host netns: veths named v6pd + 11 hex digits."""
        return {n: l for n, l in self.host.links().items()
                if re.fullmatch(r"v6pd[0-9a-f]{11}", n)
                and l.get("linkinfo", {}).get("info_kind") == "veth"}

    def host_bridges(self):
        return {n for n, l in self.host.links().items()
                if l.get("linkinfo", {}).get("info_kind") == "bridge"}

    def snapshot(self, *nss):
        """What a failed ADD must leave unchanged: links of the host and the given netns,
        and the store's leases."""
        return {"host": sorted(self.host.links()),
                "ns": {ns.name: sorted(ns.links()) for ns in nss},
                "leases": sorted((l["network"], l["key"], l["address"], l["state"],
                                  l["containerId"]) for l in self.leases())}


def check_add_result(tc, lab, res, version, ns, ifname, mode, mtu=None):
    """Checks an ADD result against the CNI spec and against the kernel; returns the lease
    address. mode: "bridge" or "routed" (host ends present) or "ipam" (none)."""
    tc.assertEqual(res["cniVersion"], version, res)
    tc.assertEqual(set(res) - {"cniVersion", "interfaces", "ips", "routes", "dns"}, set(), res)
    # "dns" is one of a 1.x result's keys; before 1.0 it is optional (left out when empty)
    if not version.startswith("0.") or "dns" in res:
        tc.assertIsInstance(res.get("dns"), dict, res)
    ips = res["ips"]
    tc.assertEqual(len(ips), 1, res)
    ip = ips[0]
    addr, plen = ip["address"].split("/")
    plen = int(plen)
    if version.startswith("0."):
        tc.assertEqual(ip.get("version"), "6", res)
    else:
        tc.assertNotIn("version", ip, res)
    tc.assertEqual(res["routes"], [{"dst": "::/0", "gw": ip["gateway"]}], res)
    if mode == "ipam":
        tc.assertNotIn("interfaces", res, res)
        tc.assertNotIn("interface", ip, res)
        return addr
    tc.assertEqual(ip["gateway"], "fe80::1", res)
    tc.assertEqual(plen, 64 if mode == "bridge" else 128, res)
    ifs = res["interfaces"]
    tc.assertIsInstance(ip.get("interface"), int, res)
    inside = ifs[ip["interface"]]
    tc.assertEqual(inside["name"], ifname, res)
    tc.assertEqual(inside.get("sandbox"), ns.path, res)
    sandboxed = [i for i in ifs if "sandbox" in i]
    tc.assertEqual(len(sandboxed), 1, res)
    host_links = lab.host.links()
    for i in ifs:
        tc.assertEqual("mtu" in i, version == "1.1.0", f"mtu only in 1.1.0 results: {res}")
        link = ns.link(i["name"]) if "sandbox" in i else host_links.get(i["name"])
        tc.assertIsNotNone(link, f"result names {i['name']}, which does not exist: {res}")
        tc.assertEqual(i.get("mac"), link["address"], f"{i['name']}: mac in the result")
        if "mtu" in i:
            tc.assertEqual(i["mtu"], link["mtu"], f"{i['name']}: mtu in the result")
        if mtu is not None:
            tc.assertEqual(link["mtu"], mtu, i["name"])
    hosts = [i for i in ifs if "sandbox" not in i]
    tc.assertEqual(len(hosts), 2 if mode == "bridge" else 1, res)
    # the kernel agrees: address (no DAD), default route
    a = ns.addrs(ifname).get(f"{addr}/{plen}")
    tc.assertIsNotNone(a, f"{addr}/{plen} not on {ifname}: {ns.addrs(ifname)}")
    tc.assertTrue(a.get("nodad"), a)
    tc.assertFalse(a.get("tentative"), a)
    default = [r for r in ns.routes("default") if r.get("dev") == ifname]
    tc.assertEqual(len(default), 1, default)
    tc.assertEqual(default[0].get("gateway"), "fe80::1", default)
    return addr


def addr_of(result):
    """The single address of an ADD result, as (address, prefixlen)."""
    ips = result["ips"]
    a, l = ips[0]["address"].split("/")
    return a, int(l)


def in_prefix(addr, prefix):
    return ipaddress.IPv6Address(addr) in ipaddress.IPv6Network(prefix)


def slice_gw(slice_):
    n = ipaddress.IPv6Network(slice_)
    return str(n.network_address + 1)


def main():
    unittest.main(verbosity=2)
