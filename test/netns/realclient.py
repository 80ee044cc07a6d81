"""Shared helpers for the real-client tests (Podman with the CNI backend, containerd's
`ctr run --cni`): the recipes of ../shared/TESTING.md, kept private to one run.

Podman and containerd run in the host netns, so the v6pd bridge and host veths are made in
the host netns: every name (networks, bridges, containers, images, containerd namespace,
directories) carries a random per-run prefix, every network gets its own stateDir and a
random 2001:db8:XXXX::/56 prefix, and Run.cleanup() removes containers, images, storage,
bridges, leftover host veths and libcni cache files of this run, and puts the IPv6
forwarding sysctls back as they were (the plugin turns net.ipv6.conf.all.forwarding on).

The real plugin is reached through a logging shim in the run's plugin directory: a
/bin/sh script named `v6pd` that records each call's environment, stdin, stdout, stderr
and exit status in a directory, then hands the same stdin to the real binary and passes
its stdout, stderr and exit status through unchanged. Tests use the records to assert what
the client actually sent (e.g. ctr's DEL with an empty CNI_NETNS) and that the plugin
answered it with success, which the clients themselves do not always report.
"""
import atexit
import hashlib
import ipaddress
import json
import os
import random
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

import cniserve

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.abspath(os.environ.get("V6PD_BIN") or os.path.join(HERE, "..", "..", "build",
                                                                    "bin"))
V6PD = os.path.join(BIN, "v6pd")
V6PDCTL = os.path.join(BIN, "v6pdctl")
REF_CNI = "/usr/lib/cni"
BUSYBOX_APPLETS = ("sh", "ip", "ping", "sleep", "cat")
# Netconfs in the version Podman 4.3's and containerd 1.6's libcni (1.1.x) speak at most.
CNI_VERSION = "1.0.0"

SHIM = r"""#!/bin/sh
# v6pd logging shim (test only): records the call, then runs the real plugin on the same
# stdin and passes its stdout, stderr and exit status through.
d=$(mktemp -d "%(log)s/$(date +%%s%%N)-$$-XXXX") || exit 5
env > "$d/env"
cat > "$d/stdin"
"%(real)s" < "$d/stdin" > "$d/stdout" 2> "$d/stderr"
rc=$?
echo "$rc" > "$d/rc"
cat "$d/stdout"
cat "$d/stderr" >&2
exit "$rc"
"""


def sh(*argv, check=True, input=None, timeout=120, env=None):
    t0 = time.monotonic()
    p = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout,
                       env=env)
    p.elapsed = time.monotonic() - t0
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(argv)}: exit {p.returncode}\nstdout: "
                             f"{p.stdout.strip()}\nstderr: {p.stderr.strip()}")
    return p


def require(*tools):
    """SkipTest unless root; a missing tool is an error (scripts/deps.sh test installs it)."""
    if os.geteuid() != 0:
        raise unittest.SkipTest("needs root: the runtimes create network namespaces, veths "
                                "and a bridge")
    missing = [t for t in tools if not shutil.which(t)]
    if missing:
        raise RuntimeError(f"not installed: {', '.join(missing)} "
                           "(run scripts/deps.sh test)")
    for b in (V6PD, V6PDCTL):
        if not os.access(b, os.X_OK):
            raise RuntimeError(f"{b} is not built (set V6PD_BIN)")


def global_addrs(ip_output):
    """[(address, prefixlen)] of the global IPv6 addresses in `ip -6 addr` output."""
    out = []
    for m in re.finditer(r"inet6 ([0-9a-fA-F:]+)/(\d+) scope global", ip_output):
        out.append((str(ipaddress.IPv6Address(m.group(1))), int(m.group(2))))
    return out


def in_net(addr, net):
    return ipaddress.IPv6Address(addr) in ipaddress.IPv6Network(net)


