"""common/dnsmasq.c against the real dnsmasq and a real DHCPv6 client (label netns, root).

A private "host" netns holds a bridge (fe80::1 and PFX::1/64, as v6pd's bridge mode leaves
it) with two clients behind veths with fixed MACs, and a routed link (a veth whose host end
is no bridge: fe80::1 and PFX2::1/64 noprefixroute plus a /128 route, as the routed-tap
recipe of TESTING.md) with a third. dnsmasq is driven through test/dnsmasq-ctl (the module's
functions one per call) inside the host netns; each client runs dhcpcd (dhcpcd-base, the
client the test guest runs) one-shot in its own netns, with private /run and
/var/lib/dhcpcd bind-mounted over as TESTING.md says. Everything is named with a random
per-run prefix; dnsmasq processes are stopped by PID and the namespaces deleted at exit.
"""
import atexit
import glob
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("V6PD_SRC", os.path.dirname(os.path.dirname(HERE)))
TEST_BIN = os.environ.get("V6PD_TEST_BIN", os.path.join(SRC, "build", "test"))
CTL = os.path.join(TEST_BIN, "dnsmasq-ctl")
HOOK = os.path.join(os.environ.get("V6PD_BIN", os.path.join(SRC, "build", "bin")),
                    "v6pd-libvirt-hook")
LIBVIRT_PID_DIR = "/run/libvirt/network"     # libvirt's dnsmasq: NETWORK.pid
RUN = "v6d" + secrets.token_hex(2)
PFX = "2001:db8:%x" % (0x1000 + secrets.randbelow(0xe000))
PFX2 = "2001:db8:%x" % (0x1000 + secrets.randbelow(0xe000))
# an /80 slice (sliceLength 80): 5 groups, then ::
PFX80 = "2001:db8:%x:1:2" % (0x1000 + secrets.randbelow(0xe000))
PFX5 = "2001:db8:%x:5" % (0x1000 + secrets.randbelow(0xe000))
PFX6 = "2001:db8:%x:6" % (0x1000 + secrets.randbelow(0xe000))
MACS = {"c1": "52:54:00:d1:00:01", "c2": "52:54:00:d1:00:02", "c3": "52:54:00:d1:00:03",
        "c4": "52:54:00:d1:00:04", "c5": "52:54:00:d1:00:05", "c6": "52:54:00:d1:00:06"}


def sh(*argv, check=True, timeout=60, env=None):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
    if check and p.returncode != 0:
        raise AssertionError("%s: exit %d\nstdout: %s\nstderr: %s" % (
            " ".join(argv), p.returncode, p.stdout.strip(), p.stderr.strip()))
    return p


