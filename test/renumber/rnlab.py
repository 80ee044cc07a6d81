"""Helpers for the renumbering tests: a cnitest.Lab (private "host" netns where the real v6pd
plugin and v6pdctl run, containers as further namespaces) plus, for a real prefix
delegation, a Kea DHCPv6 server in a "server" netns joined to the host by a veth, and dhcpcd or
ISC dhclient in the host netns calling the shipped hook (dhcp-hooks/) through a small wrapper
that points it at this build's v6pdctl and the lab's store (../shared/TESTING.md has the
recipe). Every process is stopped by its PID; names carry the run's random prefix.
"""
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "netns"))
sys.path.insert(0, os.path.join(HERE, "..", "dns"))
import cnitest as ct  # noqa: E402

SRC = os.environ.get("V6PD_SRC") or os.path.join(HERE, "..", "..")
HOOKS = os.path.join(SRC, "dhcp-hooks")
UPLINK = "up0"          # the host's uplink to the DHCPv6 server, in the host netns
SERVER_IF = "srv0"
SERVER_SUBNET = "2001:db8:ffff::/64"
POOL_A = "2001:db8:f000::"      # Kea's pd-pools: /45, delegating /56s
POOL_B = "2001:db8:f008::"


def prefix_of(pool):
    """The first /56 Kea delegates from a pool."""
    return str(ipaddress.IPv6Network((pool, 56)))


def iid_of(addr):
    return int(ipaddress.IPv6Address(addr)) & ((1 << 64) - 1)


def moved(addr, old_prefix, new_prefix):
    """addr under new_prefix: the same bits below the prefix length."""
    o, n = ipaddress.IPv6Network(old_prefix), ipaddress.IPv6Network(new_prefix)
    host = int(ipaddress.IPv6Address(addr)) - int(o.network_address)
    return str(ipaddress.IPv6Address(int(n.network_address) + host))


def wait_for(fn, timeout, what, step=0.1):
    """fn() until it returns a true value; AssertionError naming what after timeout."""
    end = time.monotonic() + timeout
    last = None
    while True:
        try:
            v = fn()
            if v:
                return v
        except AssertionError as e:
            last = e
        if time.monotonic() > end:
            raise AssertionError(f"{what}: not within {timeout} s" +
                                 (f" ({last})" if last else ""))
        time.sleep(step)


def stop_pid(proc, timeout=10):
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)


class RenumberLab(ct.Lab):
    """A Lab whose networks follow the host's delegated prefix."""

    def __init__(self, tc, grace="5s"):
        super().__init__(tc)
        self.grace = grace
        self.conf_file = os.path.join(self.state, "..", self.id + "-v6pd.json")
        with open(self.conf_file, "w", encoding="utf-8") as f:
            json.dump({"renumberGrace": grace}, f)
        tc.addCleanup(lambda: os.path.exists(self.conf_file) and os.unlink(self.conf_file))

    def ctl_env(self):
        return {"V6PD_CONFIG": self.conf_file}

    def v6pdctl(self, *argv, check=True, env=None):
        """v6pdctl in the host netns, on the lab's store and host config."""
        e = dict(os.environ, **self.ctl_env())
        if env:
            e.update(env)
        p = subprocess.run(["ip", "netns", "exec", self.host.name, ct.V6PDCTL, "--state-dir",
                            self.state, *argv], env=e, capture_output=True, text=True,
                           timeout=120)
        if check and p.returncode != 0:
            raise AssertionError(f"v6pdctl {' '.join(argv)}: exit {p.returncode}: "
                                 f"{p.stderr.strip()}")
        return p

    def show(self):
        return json.loads(self.v6pdctl("--json", "prefix", "show").stdout)

    def net_conf(self, name, **kw):
        c = self.conf(prefix=None, renumberGrace=self.grace, **kw)
        c["name"] = name
        return c