class Call:
    """One recorded plugin call."""

    def __init__(self, d):
        self.dir = d
        self.env = {}
        with open(os.path.join(d, "env"), encoding="utf-8", errors="replace") as f:
            for line in f:
                k, sep, v = line.rstrip("\n").partition("=")
                if sep and k.startswith("CNI_"):
                    self.env[k] = v

        def rd(n):
            try:
                with open(os.path.join(d, n), encoding="utf-8", errors="replace") as f:
                    return f.read()
            except FileNotFoundError:
                return None

        self.stdin_text = rd("stdin") or ""
        try:
            self.stdin = json.loads(self.stdin_text)
        except ValueError:
            self.stdin = None
        self.stdout = rd("stdout")
        self.stderr = rd("stderr")
        rc = rd("rc")
        self.rc = int(rc) if rc and rc.strip() else None

    @property
    def command(self):
        return self.env.get("CNI_COMMAND")

    def summary(self):
        keys = sorted(self.stdin) if isinstance(self.stdin, dict) else self.stdin_text[:80]
        return (f"{self.command} rc={self.rc} CNI_CONTAINERID={self.env.get('CNI_CONTAINERID')!r}"
                f" CNI_NETNS={self.env.get('CNI_NETNS')!r} CNI_IFNAME="
                f"{self.env.get('CNI_IFNAME')!r} CNI_ARGS={self.env.get('CNI_ARGS')!r} "
                f"CNI_PATH={self.env.get('CNI_PATH')!r} stdin keys={keys} "
                f"stdout={(self.stdout or '')[:200]!r} stderr={(self.stderr or '').strip()!r}")


class Network:
    """A v6pd bridge network of one test: its own name, bridge, prefix and stateDir."""

    def __init__(self, run, tag, **extra):
        self.run = run
        self.name = f"{run.id}-{tag}"
        self.bridge = f"{run.id}{tag}"[:15]
        while True:     # distinct within the run: every bridge is in the host netns
            self.prefix = f"2001:db8:{random.randrange(1, 0x10000):x}::/56"
            if self.prefix not in (n.prefix for n in run.networks):
                break
        self.state = os.path.join(run.tmp, "state-" + tag)
        os.makedirs(self.state)
        self.conf = {"cniVersion": CNI_VERSION, "name": self.name,
                     "plugins": [dict({"type": "v6pd", "mode": "bridge",
                                       "bridge": self.bridge, "prefix": self.prefix,
                                       "stateDir": self.state}, **extra)]}
        # one directory per network: ctr takes the first conflist of its directory
        self.confdir = os.path.join(run.confroot, tag)
        os.makedirs(self.confdir)
        self.conflist = os.path.join(self.confdir, self.name + ".conflist")
        with open(self.conflist, "w", encoding="utf-8") as f:
            json.dump(self.conf, f)
        run.networks.append(self)

    def ctl(self, *argv, check=True):
        return sh(V6PDCTL, "--state-dir", self.state, *argv, check=check)

    def leases(self):
        p = self.ctl("--json", "leases", "--network", self.name)
        return json.loads(p.stdout) if p.stdout.strip() else []

    def lease(self, key):
        got = [l for l in self.leases() if l["key"] == key]
        return got[0] if got else None

    def host_veths(self):
        """The plugin's host ends (in the host netns) whose alias names this network."""
        return self.run.host_veths(self.name)