def our_dnsmasqs(conf):
    """PIDs of live (not zombie) dnsmasq processes started with --conf-file=conf."""
    pids = []
    for d in glob.glob("/proc/[0-9]*"):
        try:
            with open(d + "/cmdline", "rb") as f:
                args = f.read().split(b"\0")
            with open(d + "/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if ("--conf-file=" + conf).encode() in args and state not in ("Z", "X"):
            pids.append(int(d[6:]))
    return sorted(pids)


def kill_group(p):
    """SIGTERM, then SIGKILL, to the process group of p (a Popen or a pgid): dhcpcd's
    privilege-separation helpers outlive a killed parent."""
    pgid = p.pid if hasattr(p, "pid") else p
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                break
            if hasattr(p, "poll"):
                p.poll()
            time.sleep(0.02)
    if hasattr(p, "wait"):
        p.wait()


class Lab:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix=RUN + "-")
        os.chmod(self.tmp, 0o711)   # dnsmasq runs as nobody: it must traverse to the state dir
        self.host = RUN + "-h"
        self.ns = {}
        self.state_dirs = []
        self.pgids = []
        sh("ip", "netns", "add", self.host)
        self.hsh("ip", "link", "set", "lo", "up")
        self.hsh("sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
        self.hsh("ip", "link", "add", "br0", "type", "bridge")
        self.hsh("sysctl", "-qw", "net.ipv6.conf.br0.addr_gen_mode=1")
        self.hsh("ip", "link", "set", "br0", "up")
        self.hsh("ip", "-6", "addr", "add", "fe80::1/64", "dev", "br0", "nodad")
        self.hsh("ip", "-6", "addr", "add", PFX + "::1/64", "dev", "br0", "nodad")
        self.hsh("ip", "link", "add", "br8", "type", "bridge")
        self.hsh("sysctl", "-qw", "net.ipv6.conf.br8.addr_gen_mode=1")
        self.hsh("ip", "link", "set", "br8", "up")
        self.hsh("ip", "-6", "addr", "add", "fe80::1/64", "dev", "br8", "nodad")
        self.hsh("ip", "-6", "addr", "add", PFX80 + "::1/80", "dev", "br8", "nodad")
        for c, br in (("c1", "br0"), ("c2", "br0"), ("c3", None), ("c4", "br8")):
            self.client(c, br)
        # c3: routed, the host end is "rt3" (no bridge), like a routed tap
        self.hsh("sysctl", "-qw", "net.ipv6.conf.rt3.addr_gen_mode=1")
        self.hsh("ip", "link", "set", "rt3", "down")
        self.hsh("ip", "link", "set", "rt3", "up")
        self.hsh("ip", "-6", "addr", "flush", "dev", "rt3")
        self.hsh("ip", "-6", "addr", "add", "fe80::1/64", "dev", "rt3", "nodad")
        self.hsh("ip", "-6", "addr", "add", PFX2 + "::1/64", "dev", "rt3", "nodad",
                 "noprefixroute")
        self.hsh("ip", "-6", "route", "add", PFX2 + "::30/128", "dev", "rt3")

    def client(self, c, bridge, host_end=None):
        ns = "%s-%s" % (RUN, c)
        sh("ip", "netns", "add", ns)
        self.ns[c] = ns
        host_end = host_end or ("rt3" if bridge is None else "p" + c)
        self.hsh("ip", "link", "add", host_end, "type", "veth", "peer", "name", "eth0",
                 "netns", ns, "address", MACS[c])
        if bridge:
            self.hsh("ip", "link", "set", host_end, "master", bridge)
        self.hsh("ip", "link", "set", host_end, "up")
        d = os.path.join(self.tmp, c)
        for sub in ("run", "db"):
            os.makedirs(os.path.join(d, sub))
        with open(os.path.join(d, "dhcpcd.conf"), "w") as f:
            # persistent: the address stays when the test stops dhcpcd, for pings
            f.write("ipv6only\nallowinterfaces eth0\npersistent\noption dhcp6_name_servers\n"
                    "script %s/hook\n" % d)
        with open(os.path.join(d, "hook"), "w") as f:
            f.write("#!/bin/sh\nenv > %s/env.$$\n" % d)
        os.chmod(os.path.join(d, "hook"), 0o755)
        sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")

    def routed_tap(self, c, host_end, pfx):
        """Client c behind host_end set up as the hook sets up a routed tap: fe80::1 its
        only link-local, pfx::1/64 without a prefix route, pfx::N/128 routed to it."""
        self.client(c, None, host_end=host_end)
        self.hsh("sysctl", "-qw", "net.ipv6.conf.%s.addr_gen_mode=1" % host_end)
        self.hsh("ip", "link", "set", host_end, "down")
        self.hsh("ip", "link", "set", host_end, "up")
        self.hsh("ip", "-6", "addr", "flush", "dev", host_end)
        self.hsh("ip", "-6", "addr", "add", "fe80::1/64", "dev", host_end, "nodad")
        self.hsh("ip", "-6", "addr", "add", pfx + "::1/64", "dev", host_end, "nodad",
                 "noprefixroute")
        self.hsh("ip", "-6", "route", "add", pfx + "::%s/128" % c[1:], "dev", host_end)
        return pfx + "::%s" % c[1:]

    def hsh(self, *argv, check=True, env=None, timeout=60):
        return sh("ip", "netns", "exec", self.host, *argv, check=check, env=env,
                  timeout=timeout)

    def state_dir(self):
        d = os.path.join(self.tmp, "state%d" % len(self.state_dirs))
        self.state_dirs.append(d)
        return d

    def ctl(self, sd, *args, check=True, env=None):
        p = self.hsh(CTL, sd, *args, check=check, env=env)
        return p

    def dhcp(self, c, new_duid=False, timeout=20, want_env=None):
        """Runs dhcpcd in client c from a clean interface until it has a global address (or
        timeout s), then kills it: (global /128 addresses, routes, seconds, its log). With
        want_env, also waits for its hook to have seen that variable; the hook's environment
        is then in self.hook_env."""
        ns, d = self.ns[c], os.path.join(self.tmp, c)
        for f in glob.glob(os.path.join(d, "db", "*")) + glob.glob(os.path.join(d, "env.*")):
            if new_duid or not f.endswith("/duid"):
                os.unlink(f)
        sh("ip", "-n", ns, "-6", "addr", "flush", "dev", "eth0", "scope", "global")
        sh("ip", "-n", ns, "-6", "route", "flush", "dev", "eth0", "proto", "ra")
        script = ("mount --bind {d}/run /run && mount --bind {d}/db /var/lib/dhcpcd && "
                  "exec dhcpcd -6 -B -d -f {d}/dhcpcd.conf eth0").format(d=d)
        logpath = os.path.join(d, "dhcpcd.log")
        t0 = time.monotonic()
        with open(logpath, "w") as log:
            p = subprocess.Popen(["ip", "netns", "exec", ns, "sh", "-c", script],
                                 stdout=log, stderr=log, start_new_session=True)
        self.pgids.append(p.pid)
        addrs, routes, took = [], "", None
        try:
            while time.monotonic() - t0 < timeout and p.poll() is None:
                addrs = re.findall(r"inet6 ([0-9a-f:]+)/128 scope global", sh(
                    "ip", "-n", ns, "-6", "addr", "show", "dev", "eth0").stdout)
                env = self.read_env(d)
                if addrs and took is None:
                    took = time.monotonic() - t0
                if addrs and (not want_env or want_env in env):
                    time.sleep(0.3)     # the routes from the RA come with the address
                    break
                time.sleep(0.05)
            addrs = re.findall(r"inet6 ([0-9a-f:]+)/128 scope global", sh(
                "ip", "-n", ns, "-6", "addr", "show", "dev", "eth0").stdout)
            routes = sh("ip", "-n", ns, "-6", "route", "show").stdout
            self.hook_env = self.read_env(d)
        finally:
            kill_group(p)
        with open(logpath) as f:
            return addrs, routes, took, f.read()

    @staticmethod
    def read_env(d):
        env = ""
        for f in sorted(glob.glob(os.path.join(d, "env.*"))):
            with open(f) as fh:
                env += fh.read()
        return env

    def cleanup(self):
        for g in self.pgids:
            kill_group(g)
        for sd in self.state_dirs:
            for pid in our_dnsmasqs(os.path.join(sd, "dnsmasq", "dnsmasq.conf")):
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for ns in list(self.ns.values()) + [self.host]:
            sh("ip", "netns", "del", ns, check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)


LAB = None


def setUpModule():
    global LAB
    if os.geteuid() != 0:
        raise unittest.SkipTest("needs root (ip netns, dnsmasq)")
    missing = [t for t in ("dnsmasq", "dhcpcd", "ip") if not shutil.which(t) and
               not os.path.exists("/usr/sbin/" + t)]
    if missing:
        raise RuntimeError("not installed: %s (run scripts/deps.sh test)" % ", ".join(missing))
    if not os.access(CTL, os.X_OK):
        raise RuntimeError("%s is not built (set V6PD_TEST_BIN)" % CTL)
    LAB = Lab()
    atexit.register(LAB.cleanup)


def tearDownModule():
    if LAB:
        LAB.cleanup()


class Dnsmasq(unittest.TestCase):
    def setUp(self):
        self.sd = LAB.state_dir()
        self.conf = os.path.join(self.sd, "dnsmasq", "dnsmasq.conf")

    def tearDown(self):
        LAB.ctl(self.sd, "stop", check=False)
        self.assertEqual(our_dnsmasqs(self.conf), [], "dnsmasq left running")

    def pid(self):
        return int(LAB.ctl(self.sd, "pid").stdout)

    def put(self, c, addr, net="vms", name=None):
        LAB.ctl(self.sd, "put", net, MACS[c], addr, *([name] if name else []))

    def leases(self):
        try:
            with open(os.path.join(self.sd, "dnsmasq", "leases")) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def log(self):
        with open(os.path.join(self.sd, "dnsmasq", "dnsmasq.log")) as f:
            return f.read()

    def test_bridge_reservation_added_later_is_served_without_restart(self):
        t0 = time.monotonic()
        LAB.ctl(self.sd, "serve", "vms", "br0")
        serve_ms = (time.monotonic() - t0) * 1000
        pid = self.pid()
        self.assertGreater(pid, 0)
        self.assertEqual(our_dnsmasqs(self.conf), [pid])
        with open(self.conf) as f:
            conf = f.read()
        self.assertIn("dhcp-range=::,constructor:br0,static,64,1h\n", conf)
        self.assertIn("port=0\n", conf)
        # a second serve of the same interface is a no-op: no restart
        t0 = time.monotonic()
        LAB.ctl(self.sd, "serve", "vms", "br0")
        again_ms = (time.monotonic() - t0) * 1000
        self.assertEqual(self.pid(), pid)
        # the reservation arrives after dnsmasq started: inotify, no restart
        self.put("c1", PFX + "::a1", name="vm-one")
        hostfile = os.path.join(self.sd, "dhcp-hosts", "vms", MACS["c1"])
        with open(hostfile) as f:
            self.assertEqual(f.read(), "%s,[%s::a1],vm-one\n" % (MACS["c1"], PFX))
        self.assertEqual(oct(os.stat(hostfile).st_mode & 0o777), "0o644")
        deadline = time.monotonic() + 2
        while "read " + hostfile not in self.log() and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertIn("read " + hostfile, self.log())
        addrs, routes, took, err = LAB.dhcp("c1")
        self.assertEqual(addrs, [PFX + "::a1"], err)
        self.assertRegex(routes, r"default via fe80::1 dev eth0")
        self.assertRegex(routes, re.escape(PFX) + r"::/64 dev eth0 proto ra")  # on-link
        self.assertEqual(self.pid(), pid, "a reservation must not restart dnsmasq")
        print("serve (start) %.1f ms, serve again %.1f ms (incl. ip netns exec), "
              "DHCPv6 bound in %.1f s" % (serve_ms, again_ms, took), file=sys.stderr)

    def test_unreserved_client_gets_nothing(self):
        LAB.ctl(self.sd, "serve", "vms", "br0")
        addrs, routes, _, err = LAB.dhcp("c2", timeout=6)
        self.assertEqual(addrs, [], "static: no address without a reservation")
        # but the RA came, from fe80::1, with M (use DHCPv6) and a prefix without A (no
        # SLAAC); dhcpcd installs no default route while it has no global address
        self.assertIn("nd1_from=fe80::1\n", LAB.hook_env)
        self.assertRegex(LAB.hook_env, r"nd1_flags=M")
        self.assertIn("nd1_prefix_information1_flags=L\n", LAB.hook_env)

    def test_changed_reservation_replaces_the_old_one(self):
        LAB.ctl(self.sd, "serve", "vms", "br0")
        self.put("c1", PFX + "::b1")
        self.assertEqual(LAB.dhcp("c1")[0], [PFX + "::b1"])
        pid = self.pid()
        self.put("c1", PFX + "::b2")
        self.assertEqual(self.pid(), pid)
        addrs, _, _, err = LAB.dhcp("c1")
        self.assertEqual(addrs, [PFX + "::b2"], err)
        # putting the same line again writes nothing
        hostfile = os.path.join(self.sd, "dhcp-hosts", "vms", MACS["c1"])
        ino = os.stat(hostfile).st_ino
        self.put("c1", PFX + "::b2")
        self.assertEqual(os.stat(hostfile).st_ino, ino)

    def test_remove_forgets_the_lease_so_a_new_duid_gets_the_address(self):
        """A guest recreated with another UUID comes back with another DUID: dnsmasq would
        refuse it the address its old lease holds, until that lease expires."""
        LAB.ctl(self.sd, "serve", "vms", "br0")
        self.put("c1", PFX + "::c1")
        self.assertEqual(LAB.dhcp("c1")[0], [PFX + "::c1"])
        self.assertIn(PFX + "::c1 ", self.leases())
        pid = self.pid()
        self.assertEqual(LAB.ctl(self.sd, "remove", "vms", MACS["c1"]).stdout.strip(), "1")
        self.assertNotIn(PFX + "::c1 ", self.leases())
        self.assertNotEqual(self.pid(), pid)
        self.assertGreater(self.pid(), 0)
        self.assertFalse(os.path.exists(os.path.join(self.sd, "dhcp-hosts", "vms",
                                                     MACS["c1"])))
        self.assertEqual(LAB.ctl(self.sd, "remove", "vms", MACS["c1"]).stdout.strip(), "0")
        self.put("c1", PFX + "::c1")
        addrs, _, _, err = LAB.dhcp("c1", new_duid=True)
        self.assertEqual(addrs, [PFX + "::c1"], err)

    def test_forget_nowait_leaves_the_restart_to_a_worker(self):
        """What the hook does when a guest stops: the reservation goes at once (unlink), and
        the restart that drops the guest's DHCPv6 lease is left to a detached worker
        (forget nowait), which the caller does not wait for: it returns long before
        dnsmasq is back, and the worker holds the lock until then, so a serve right after
        waits for it and finds it running."""
        LAB.ctl(self.sd, "serve", "vms", "br0")
        self.put("c1", PFX + "::c3")
        self.assertEqual(LAB.dhcp("c1")[0], [PFX + "::c3"])
        pid = self.pid()
        self.assertEqual(LAB.ctl(self.sd, "unlink", "vms", MACS["c1"]).stdout.strip(), "1")
        self.assertEqual(self.pid(), pid, "unlink alone restarts nothing")
        self.assertIn(PFX + "::c3 ", self.leases())
        # a slow dnsmasq start (a wrapper that waits 1 s) makes the worker's restart long
        slow = os.path.join(LAB.tmp, "slow-dnsmasq")
        with open(slow, "w") as f:
            f.write("#!/bin/sh\nsleep 1\nexec dnsmasq \"$@\"\n")
        os.chmod(slow, 0o755)
        t0 = time.monotonic()
        p = LAB.ctl(self.sd, "forget", "nowait", PFX + "::c3", PFX + "::ffff",
                    env=dict(os.environ, V6PD_DNSMASQ=slow))
        took = time.monotonic() - t0
        self.assertEqual(p.stdout.strip(), "1", "one lease on those addresses")
        self.assertLess(took, 0.9, "forget nowait waited for the restart")
        t0 = time.monotonic()
        LAB.ctl(self.sd, "serve", "vms", "br0")     # waits for the worker's lock
        self.assertGreater(time.monotonic() - t0, 0.1)
        new = self.pid()
        self.assertGreater(new, 0)
        self.assertNotEqual(new, pid)
        self.assertEqual(our_dnsmasqs(self.conf), [new])
        self.assertNotIn(PFX + "::c3 ", self.leases())
        # so a new DUID (a domain defined again under a new UUID) gets the address
        self.put("c1", PFX + "::c3")
        addrs, _, _, err = LAB.dhcp("c1", new_duid=True)
        self.assertEqual(addrs, [PFX + "::c3"], err)
        # nothing left to forget: no restart
        LAB.ctl(self.sd, "unlink", "vms", MACS["c2"])
        self.assertEqual(LAB.ctl(self.sd, "forget", "nowait", PFX + "::c9").stdout.strip(),
                         "0")
        self.assertEqual(self.pid(), new)

    def test_hook_reloads_libvirts_dnsmasq_when_a_reservation_goes(self):
        """A libvirt-managed network: libvirt's dnsmasq reads the hook's reservations through
        dhcp-hostsdir (`v6pdctl libvirt network define`), which picks up new files by itself
        but keeps a removed file's record until SIGHUP. Played here by a dnsmasq run as
        libvirt runs it (static DHCPv6 on the bridge, pid file
        /run/libvirt/network/NAME.pid): after the hook's stopped, the guest's MAC must no
        longer get its address from it, and that dnsmasq must not have been restarted."""
        net = RUN + "-lvnet"
        hosts = os.path.join(self.sd, "dhcp-hosts", "lvn")
        os.makedirs(hosts)
        os.chmod(self.sd, 0o711)
        for d in (os.path.dirname(hosts), hosts):
            os.chmod(d, 0o755)
        made_dir = not os.path.isdir(LIBVIRT_PID_DIR)
        os.makedirs(LIBVIRT_PID_DIR, exist_ok=True)
        pidfile = os.path.join(LIBVIRT_PID_DIR, net + ".pid")
        conf = os.path.join(LAB.tmp, net + ".conf")
        with open(conf, "w") as f:
            f.write("port=0\nno-resolv\nno-hosts\nbind-dynamic\ninterface=br0\nenable-ra\n"
                    "dhcp-range=%s::1,static,64,1h\ndhcp-hostsdir=%s\npid-file=%s\n"
                    "dhcp-leasefile=%s/%s.leases\n" % (PFX, hosts, pidfile, LAB.tmp, net))
        LAB.hsh("dnsmasq", "--conf-file=" + conf)
        with open(pidfile) as f:
            lv_pid = int(f.read())

        def cleanup():
            try:
                os.kill(lv_pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            for p in (pidfile,) + ((LIBVIRT_PID_DIR,) if made_dir else ()):
                try:
                    (os.rmdir if p == LIBVIRT_PID_DIR else os.unlink)(p)
                except OSError:
                    pass
        self.addCleanup(cleanup)

        hookdir = os.path.join(LAB.tmp, net + "-hooks", "qemu.d")
        os.makedirs(hookdir)
        os.symlink(HOOK, os.path.join(hookdir, "v6pd"))
        hconf = os.path.join(LAB.tmp, net + ".json")
        with open(hconf, "w") as f:
            json.dump({"stateDir": self.sd, "interfaces": [
                {"match": {"network": net}, "name": "lvn", "prefix": PFX + "::/56"}]}, f)

        def hook(op, subop, xml_file):
            with open(os.path.join(HERE, "inputs", xml_file)) as f:
                xml = f.read().replace("'recnet'", "'%s'" % net).replace(
                    "52:54:00:aa:00:01", MACS["c1"])
            p = subprocess.run(["ip", "netns", "exec", LAB.host,
                                os.path.join(hookdir, "v6pd"), "rec-vm", op, subop, "-"],
                               input=xml, capture_output=True, text=True, timeout=60,
                               env={"LC_ALL": "C", "HOME": "/root", "PATH": os.environ["PATH"],
                                    "V6PD_LIBVIRT_CONFIG": hconf})
            self.assertEqual((p.returncode, p.stderr), (0, ""), op)

        hook("prepare", "begin", "prepare.xml")
        with open(os.path.join(hosts, MACS["c1"])) as f:
            addr = f.read().split("[")[1].split("]")[0]
        addrs, _, _, err = LAB.dhcp("c1")
        self.assertEqual(addrs, [addr], err)
        hook("stopped", "end", "stopped.xml")
        self.assertFalse(os.path.exists(os.path.join(hosts, MACS["c1"])))
        addrs, _, _, err = LAB.dhcp("c1", timeout=6)
        self.assertEqual(addrs, [], "libvirt's dnsmasq still serves the removed reservation")
        with open(pidfile) as f:
            self.assertEqual(int(f.read()), lv_pid, "libvirt's dnsmasq was restarted")
        os.kill(lv_pid, 0)

    def test_without_remove_a_new_duid_is_refused(self):
        """The dnsmasq behaviour remove() works around, shown: the old lease blocks it."""
        LAB.ctl(self.sd, "serve", "vms", "br0")
        self.put("c1", PFX + "::c2")
        self.assertEqual(LAB.dhcp("c1")[0], [PFX + "::c2"])
        self.assertEqual(LAB.dhcp("c1", new_duid=True, timeout=6)[0], [])

    def test_killed_dnsmasq_is_recovered(self):
        LAB.ctl(self.sd, "serve", "vms", "br0")
        self.put("c1", PFX + "::d1")
        pid = self.pid()
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while self.pid() and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual(self.pid(), 0)
        LAB.ctl(self.sd, "serve", "vms", "br0")
        new = self.pid()
        self.assertGreater(new, 0)
        self.assertNotEqual(new, pid)
        self.assertEqual(our_dnsmasqs(self.conf), [new])
        self.assertEqual(LAB.dhcp("c1")[0], [PFX + "::d1"])

    def test_lost_pid_file_leaves_no_second_dnsmasq(self):
        LAB.ctl(self.sd, "serve", "vms", "br0")
        pid = self.pid()
        sleeper = subprocess.Popen(["sleep", "60"])
        try:
            with open(os.path.join(self.sd, "dnsmasq", "dnsmasq.pid"), "w") as f:
                f.write("%d\n" % sleeper.pid)    # a live process that is not our dnsmasq
            self.assertEqual(self.pid(), 0)
            LAB.ctl(self.sd, "serve", "vms", "br0")
            self.assertIsNone(sleeper.poll(), "only dnsmasq processes are stopped")
        finally:
            sleeper.kill()
            sleeper.wait()
        now = self.pid()
        self.assertNotEqual(now, pid)
        self.assertEqual(our_dnsmasqs(self.conf), [now])

    def test_routed_link_new_iface_restarts_unserve_last_stops(self):
        LAB.ctl(self.sd, "serve", "vms", "br0")
        pid = self.pid()
        LAB.ctl(self.sd, "serve", "routed", "rt3")
        pid2 = self.pid()
        self.assertNotEqual(pid2, pid, "a new interface restarts dnsmasq")
        with open(self.conf) as f:
            conf = f.read()
        self.assertIn("dhcp-range=::,constructor:rt3,static,off-link,64,1h\n", conf)
        self.assertIn("dhcp-hostsdir=%s/dhcp-hosts/routed\n" % self.sd, conf)
        self.put("c3", PFX2 + "::30", net="routed")
        addrs, routes, _, err = LAB.dhcp("c3")
        self.assertEqual(addrs, [PFX2 + "::30"], err)
        self.assertRegex(routes, r"default via fe80::1 dev eth0")
        # off-link: the slice goes through the router, never on-link on the tap
        self.assertNotRegex(routes, re.escape(PFX2) + r"::/64 dev eth0")
        sh("ip", "netns", "exec", LAB.ns["c3"], "ping", "-6", "-c1", "-W2", PFX2 + "::1")
        self.assertEqual(LAB.ctl(self.sd, "unserve", "rt3").stdout.strip(), "0")
        pid3 = self.pid()
        self.assertGreater(pid3, 0)
        self.assertNotEqual(pid3, pid2)
        with open(self.conf) as f:
            self.assertNotIn("rt3", f.read())
        LAB.ctl(self.sd, "unserve", "rt3")            # not served: nothing to do
        self.assertEqual(self.pid(), pid3)
        LAB.ctl(self.sd, "unserve", "br0")
        self.assertEqual(self.pid(), 0)
        self.assertEqual(our_dnsmasqs(self.conf), [])

    def test_pattern_serves_links_that_appear_later_without_restart(self):
        """A routed tap entry's pattern ("vmtap*" in the hook's config) is served as a whole:
        a new VM's tap, made and addressed after dnsmasq started, gets its RA (with RDNSS)
        and its DHCPv6 reservation from the same dnsmasq process. Two taps, each its own
        /64, as with perContainerSlice."""
        pat = RUN[-4:] + "t*"
        LAB.ctl(self.sd, "serve-link", "routed", pat, "::/64", "off-link", "2001:db8::53")
        pid = self.pid()
        self.assertGreater(pid, 0)
        with open(self.conf) as f:
            conf = f.read()
        tag = "v6pd:" + pat[:-1]
        self.assertIn("interface=%s\n" % pat, conf)
        self.assertIn("ra-param=%s,10,600\n" % pat, conf)
        self.assertIn("dhcp-range=set:%s,::,constructor:%s,static,off-link,64,1h\n" % (
            tag, pat), conf)
        self.assertIn("dhcp-option=tag:%s,option6:dns-server,[2001:db8::53]\n" % tag, conf)
        for c, pfx in (("c5", PFX5), ("c6", PFX6)):
            addr = LAB.routed_tap(c, pat[:-1] + c[1:], pfx)
            self.put(c, addr, net="routed")
            got, routes, _, log = LAB.dhcp(c, want_env="new_dhcp6_name_servers")
            self.assertEqual(got, [addr], log)
            self.assertRegex(routes, r"default via fe80::1 dev eth0")
            self.assertNotRegex(routes, re.escape(pfx) + r"::/64 dev eth0")   # off-link
            self.assertIn("new_dhcp6_name_servers=2001:db8::53", LAB.hook_env)
            self.assertRegex(LAB.hook_env, r"nd1_rdnss1_servers=2001:db8::53")
            self.assertEqual(self.pid(), pid, "a link matching a served pattern must not "
                                              "restart dnsmasq")
        self.assertEqual(our_dnsmasqs(self.conf), [pid])
        # serving the pattern again changes nothing
        LAB.ctl(self.sd, "serve-link", "routed", pat, "::/64", "off-link", "2001:db8::53")
        self.assertEqual(self.pid(), pid)

    def test_pattern_replaces_the_links_it_matches(self):
        LAB.ctl(self.sd, "serve", "routed", "rt3")
        LAB.ctl(self.sd, "serve", "vms", "br0")
        LAB.ctl(self.sd, "serve-link", "routed", "rt*", "::/64", "off-link")
        with open(os.path.join(self.sd, "dnsmasq", "interfaces")) as f:
            served = sorted(l.split()[0] for l in f if not l.startswith("#"))
        self.assertEqual(served, ["br0", "rt*"])
        with open(self.conf) as f:
            self.assertNotIn("interface=rt3\n", f.read())
        self.put("c3", PFX2 + "::30", net="routed")
        addrs, _, _, err = LAB.dhcp("c3")
        self.assertEqual(addrs, [PFX2 + "::30"], err)

    def test_slice_longer_than_64_gets_a_fixed_range(self):
        """dnsmasq's constructor refuses anything but /64 ("prefix length must be exactly
        64 for subnet constructors"): an /80 slice is served by a range of its own."""
        LAB.ctl(self.sd, "serve", "s80", "br8")
        with open(self.conf) as f:
            self.assertIn("dhcp-range=%s::,static,80,1h\n" % PFX80, f.read())
        self.put("c4", PFX80 + "::44", net="s80")
        addrs, routes, _, err = LAB.dhcp("c4")
        self.assertEqual(addrs, [PFX80 + "::44"], err)
        self.assertRegex(routes, re.escape(PFX80) + r"::/80 dev eth0 proto ra")
        self.assertRegex(routes, r"default via fe80::1 dev eth0")

    def test_dns_servers_reach_the_client(self):
        LAB.ctl(self.sd, "serve-link", "vms", "br0", "::/64", "on-link", "2001:db8::53",
                "2001:db8::54")
        with open(self.conf) as f:
            self.assertIn("dhcp-option=tag:br0,option6:dns-server,[2001:db8::53],"
                          "[2001:db8::54]\n", f.read())
        self.put("c1", PFX + "::e1")
        addrs, _, _, log = LAB.dhcp("c1", want_env="new_dhcp6_name_servers")
        self.assertEqual(addrs, [PFX + "::e1"], log)
        # by DHCPv6 and by the RA's RDNSS option (RFC 8106)
        self.assertIn("new_dhcp6_name_servers=2001:db8::53 2001:db8::54", LAB.hook_env)
        self.assertRegex(LAB.hook_env, r"nd1_rdnss1_servers=2001:db8::53 2001:db8::54")

    def test_concurrent_serves_leave_one_dnsmasq_serving_all(self):
        names = ["%sd%d" % (RUN[-4:], i) for i in range(8)]
        for n in names:
            LAB.hsh("ip", "link", "add", n, "type", "bridge")
        try:
            procs = [subprocess.Popen(["ip", "netns", "exec", LAB.host, CTL, self.sd, "serve",
                                       "net%d" % i, n], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True)
                     for i, n in enumerate(names)]
            for p in procs:
                out, err = p.communicate(timeout=60)
                self.assertEqual(p.returncode, 0, err)
            pid = self.pid()
            self.assertEqual(our_dnsmasqs(self.conf), [pid])
            with open(os.path.join(self.sd, "dnsmasq", "interfaces")) as f:
                served = [l.split()[0] for l in f if not l.startswith("#")]
            self.assertEqual(sorted(served), sorted(names))
        finally:
            for n in names:
                LAB.hsh("ip", "link", "del", n, check=False)

    def test_failed_start_keeps_the_old_set_running(self):
        LAB.ctl(self.sd, "serve", "vms", "br0")
        fake = os.path.join(LAB.tmp, "fake-dnsmasq")
        with open(fake, "w") as f:
            f.write("#!/bin/sh\nif grep -q '^interface=nosuch0$' \"${1#--conf-file=}\"; then\n"
                    "  echo 'dnsmasq: refusing nosuch0 (test)' >&2; exit 3\nfi\n"
                    "exec dnsmasq \"$@\"\n")
        os.chmod(fake, 0o755)
        env = dict(os.environ, V6PD_DNSMASQ=fake)
        p = LAB.ctl(self.sd, "serve", "vms", "nosuch0", check=False, env=env)
        self.assertEqual(p.returncode, 1)
        self.assertIn("dnsmasq did not start (exit status 3): dnsmasq: refusing nosuch0 (test)",
                      p.stderr)
        self.assertGreater(self.pid(), 0, "the old set runs again")
        with open(self.conf) as f:
            self.assertNotIn("nosuch0", f.read())
        with open(os.path.join(self.sd, "dnsmasq", "interfaces")) as f:
            self.assertNotIn("nosuch0", f.read())
        p = LAB.ctl(self.sd, "serve", "vms", "br1", check=False,
                    env=dict(os.environ, V6PD_DNSMASQ="/nonexistent/dnsmasq"))
        self.assertEqual(p.returncode, 1)
        self.assertIn("/nonexistent/dnsmasq", p.stderr)

    def test_bad_input_is_refused_with_the_value(self):
        cases = [
            (("put", "vms", "52:54:00:zz:00:01", PFX + "::1"), 'MAC "52:54:00:zz:00:01"'),
            (("put", "../etc", MACS["c1"], PFX + "::1"), 'name "../etc"'),
            (("serve", "vms", "br,0"), 'interface name "br,0"'),
            (("serve", "vms", "br*0*"), 'interface name "br*0*"'),
            (("serve", "vms", "*"), 'interface pattern "*"'),
            (("serve", "vms", "a/b*"), 'interface pattern "a/b*"'),
            (("serve", "vms", "a/b"), 'interface name "a/b"'),
            (("serve-link", "vms", "br0", "::/40", "on-link"), "prefix length 40"),
            (("serve-link", "vms", "br0", "::/80", "on-link"), "a /80 slice needs its prefix"),
        ]
        for args, want in cases:
            p = LAB.ctl(self.sd, *args, check=False)
            self.assertEqual(p.returncode, 1, args)
            self.assertIn(want, p.stderr, args)
        p = LAB.ctl(os.path.join(LAB.tmp, "with space"), "put", "vms", MACS["c1"],
                    PFX + "::1", check=False)
        self.assertIn("dnsmasq needs a path of", p.stderr)
        closed = os.path.join(LAB.tmp, "closed")
        os.mkdir(closed, 0o700)
        p = LAB.ctl(os.path.join(closed, "state"), "put", "vms", MACS["c1"], PFX + "::1",
                    check=False)
        self.assertIn("cannot reach it: %s has mode 0700" % closed, p.stderr)
        # a name that is no host name label is left out, not refused
        self.put("c2", PFX + "::f2", name="my_vm.example")
        with open(os.path.join(self.sd, "dhcp-hosts", "vms", MACS["c2"])) as f:
            self.assertEqual(f.read(), "%s,[%s::f2]\n" % (MACS["c2"], PFX))
        # upper-case MACs are written lower case
        LAB.ctl(self.sd, "put", "vms", MACS["c2"].upper(), PFX + "::f3")
        self.assertEqual(os.listdir(os.path.join(self.sd, "dhcp-hosts", "vms")), [MACS["c2"]])

    def test_reload_only_signals_a_dnsmasq(self):
        LAB.ctl(self.sd, "serve", "vms", "br0")
        pidfile = os.path.join(self.sd, "dnsmasq", "dnsmasq.pid")
        self.assertEqual(sh(CTL, "reload", pidfile).stdout.strip(), "1")
        sleeper = subprocess.Popen(["sleep", "60"])
        try:
            other = os.path.join(LAB.tmp, "sleep.pid")
            with open(other, "w") as f:
                f.write("%d\n" % sleeper.pid)
            self.assertEqual(sh(CTL, "reload", other).stdout.strip(), "0")
            self.assertIsNone(sleeper.poll())
        finally:
            sleeper.kill()
            sleeper.wait()
        self.assertEqual(sh(CTL, "reload", "/nonexistent.pid").stdout.strip(), "0")


if __name__ == "__main__":
    unittest.main(verbosity=2)