class PDServer:
    """Kea 2.2 in its own netns, joined to the lab's host netns by UPLINK <-> SERVER_IF."""

    def __init__(self, lab, work):
        self.lab = lab
        self.dir = os.path.join(work, "kea")
        os.makedirs(self.dir, exist_ok=True)
        self.ns = lab.netns("s")
        self.proc = None
        ct.sh("ip", "link", "add", UPLINK, "netns", lab.host.name, "type", "veth", "peer",
              "name", SERVER_IF, "netns", self.ns.name)
        for ns, dev in ((lab.host, UPLINK), (self.ns, SERVER_IF)):
            for key in ("all", "default", dev):
                ns.run("sysctl", "-qw", f"net.ipv6.conf.{key}.accept_dad=0")
            ns.ipc("link", "set", dev, "up")
        self.ns.ipc("addr", "add", "2001:db8:ffff::1/64", "dev", SERVER_IF, "nodad")

    def start(self, pool):
        conf = {"Dhcp6": {
            "interfaces-config": {"interfaces": [SERVER_IF]},
            "server-id": {"type": "EN", "enterprise-id": 2495, "identifier": "0000000000ab",
                          "persist": False},
            "lease-database": {"type": "memfile", "persist": True,
                               "name": os.path.join(self.dir, "leases6.csv"),
                               "lfc-interval": 0},
            "renew-timer": 10, "rebind-timer": 16, "preferred-lifetime": 20,
            "valid-lifetime": 30,
            "subnet6": [{"id": 1, "subnet": SERVER_SUBNET, "interface": SERVER_IF,
                         "pd-pools": [{"prefix": pool, "prefix-len": 45,
                                       "delegated-len": 56}]}]}}
        path = os.path.join(self.dir, "kea.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(conf, f)
        env = dict(os.environ, KEA_LOCKFILE_DIR="none", KEA_PIDFILE_DIR=self.dir)
        self.ns.run("kea-dhcp6", "-t", path)
        log = open(os.path.join(self.dir, "kea.log"), "a", encoding="utf-8")
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.ns.name, "kea-dhcp6", "-c",
                                      path], env=env, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        log.close()
        self.lab.tc.addCleanup(stop_pid, self.proc)

    def restart(self, pool):
        """Stops Kea, forgets its leases, starts it with another pool (a renumbering ISP)."""
        stop_pid(self.proc)
        for name in os.listdir(self.dir):
            if name.startswith("leases6.csv"):
                os.unlink(os.path.join(self.dir, name))
        self.start(pool)


class Client:
    """A DHCPv6-PD client in the host netns, its hook the shipped one via a wrapper."""

    kind = None

    def __init__(self, lab, work):
        self.lab = lab
        self.dir = os.path.join(work, self.kind)
        os.makedirs(self.dir, exist_ok=True)
        self.log = os.path.join(self.dir, "hook.log")
        self.proc = None

    def wrapper(self, hook, extra_env=""):
        path = os.path.join(self.dir, "hook.sh")
        with open(path, "w", encoding="utf-8") as f:
            f.write("#!/bin/sh\n"
                    f"export V6PDCTL={ct.V6PDCTL} V6PD_STATE_DIR={self.lab.state} "
                    f"V6PD_CONFIG={self.lab.conf_file}{extra_env}\n"
                    f"exec >>{self.log} 2>&1\n"
                    'echo "== $(date +%s.%N) $reason"\n'
                    f". {hook}\n")
        os.chmod(path, 0o755)
        return path

    def hook_log(self):
        try:
            with open(self.log, encoding="utf-8") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        stop_pid(self.proc)


class Dhcpcd(Client):
    kind = "dhcpcd"

    def start(self):
        hook = self.wrapper(os.path.join(HOOKS, "dhcpcd", "50-v6pd"))
        for d in ("run", "db"):
            os.makedirs(os.path.join(self.dir, d), exist_ok=True)
        conf = os.path.join(self.dir, "dhcpcd.conf")
        with open(conf, "w", encoding="utf-8") as f:
            f.write(f"script {hook}\nipv6only\nnoipv6rs\nduid\npersistent\n"
                    f"allowinterfaces {UPLINK}\ninterface {UPLINK}\n  ia_pd 1 -\n")
        # dhcpcd's run and lease directories are compiled in: private ones, bound in the
        # mount namespace `ip netns exec` makes (not over /run: the hook needs /run/netns)
        # /run/dhcpcd itself is dhcpcd's own directory, made here when missing and left
        # (removing it would detach the mounts of a concurrent test's dhcpcd)
        os.makedirs("/run/dhcpcd", exist_ok=True)
        script = (f"mount --bind {self.dir}/run /run/dhcpcd && "
                  f"mount --bind {self.dir}/db /var/lib/dhcpcd && "
                  f"exec dhcpcd -B -d -f {conf} {UPLINK}")
        out = open(os.path.join(self.dir, "dhcpcd.log"), "a", encoding="utf-8")
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.lab.host.name, "sh", "-c",
                                      script], stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        out.close()
        self.lab.tc.addCleanup(self.stop)


class Dhclient(Client):
    kind = "dhclient"

    def start(self):
        hook = self.wrapper(os.path.join(HOOKS, "dhclient", "v6pd"))
        empty = os.path.join(self.dir, "dhclient.conf")
        open(empty, "w", encoding="utf-8").close()
        out = open(os.path.join(self.dir, "dhclient.log"), "a", encoding="utf-8")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.lab.host.name, "dhclient", "-6", "-P", "-d", "-cf",
             empty, "-lf", os.path.join(self.dir, "leases"), "-pf",
             os.path.join(self.dir, "pid"), "-sf", hook, UPLINK],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        out.close()
        self.lab.tc.addCleanup(self.stop)


def missing_tools(*names):
    return [n for n in names if not shutil.which(n)]