class Run:
    """One test class's private world. Call cleanup() in tearDownClass (and on a failed
    setUpClass)."""

    def __init__(self, tag):
        self.id = f"v6{tag}{secrets.token_hex(3)}"       # e.g. v6pm1a2b3c: 10 chars
        self.tmp = tempfile.mkdtemp(prefix=self.id + "-", dir="/var/tmp")
        self.rundir = os.path.join("/run", self.id)       # short: unix socket paths
        os.makedirs(self.rundir, mode=0o700)
        self.confroot = os.path.join(self.tmp, "net.d")
        self.plugins = os.path.join(self.tmp, "plugins")
        self.log = os.path.join(self.tmp, "calls")
        for d in (self.confroot, self.plugins, self.log):
            os.makedirs(d)
        with open(os.path.join(self.plugins, "v6pd"), "w", encoding="utf-8") as f:
            f.write(SHIM % {"log": self.log, "real": V6PD})
        os.chmod(os.path.join(self.plugins, "v6pd"), 0o755)
        self.networks = []
        self.forwarding = self._read_forwarding()
        self.before_cleanup = []     # callables run first (stop runtimes), newest first
        self.done = False
        atexit.register(self.cleanup)   # also after a crash of the test runner

    # --- plugin calls ---

    def calls(self, network=None, command=None):
        out = []
        for n in sorted(os.listdir(self.log), key=lambda s: int(s.split("-")[0])):
            c = Call(os.path.join(self.log, n))
            if network and not (isinstance(c.stdin, dict) and c.stdin.get("name") == network):
                continue
            if command and c.command != command:
                continue
            out.append(c)
        return out

    def dump_calls(self, stream=sys.stderr):
        for c in self.calls():
            print("  call:", c.summary(), file=stream)

    # --- host state ---

    @staticmethod
    def _read_forwarding():
        vals = {}
        base = "/proc/sys/net/ipv6/conf"
        for dev in os.listdir(base):
            try:
                with open(os.path.join(base, dev, "forwarding"), encoding="ascii") as f:
                    vals[dev] = f.read().strip()
            except OSError:
                pass
        return vals

    def _restore_forwarding(self):
        base = "/proc/sys/net/ipv6/conf"
        now = self._read_forwarding()
        # "all" first: writing it rewrites every interface; then each one as it was
        order = ["all", "default"] + sorted(k for k in self.forwarding
                                            if k not in ("all", "default"))
        for dev in order:
            if dev in self.forwarding and dev in now and now[dev] != self.forwarding[dev]:
                try:
                    with open(os.path.join(base, dev, "forwarding"), "w",
                              encoding="ascii") as f:
                        f.write(self.forwarding[dev])
                except OSError as e:
                    print(f"restoring {dev}.forwarding: {e}", file=sys.stderr)
            now = self._read_forwarding()

    @staticmethod
    def links():
        p = sh("ip", "-d", "-j", "link", "show", check=False)
        return json.loads(p.stdout) if p.stdout.strip() else []

    def host_veths(self, network):
        pre = f"v6pd:{network}:"
        return [l["ifname"] for l in self.links()
                if (l.get("ifalias") or "").startswith(pre)]

    def bridge_exists(self, name):
        return sh("ip", "link", "show", "dev", name, check=False).returncode == 0

    # --- cleanup ---

    def _mounts_under(self, roots):
        out = []
        with open("/proc/self/mountinfo", encoding="utf-8") as f:
            for line in f:
                mp = line.split()[4].replace("\\040", " ")
                if any(mp == r or mp.startswith(r + "/") for r in roots):
                    out.append(mp)
        return sorted(out, key=len, reverse=True)

    def cleanup(self):
        if self.done:
            return
        self.done = True
        for f in reversed(self.before_cleanup):
            try:
                f()
            except Exception as e:  # keep cleaning
                print(f"cleanup: {f}: {e}", file=sys.stderr)
        for net in self.networks:
            for v in self.host_veths(net.name):
                sh("ip", "link", "del", "dev", v, check=False)
            if self.bridge_exists(net.bridge):
                sh("ip", "link", "del", "dev", net.bridge, check=False)
            cache = "/var/lib/cni/results"
            if os.path.isdir(cache):
                for n in os.listdir(cache):
                    if n.startswith(net.name + "-"):
                        os.unlink(os.path.join(cache, n))
        for net in self.networks:
            if getattr(net, "state", None):     # the plugin's lingering servers
                cniserve.stop_servers(net.state)
        self._restore_forwarding()
        for mp in self._mounts_under([self.tmp, self.rundir]):
            sh("umount", "-l", mp, check=False)
        shutil.rmtree(self.rundir, ignore_errors=True)
        shutil.rmtree(self.tmp, ignore_errors=True)


