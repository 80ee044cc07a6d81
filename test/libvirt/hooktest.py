"""Shared helpers for the libvirt hook's tests: the real v6pd-libvirt-hook binary driven as
libvirtd drives it (argv DOMAIN|NETWORK OP SUBOP -, the XML on stdin, an environment of just
LC_ALL, HOME and PATH, plus V6PD_LIBVIRT_CONFIG), with the hook inputs recorded from a real
libvirtd in inputs/ (see inputs/README). What the hook did is checked independently:
`v6pdctl --json leases` on the store, the reservation files, `ip -j` for links.
"""
import glob
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("V6PD_SRC", os.path.dirname(os.path.dirname(HERE)))
BIN = os.environ.get("V6PD_BIN", os.path.join(SRC, "build", "bin"))
HOOK = os.path.join(BIN, "v6pd-libvirt-hook")
V6PDCTL = os.path.join(BIN, "v6pdctl")
INPUTS = os.path.join(HERE, "inputs")

DOMAIN = "rec-vm"
UUID = "6f1c3f0e-8a5e-4c1b-9d2a-3b4c5d6e7f80"
MAC_NET, MAC_BR, MAC_TAP = "52:54:00:aa:00:01", "52:54:00:aa:00:02", "52:54:00:aa:00:03"
LIBVIRT_NET, BRIDGE, TAP = "recnet", "v6pd-recbr", "vmtap0"
PREFIX = "2001:db8:100::/56"
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
                   "runtime error:")


def read_input(name):
    with open(os.path.join(INPUTS, name)) as f:
        return f.read()


def require_hook():
    """The binaries under test, built (V6PD_BIN)."""
    for b in (HOOK, V6PDCTL):
        if not os.access(b, os.X_OK):
            raise AssertionError("%s is not built (set V6PD_BIN)" % b)


class PrivateNet:
    """A network namespace of our own, owned by a user namespace of our own (`unshare -rn`),
    so links, addresses and sysctls can be made without root and without touching the host.
    Commands enter it with nsenter."""

    def __init__(self):
        if not shutil.which("unshare") or not shutil.which("nsenter"):
            raise unittest.SkipTest("needs unshare and nsenter (util-linux)")
        self.p = subprocess.Popen(["unshare", "-rn", "sleep", "3600"],
                                  stderr=subprocess.PIPE)
        # Ready once it runs sleep: unshare writes the uid/gid maps before the exec, and a
        # process entering before that would have no capabilities in the namespace.
        for _ in range(500):
            try:
                with open("/proc/%d/comm" % self.p.pid) as f:
                    if f.read().strip() == "sleep":
                        return
            except OSError:
                pass
            if self.p.poll() is not None:
                raise unittest.SkipTest("unshare -rn failed: %s" %
                                        self.p.stderr.read().decode().strip())
            time.sleep(0.01)
        self.close()
        raise unittest.SkipTest("unshare -rn did not enter a new namespace")

    def wrap(self, argv):
        return ["nsenter", "-t", str(self.p.pid), "-U", "-n", "--preserve-credentials"] + \
            list(argv)

    def sh(self, *argv, check=True):
        p = subprocess.run(self.wrap(argv), capture_output=True, text=True, timeout=60)
        if check and p.returncode != 0:
            raise AssertionError("%s: exit %d: %s" % (" ".join(argv), p.returncode,
                                                      p.stderr.strip()))
        return p

    def ip_json(self, *args):
        return json.loads(self.sh("ip", "-j", *args).stdout or "[]")

    def close(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()
        self.p.stderr.close()


class HookCase(unittest.TestCase):
    """A temp dir with hooks/{qemu.d,network.d}/v6pd and monolithic hooks/{qemu,network},
    all symlinks to the binary, a config and a state dir."""

    def setUp(self):
        require_hook()
        self.tmp = tempfile.mkdtemp(prefix="v6pd-hook-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        # dnsmasq runs as nobody and reads the reservations: state_dir's parents need o+x
        os.chmod(self.tmp, 0o755)
        self.state = os.path.join(self.tmp, "state")
        self.conf = os.path.join(self.tmp, "libvirt.json")
        self.hooks = os.path.join(self.tmp, "hooks")
        for d in ("qemu.d", "network.d", "lxc.d"):
            os.makedirs(os.path.join(self.hooks, d))
            os.symlink(HOOK, os.path.join(self.hooks, d, "v6pd"))
        for name in ("qemu", "network"):
            os.symlink(HOOK, os.path.join(self.hooks, name))
        self.net = None

    def private_net(self):
        self.net = PrivateNet()
        self.addCleanup(self.net.close)
        return self.net

    def write_conf(self, entries, state_dir=None, raw=None):
        with open(self.conf, "w") as f:
            if raw is not None:
                f.write(raw)
            else:
                json.dump({"stateDir": state_dir or self.state, "interfaces": entries}, f)

    @staticmethod
    def entry(match, name, **keys):
        e = {"match": match, "name": name, "prefix": PREFIX}
        e.update(keys)
        return e

    def hook(self, kind, obj, op, subop, xml, path=None, expect=0, conf=True):
        """Runs one hook call; returns (stdout, stderr) after checking the exit status."""
        argv0 = path or os.path.join(self.hooks, kind + ".d", "v6pd")
        env = {"LC_ALL": "C", "HOME": "/root", "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        if conf:
            env["V6PD_LIBVIRT_CONFIG"] = self.conf
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                env[k] = os.environ[k]
        argv = [argv0, obj, op, subop, "-"]
        if self.net:
            argv = self.net.wrap(argv)
        p = subprocess.run(argv, input=xml.encode() if isinstance(xml, str) else xml,
                           capture_output=True, timeout=60, env=env)
        out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
        for m in SANITIZER_MARKS:
            self.assertNotIn(m, err, "sanitizer report from %s %s" % (op, subop))
        self.assertEqual(p.returncode, expect, "%s %s %s %s: exit %d, stderr: %s" %
                         (kind, obj, op, subop, p.returncode, err))
        return out, err

    def qemu(self, op, subop, xml, **kw):
        return self.hook("qemu", DOMAIN, op, subop, xml, **kw)

    def network(self, op, subop, xml, obj=LIBVIRT_NET, **kw):
        return self.hook("network", obj, op, subop, xml, **kw)

    def leases(self):
        if not os.path.exists(os.path.join(self.state, "leases.db")):
            return {}
        p = subprocess.run([V6PDCTL, "--state-dir", self.state, "--json", "leases"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return {(l["network"], l["key"]): l for l in json.loads(p.stdout)}

    def reservations(self, network):
        """{mac: "MAC,[ADDR],NAME"}: the dhcp-hostsfile lines in state/dhcp-hosts/NETWORK/
        (dnsmasq.h: one file per MAC; names starting with '.' are temp files)."""
        out = {}
        for path in glob.glob(os.path.join(self.state, "dhcp-hosts", network, "*")):
            if os.path.basename(path).startswith(".") or not os.path.isfile(path):
                continue
            with open(path) as f:
                for line in f:
                    line = line.strip()
                    if line and not line.startswith("#"):
                        out[line.split(",")[0].lower()] = line
        return out

    def assert_one_line(self, err, *needles):
        lines = err.splitlines()
        self.assertEqual(len(lines), 1, "want exactly one line on stderr, got: %r" % err)
        for n in needles:
            self.assertIn(n, lines[0])
        return lines[0]