def busybox_rootfs_tar(run):
    """TESTING.md's image without a registry: /bin/busybox (busybox-static) and symlinks."""
    busybox = shutil.which("busybox") or "/bin/busybox"
    root = os.path.join(run.tmp, "rootfs")
    os.makedirs(os.path.join(root, "bin"))
    shutil.copy2(busybox, os.path.join(root, "bin", "busybox"))
    for a in BUSYBOX_APPLETS:
        os.symlink("busybox", os.path.join(root, "bin", a))
    tar = os.path.join(run.tmp, "rootfs.tar")
    sh("tar", "-C", root, "-cf", tar, ".")
    return tar


class Podman:
    """Podman 4.3 with the CNI backend and runc, everything private to the run."""

    def __init__(self, run):
        self.run = run
        self.conf = os.path.join(run.tmp, "containers.conf")
        self.storage_conf = os.path.join(run.tmp, "storage.conf")
        with open(self.conf, "w", encoding="utf-8") as f:
            f.write(f"""[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[network]
network_backend = "cni"
network_config_dir = "{run.confroot}/podman"
cni_plugin_dirs = ["{run.plugins}", "{REF_CNI}"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "{run.rundir}/libpod"
""")
        with open(self.storage_conf, "w", encoding="utf-8") as f:
            f.write(f"""[storage]
driver = "overlay"
runroot = "{run.rundir}/storage"
graphroot = "{run.tmp}/storage"
""")
        os.makedirs(os.path.join(run.confroot, "podman"), exist_ok=True)
        self.env = dict(os.environ, CONTAINERS_CONF=self.conf,
                        CONTAINERS_STORAGE_CONF=self.storage_conf)
        self.image = f"localhost/{run.id}"
        run.before_cleanup.append(self.cleanup)

    def __call__(self, *argv, check=True, timeout=120):
        return sh("podman", *argv, check=check, timeout=timeout, env=self.env)

    def add_network(self, net):
        """Podman reads every conflist of network_config_dir."""
        shutil.copy(net.conflist, os.path.join(self.run.confroot, "podman"))

    def import_image(self):
        tar = busybox_rootfs_tar(self.run)
        self("import", "--change", 'CMD ["/bin/sh"]', tar, self.image)
        return self.image

    def save_docker_archive(self):
        """For containerd: `podman save --format docker-archive` (TESTING.md)."""
        out = os.path.join(self.run.tmp, "image-docker-archive.tar")
        self("save", "--format", "docker-archive", "-o", out, self.image)
        return out

    def cleanup(self):
        self("rm", "-af", "-t", "0", check=False)
        self("rmi", "-af", check=False)


# Runs a command in a private mount namespace (`unshare -m --propagation private`) where
# /etc/cni/net.d and /opt/cni/bin, which ctr reads and cannot be told otherwise, show the
# test's conflist and plugin directories. A missing mount point is made on a tmpfs over its
# nearest existing parent (in that namespace only), never on the host.
CNI_MOUNT_NS = r"""set -e
place() {
	if [ ! -d "$2" ]; then
		p=$(dirname "$2")
		while [ ! -d "$p" ]; do p=$(dirname "$p"); done
		case "$p" in /|/etc|/usr|/var) echo "no $2 and no safe parent to cover" >&2; exit 97;; esac
		mount -t tmpfs -o mode=0755 v6pd-test "$p"
		mkdir -p "$2"
	fi
	mount --bind "$1" "$2"
}
place "$1" /etc/cni/net.d
place "$2" /opt/cni/bin
shift 2
exec "$@"
"""


class Containerd:
    """containerd 1.6 started by hand: root, state, sockets under the run's directories, the
    CRI plugin disabled; `ctr` talks to it with this run's namespace."""

    SHIM_SOCKETS = "/run/containerd"       # containerd 1.6 puts shim sockets in ./s there

    def __init__(self, run):
        self.run = run
        self.dir = os.path.join(run.tmp, "containerd")
        self.root = os.path.join(self.dir, "root")
        self.state = os.path.join(run.rundir, "cd-state")
        self.address = os.path.join(run.rundir, "cd.sock")
        self.runc_root = os.path.join(run.rundir, "runc")
        self.fifo_dir = os.path.join(run.rundir, "fifo")
        self.ns = run.id
        self.config = os.path.join(self.dir, "config.toml")
        self.logfile = os.path.join(self.dir, "containerd.log")
        self.proc = None
        self.ids = []
        self.images = []
        self.had_shim_root = os.path.exists(self.SHIM_SOCKETS)
        os.makedirs(self.dir)
        with open(self.config, "w", encoding="utf-8") as f:
            f.write(f"""version = 2
root = "{self.root}"
state = "{self.state}"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "{self.address}"
[ttrpc]
  address = "{self.address}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "{os.path.join(self.dir, "opt")}"
""")
        run.before_cleanup.append(self.stop)

    def start(self, timeout=30):
        log = open(self.logfile, "w", encoding="utf-8")
        self.proc = subprocess.Popen(["containerd", "--config", self.config], stdout=log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"containerd exited {self.proc.returncode}:\n"
                                   f"{self.log_tail()}")
            if os.path.exists(self.address) and \
                    self.ctr("version", check=False, timeout=10).returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"containerd did not answer within {timeout} s:\n{self.log_tail()}")

    def log_tail(self, n=30):
        try:
            with open(self.logfile, encoding="utf-8", errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def ctr(self, *argv, check=True, timeout=120):
        return sh("ctr", "--address", self.address, "-n", self.ns, *argv, check=check,
                  timeout=timeout)

    def ctr_cni(self, net, *argv, check=True, timeout=120):
        """ctr in a private mount namespace whose /etc/cni/net.d holds net's conflist only
        and whose /opt/cni/bin is the run's plugin directory (the logging shim)."""
        return sh("unshare", "-m", "--propagation", "private", "sh", "-c", CNI_MOUNT_NS,
                  "sh", net.confdir, self.run.plugins,
                  "ctr", "--address", self.address, "-n", self.ns, *argv, check=check,
                  timeout=timeout)

    def run_cni(self, net, image, cid, *cmd, check=True):
        """A foreground `ctr run --rm --cni IMG ID CMD...`."""
        self.ids.append(cid)
        return self.ctr_cni(net, "run", "--rm", "--cni", "--runc-root", self.runc_root,
                            "--fifo-dir", self.fifo_dir, image, cid, *cmd, check=check)

    def import_image(self, archive, ref):
        self.images.append(ref)
        self.ctr("images", "import", archive)

    def _shims(self):
        """PIDs of containerd shims serving this daemon (they outlive it)."""
        out = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if argv and b"containerd-shim" in argv[0] and self.address.encode() in argv:
                out.append(int(pid))
        return out

    def stop(self):
        if self.proc and self.proc.poll() is None:
            for cid in self.ids:
                self.ctr("tasks", "kill", "-s", "SIGKILL", cid, check=False, timeout=20)
                self.ctr("tasks", "delete", "-f", cid, check=False, timeout=20)
                self.ctr("containers", "delete", cid, check=False, timeout=20)
            for ref in self.images:
                self.ctr("images", "rm", "--sync", ref, check=False, timeout=20)
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        for pid in self._shims():
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        # the shims' sockets: /run/containerd/s/sha256(address/namespace/id)
        s = os.path.join(self.SHIM_SOCKETS, "s")
        for cid in self.ids:
            h = hashlib.sha256(f"{self.address}/{self.ns}/{cid}".encode()).hexdigest()
            try:
                os.unlink(os.path.join(s, h))
            except FileNotFoundError:
                pass
        if not self.had_shim_root:
            for d in ("s", "fifo", "runc", ""):
                try:
                    os.rmdir(os.path.join(self.SHIM_SOCKETS, d))
                except OSError:
                    pass
