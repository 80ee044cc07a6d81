"""A real libvirtd for the real-client tests of v6pd-libvirt-hook, started by hand as
../shared/TESTING.md says, with the test guest of ../shared/tools/test-guest booted under TCG.

libvirtd cannot easily run in a network namespace, so everything runs in the host netns and
everything a run makes carries a random per-run prefix (RUN): domains, libvirt networks,
bridges, taps, the v6pd networks, a private 2001:db8:XXXX::/56 prefix, a directory under
/var/tmp. What the run leaves behind is undone by Libvirt.cleanup() (also at exit): domains
and networks with the prefix destroyed and undefined, libvirtd and (when this run started
it) virtlogd stopped by PID, the LIBVIRT_* iptables/ip6tables chains that were not there
before removed, links with the prefix deleted, the test's dnsmasq stopped by PID, the hook
files put back as they were and net.ipv6.conf.{all,default}.forwarding restored.

The hook: libvirtd gives hooks an environment of just LC_ALL, HOME and PATH, so the test's
config cannot travel in V6PD_LIBVIRT_CONFIG from here. Installed as
/etc/libvirt/hooks/qemu.d/v6pd and network.d/v6pd (before libvirtd starts: hooks are found
at daemon start only; whatever was there is moved aside and put back) is a small /bin/sh
wrapper that sets V6PD_LIBVIRT_CONFIG to the run's config and runs the real binary. It
records every call (argv, stdin, stdout, stderr, exit status, start and end in ns) in
RUN's calls/ directory; Hooks.plain() swaps it for a bare `exec` for timing. The host's
/etc/v6pd/libvirt.json is never touched.

Only one libvirtd can run on a host: runs take an flock on /run/lock/v6pd-test-libvirtd.lock
(and CTest's RESOURCE_LOCK libvirtd keeps them apart), and a libvirtd that is not ours makes
the tests skip, naming its PID.
"""
import atexit
import fcntl
import glob
import hashlib
import ipaddress
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("V6PD_SRC", os.path.dirname(os.path.dirname(HERE)))
BIN = os.path.abspath(os.environ.get("V6PD_BIN") or os.path.join(SRC, "build", "bin"))
HOOK = os.path.join(BIN, "v6pd-libvirt-hook")
V6PDCTL = os.path.join(BIN, "v6pdctl")
GUEST_TOOL = os.path.join(os.path.dirname(SRC), "shared", "tools", "test-guest")
if not os.path.isdir(GUEST_TOOL):
    GUEST_TOOL = "/work/shared/tools/test-guest"
GUEST_CACHE = "/var/tmp/v6pd-test-guest"
HOOK_DIRS = ("/etc/libvirt/hooks/qemu.d", "/etc/libvirt/hooks/network.d")
LOCK = "/run/lock/v6pd-test-libvirtd.lock"
URI = "qemu:///system"
FWD_SYSCTLS = ("/proc/sys/net/ipv6/conf/all/forwarding",
               "/proc/sys/net/ipv6/conf/default/forwarding")
RUN = "v6l" + secrets.token_hex(2)

WRAPPER = r"""#!/bin/sh
# v6pd test hook of run %(run)s: the real hook with the run's config, each call recorded.
V6PD_LIBVIRT_CONFIG='%(conf)s'
export V6PD_LIBVIRT_CONFIG
d=$(mktemp -d '%(calls)s/XXXXXXXX') || exit 5
printf '%%s\n' "$0" "$@" > "$d/argv"
cat > "$d/stdin"
t0=$(date +%%s%%N)
'%(real)s' "$@" < "$d/stdin" > "$d/stdout" 2> "$d/stderr"
rc=$?
t1=$(date +%%s%%N)
echo "$rc $t0 $t1" > "$d/rc"
cat "$d/stdout"
cat "$d/stderr" >&2
exit "$rc"
"""
PLAIN = """#!/bin/sh
# v6pd test hook of run %(run)s (plain, for timing)
V6PD_LIBVIRT_CONFIG='%(conf)s' exec '%(real)s' "$@"
"""


def sh(*argv, check=True, input=None, timeout=120, env=None):
    t0 = time.monotonic()
    p = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout,
                       env=env)
    p.elapsed = time.monotonic() - t0
    if check and p.returncode != 0:
        raise AssertionError("%s: exit %d\nstdout: %s\nstderr: %s" % (
            " ".join(argv), p.returncode, p.stdout.strip(), p.stderr.strip()))
    return p


def log(msg):
    print("[virt %s] %s" % (RUN, msg), file=sys.stderr, flush=True)


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def procs_named(comm):
    out = []
    for d in glob.glob("/proc/[0-9]*"):
        try:
            with open(d + "/comm") as f:
                if f.read().strip() == comm and pid_alive(int(d[6:])):
                    out.append(int(d[6:]))
        except OSError:
            pass
    return out


def read_pidfile(path):
    try:
        with open(path) as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def stop_pid(pid, timeout=30):
    if not pid or not pid_alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if pid_alive(pid):
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)


def wait_for(pred, timeout, step=0.2, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(step)


def ping(addr, timeout=20):
    """True once `ping -6 -c1` answers (retried until timeout s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sh("ping", "-6", "-c1", "-W1", addr, check=False, timeout=10).returncode == 0:
            return True
        time.sleep(0.3)
    return False


def require():
    """SkipTest unless root; missing tools are errors (scripts/deps.sh test installs them)."""
    if os.geteuid() != 0:
        raise unittest.SkipTest("needs root: a real libvirtd, hooks in /etc/libvirt/hooks")
    missing = [t for t in ("libvirtd", "virtlogd", "virsh", "qemu-system-x86_64", "dnsmasq",
                           "ping", "iptables", "ip6tables") if not shutil.which(t)]
    if missing:
        raise RuntimeError("not installed: %s (run scripts/deps.sh test)" % ", ".join(missing))
    wait_for_hook()


def wait_for_hook():
    """The hook binary is built by another target; wait a little for it (V6PD_HOOK_WAIT s,
    default 0) before calling it missing."""
    deadline = time.monotonic() + float(os.environ.get("V6PD_HOOK_WAIT", "0"))
    while not os.access(HOOK, os.X_OK):
        if time.monotonic() > deadline:
            raise RuntimeError("%s is not built (set V6PD_BIN)" % HOOK)
        time.sleep(5)
    if not os.access(V6PDCTL, os.X_OK):
        raise RuntimeError("%s is not built (set V6PD_BIN)" % V6PDCTL)


# ---- the test guest ----

def guest_files():
    """(vmlinuz, initrd.img) of the test guest, built once per version of its sources and of
    the kernel into /var/tmp/v6pd-test-guest/KEY/ (readable by QEMU's user)."""
    h = hashlib.sha256()
    for n in ("build.sh", "init.sh"):
        with open(os.path.join(GUEST_TOOL, n), "rb") as f:
            h.update(f.read())
    h.update(" ".join(sorted(glob.glob("/boot/vmlinuz-*cloud-amd64"))).encode())
    out = os.path.join(GUEST_CACHE, h.hexdigest()[:16])
    files = (os.path.join(out, "vmlinuz"), os.path.join(out, "initrd.img"))
    os.makedirs(GUEST_CACHE, exist_ok=True)
    os.chmod(GUEST_CACHE, 0o755)
    with open(os.path.join(GUEST_CACHE, ".lock"), "w") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        if not all(os.path.exists(f) for f in files):
            tmp = out + ".tmp-%d" % os.getpid()
            shutil.rmtree(tmp, ignore_errors=True)
            t0 = time.monotonic()
            sh(os.path.join(GUEST_TOOL, "build.sh"), tmp, timeout=900)
            os.rename(tmp, out)
            log("built the test guest in %.1f s into %s" % (time.monotonic() - t0, out))
    os.chmod(out, 0o755)
    for f in files:
        os.chmod(f, 0o644)
    return files


class Console:
    """The serial console log of a domain (written by virtlogd; append='off': each start
    begins a new file)."""

    def __init__(self, path):
        self.path = path

    def text(self):
        try:
            with open(self.path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def lines(self):
        return [l.strip() for l in self.text().splitlines() if l.startswith("GUEST:")]

    def wait_ready(self, timeout=240):
        """The guest's global addresses (without /len) once it printed GUEST: READY."""
        wait_for(lambda: "GUEST: READY" in self.text(), timeout, 0.1,
                 "GUEST: READY in %s; console so far: %r" % (self.path, self.text()[-600:]))
        return self.addresses()

    def addresses(self):
        got = [l for l in self.lines() if l.startswith("GUEST: addresses")]
        if not got:
            return []
        return [a.split("/")[0] for a in got[-1].split()[2:]]

    def default_route(self):
        got = [l for l in self.lines() if l.startswith("GUEST: default")]
        return got[-1][len("GUEST: default"):].strip() if got else ""


# ---- the daemon, the hooks, the cleanup ----

class Hooks:
    def __init__(self, tmp, conf):
        self.tmp, self.conf = tmp, conf
        self.calls = os.path.join(tmp, "calls")
        os.makedirs(self.calls)
        os.chmod(self.calls, 0o755)
        self.backup = os.path.join(tmp, "hooks-backup")
        self.installed = []
        self.created_dirs = []

    def install(self):
        """Before libvirtd starts. Anything at our paths is moved aside first."""
        for d in HOOK_DIRS:
            if not os.path.isdir(d):
                os.makedirs(d)
                self.created_dirs.append(d)
            path = os.path.join(d, "v6pd")
            if os.path.lexists(path):
                os.makedirs(self.backup, exist_ok=True)
                shutil.move(path, os.path.join(self.backup, os.path.basename(d)))
            self.installed.append(path)
            self._write(path, WRAPPER)

    def _write(self, path, template):
        # the hook tells qemu from network by its name (.../qemu.d/v6pd): run it through a
        # symlink of that name
        kind = os.path.basename(os.path.dirname(path))
        real = os.path.join(self.tmp, "hookbin", kind, "v6pd")
        if not os.path.lexists(real):
            os.makedirs(os.path.dirname(real), exist_ok=True)
            os.symlink(HOOK, real)
        text = template % {"run": RUN, "conf": self.conf, "calls": self.calls, "real": real}
        tmp = path + ".%s-tmp" % RUN
        with open(tmp, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o755)
        os.rename(tmp, path)

    def plain(self, on):
        """on: a bare exec wrapper (no recording), for timing; off: the recording one."""
        for p in self.installed:
            self._write(p, PLAIN if on else WRAPPER)

    def park(self, on):
        """on: move our hooks out of libvirt's directories (libvirtd must be restarted to
        notice); off: put them back."""
        parked = os.path.join(self.tmp, "hooks-parked")
        os.makedirs(parked, exist_ok=True)
        for p in self.installed:
            away = os.path.join(parked, os.path.basename(os.path.dirname(p)))
            if on and os.path.lexists(p):
                shutil.move(p, away)
            elif not on and os.path.lexists(away):
                shutil.move(away, p)

    def restore(self):
        self.park(False)
        for p in self.installed:
            if os.path.lexists(p):
                os.unlink(p)
            saved = os.path.join(self.backup, os.path.basename(os.path.dirname(p)))
            if os.path.lexists(saved):
                shutil.move(saved, p)
        self.installed = []
        for d in reversed(self.created_dirs):
            try:
                os.rmdir(d)
            except OSError:
                pass

    def records(self, since=0):
        """The recorded calls started at or after since (ns), oldest first: dicts with argv
        (without $0), stdin, stdout, stderr, rc, t0, t1 (ns)."""
        out = []
        for d in glob.glob(os.path.join(self.calls, "*")):
            try:
                with open(os.path.join(d, "rc")) as f:
                    rc, t0, t1 = (int(x) for x in f.read().split())
            except (OSError, ValueError):
                continue
            if t0 < since:
                continue
            rec = {"rc": rc, "t0": t0, "t1": t1, "dir": d}
            for n in ("argv", "stdin", "stdout", "stderr"):
                with open(os.path.join(d, n), errors="replace") as f:
                    rec[n] = f.read()
            rec["argv"] = rec["argv"].splitlines()
            rec["kind"] = os.path.basename(os.path.dirname(rec["argv"][0]))[:-2]
            rec["argv"] = rec["argv"][1:]
            out.append(rec)
        return sorted(out, key=lambda r: r["t0"])


class Libvirt:
    """One libvirtd of this run, its hooks, its config and everything to undo."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix=RUN + "-", dir="/var/tmp")
        os.chmod(self.tmp, 0o755)   # dnsmasq (nobody) reaches the state dir through it
        self.state = os.path.join(self.tmp, "state")
        self.conf = os.path.join(self.tmp, "libvirt.json")
        self.prefix = ipaddress.IPv6Network("2001:db8:%x::/56" %
                                            (random.randrange(0x100, 0xff00) & 0xff00))
        self.hooks = Hooks(self.tmp, self.conf)
        self.libvirtd_log = os.path.join(self.tmp, "libvirtd.log")
        self.libvirtd_pid = 0
        self.virtlogd_pid = 0
        self.lock = None
        self.sysctls = {}
        self.chains_before = None
        self.links = []
        self.entries = []
        self._done = False
        self.kernel, self.initrd = guest_files()

    # -- config --
    def write_config(self, entries=None, raw=None):
        if entries is not None:
            self.entries = entries
        with open(self.conf + ".tmp", "w") as f:
            if raw is not None:
                f.write(raw)
            else:
                json.dump({"stateDir": self.state, "interfaces": self.entries}, f, indent=1)
        os.chmod(self.conf + ".tmp", 0o644)
        os.rename(self.conf + ".tmp", self.conf)

    # -- daemon --
    def start(self):
        lock = open(LOCK, "w")
        t0 = time.monotonic()
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
        except BaseException:
            lock.close()
            raise
        self.lock = lock
        if time.monotonic() - t0 > 1:
            log("waited %.0f s for another run's libvirtd" % (time.monotonic() - t0))
        foreign = procs_named("libvirtd")
        if foreign:
            self.lock.close()
            self.lock = None
            raise unittest.SkipTest("a libvirtd not started by this test runs (pid %s); "
                                    "stop it to run these tests" % foreign)
        atexit.register(self.cleanup)
        for p in FWD_SYSCTLS:
            with open(p) as f:
                self.sysctls[p] = f.read().strip()
        self.chains_before = self._chains()
        self.hooks.install()
        if not procs_named("virtlogd"):
            os.makedirs("/var/log/libvirt", exist_ok=True)
            pidfile = os.path.join(self.tmp, "virtlogd.pid")
            sh("virtlogd", "-d", "-p", pidfile)
            self.virtlogd_pid = wait_for(lambda: read_pidfile(pidfile), 10, 0.05,
                                         "virtlogd's pid file")
        self.start_libvirtd()

    def start_libvirtd(self):
        pidfile = os.path.join(self.tmp, "libvirtd.pid")
        if os.path.exists(pidfile):
            os.unlink(pidfile)
        env = dict(os.environ, LIBVIRT_LOG_OUTPUTS="3:file:" + self.libvirtd_log)
        t0 = time.monotonic()
        sh("libvirtd", "-d", "-p", pidfile, env=env)
        self.libvirtd_pid = wait_for(lambda: read_pidfile(pidfile), 20, 0.05,
                                     "libvirtd's pid file")
        wait_for(lambda: sh("virsh", "-c", URI, "version", check=False,
                            timeout=30).returncode == 0, 60, 0.1, "libvirtd to answer")
        return time.monotonic() - t0

    def stop_libvirtd(self):
        stop_pid(self.libvirtd_pid, 60)
        self.libvirtd_pid = 0

    def restart_libvirtd(self, hooks=True):
        """Restarts libvirtd with or without our hooks (found at daemon start only)."""
        self.stop_libvirtd()
        self.hooks.park(not hooks)
        return self.start_libvirtd()

    def virsh(self, *args, check=True, timeout=180):
        return sh("virsh", "-c", URI, *args, check=check, timeout=timeout)

    # -- links and names --
    def name(self, tag):
        return "%s%s" % (RUN, tag)

    def tap(self, tag):
        """A tap made beforehand for <interface type='ethernet'> (managed='no')."""
        name = self.name(tag)[:15]
        sh("ip", "tuntap", "add", "dev", name, "mode", "tap")
        self.links.append(name)
        return name

    def bridge(self, tag):
        """A plain bridge v6pd does not manage (for timing without the hook's work)."""
        name = self.name(tag)[:15]
        sh("ip", "link", "add", name, "type", "bridge")
        sh("ip", "link", "set", name, "up")
        self.links.append(name)
        return name

    def mac(self, n):
        h = hashlib.sha256((RUN + str(n)).encode()).digest()
        return "52:54:00:%02x:%02x:%02x" % (h[0], h[1], n & 0xff)

    # -- domains --
    def domain_xml(self, name, ifaces, uuid=None):
        """ifaces: [(type, source-or-tap, mac)], type in bridge|ethernet|network."""
        console = os.path.join(self.tmp, "console-%s.log" % name)
        nics = []
        for kind, src, mac in ifaces:
            if kind == "bridge":
                head = "<interface type='bridge'><source bridge='%s'/>" % src
            elif kind == "network":
                head = "<interface type='network'><source network='%s'/>" % src
            else:
                head = "<interface type='ethernet'><target dev='%s' managed='no'/>" % src
            nics.append(head + "<mac address='%s'/><model type='virtio'/><rom enabled='no'/>"
                        "</interface>" % mac)
        xml = """<domain type='qemu'><name>%(name)s</name>%(uuid)s
 <memory unit='MiB'>256</memory><vcpu>1</vcpu>
 <os><type arch='x86_64' machine='pc'>hvm</type><kernel>%(kernel)s</kernel>
  <initrd>%(initrd)s</initrd><cmdline>console=ttyS0 panic=-1 guestnet=dhcp6</cmdline></os>
 <features><acpi/><apic/></features><on_poweroff>destroy</on_poweroff>
 <devices>
  %(nics)s
  <serial type='pty'><log file='%(console)s' append='off'/><target port='0'/></serial>
  <console type='pty'><target type='serial' port='0'/></console><memballoon model='none'/>
 </devices></domain>
""" % {"name": name, "uuid": "<uuid>%s</uuid>" % uuid if uuid else "", "kernel": self.kernel,
       "initrd": self.initrd, "nics": "\n  ".join(nics), "console": console}
        return xml, Console(console)

    def define(self, name, ifaces, uuid=None):
        xml, console = self.domain_xml(name, ifaces, uuid)
        path = os.path.join(self.tmp, name + ".xml")
        with open(path, "w") as f:
            f.write(xml)
        self.virsh("define", path)
        return console

    def start_domain(self, name, check=True):
        return self.virsh("start", name, check=check)

    def uuid(self, name):
        return self.virsh("domuuid", name).stdout.strip()

    def taps_of(self, name):
        """{mac: host-side interface} of a running domain (virsh domiflist)."""
        out = {}
        for line in self.virsh("domiflist", name).stdout.splitlines()[2:]:
            f = line.split()
            if len(f) >= 5:
                out[f[4].lower()] = f[0]
        return out

    def leases(self):
        p = sh(V6PDCTL, "--state-dir", self.state, "--json", "leases", check=False)
        return json.loads(p.stdout) if p.returncode == 0 and p.stdout.strip() else []

    def dnsmasq_pid(self):
        pid = read_pidfile(os.path.join(self.state, "dnsmasq", "dnsmasq.pid"))
        return pid if pid_alive(pid) else 0

    # -- cleanup --
    @staticmethod
    def _chains():
        out = set()
        for tool in ("iptables", "ip6tables"):
            for table in ("filter", "nat", "mangle"):
                p = sh(tool, "-w", "-t", table, "-S", check=False)
                for line in p.stdout.splitlines():
                    if line.startswith("-N LIBVIRT_"):
                        out.add((tool, table, line.split()[1]))
        return out

    def _remove_chains(self):
        if self.chains_before is None:      # never started: nothing here is ours
            return set()
        new = self._chains() - self.chains_before
        for tool, table, chain in sorted(new):
            for line in sh(tool, "-w", "-t", table, "-S", check=False).stdout.splitlines():
                f = line.split()
                if f[:1] == ["-A"] and "-j" in f and f[f.index("-j") + 1] == chain:
                    sh(tool, "-w", "-t", table, "-D", *f[1:], check=False)
        for tool, table, chain in sorted(new):
            sh(tool, "-w", "-t", table, "-F", chain, check=False)
        for tool, table, chain in sorted(new):
            sh(tool, "-w", "-t", table, "-X", chain, check=False)
        return new

    def cleanup(self):
        if self._done:
            return
        self._done = True
        if not self.lock:       # never got the host's libvirtd: nothing was started
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        try:
            if self.libvirtd_pid:
                for name in self.virsh("list", "--all", "--name", check=False).stdout.split():
                    if name.startswith(RUN):
                        self.virsh("destroy", name, check=False)
                        self.virsh("undefine", name, check=False)
                for name in self.virsh("net-list", "--all", "--name",
                                       check=False).stdout.split():
                    if name.startswith(RUN):
                        self.virsh("net-destroy", name, check=False)
                        self.virsh("net-undefine", name, check=False)
                self.stop_libvirtd()
            for pid in procs_named("qemu-system-x86"):
                try:
                    with open("/proc/%d/cmdline" % pid, "rb") as f:
                        if ("guest=" + RUN).encode() in f.read():
                            stop_pid(pid, 10)
                except OSError:
                    pass
            if self.virtlogd_pid:
                stop_pid(self.virtlogd_pid, 10)
            self.hooks.restore()
            removed = self._remove_chains()
            if removed:
                log("removed %d LIBVIRT_* chains" % len(removed))
            pid = self.dnsmasq_pid()
            if pid:
                stop_pid(pid, 10)
            for link in os.listdir("/sys/class/net"):
                if link.startswith(RUN) or link in self.links:
                    sh("ip", "link", "del", link, check=False)
            for p, v in self.sysctls.items():
                with open(p, "w") as f:
                    f.write(v + "\n")
        finally:
            if self.lock:
                self.lock.close()
                self.lock = None
            if os.environ.get("V6PD_KEEP_TMP"):
                log("kept " + self.tmp)
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)


# ---- guest to guest ----

def _csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def reply_reaches(src_guest, dst_guest, src_link, timeout=5):
    """Whether dst_guest, sent an ICMPv6 echo request that claims to come from src_guest,
    gets its echo reply to src_guest's link (src_link, the host side of src_guest's
    interface): that is dst_guest's own stack resolving and routing to src_guest, the path
    a guest-to-guest packet takes. The host cannot make a guest ping (the test guest runs no
    shell on its console), so it plays the first packet and watches for the answer."""
    ident, seq = random.randrange(1, 0xffff), 1
    payload = b"v6pd-" + RUN.encode()
    src = socket.inet_pton(socket.AF_INET6, src_guest)
    dst = socket.inet_pton(socket.AF_INET6, dst_guest)
    icmp = struct.pack("!BBHHH", 128, 0, 0, ident, seq) + payload
    pseudo = src + dst + struct.pack("!I3xB", len(icmp), 58)
    icmp = icmp[:2] + struct.pack("!H", _csum(pseudo + icmp)) + icmp[4:]
    ip6 = struct.pack("!IHBB", 6 << 28, len(icmp), 58, 64) + src + dst
    # ETH_P_ALL: frames the host sends out of a link reach only ETH_P_ALL packet sockets
    sniff = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    sniff.bind((src_link, 3))
    sniff.settimeout(0.2)
    send = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
    try:
        send.setsockopt(socket.IPPROTO_IPV6, 36, 1)     # IPV6_HDRINCL
        deadline = time.monotonic() + timeout
        next_send = 0
        while time.monotonic() < deadline:
            if time.monotonic() >= next_send:
                send.sendto(ip6 + icmp, (dst_guest, 0))
                next_send = time.monotonic() + 1
            try:
                frame, where = sniff.recvfrom(2048)
            except socket.timeout:
                continue
            pkt = frame[14:]
            # only what the host hands to src_guest's link, not what arrives from it
            if where[2] != socket.PACKET_OUTGOING or frame[12:14] != b"\x86\xdd" or \
                    len(pkt) < 48 or pkt[6] != 58 or pkt[8:24] != dst or pkt[24:40] != src:
                continue
            t, _, _, i, _ = struct.unpack("!BBHHH", pkt[40:48])
            if t == 129 and i == ident:
                return True
        return False
    finally:
        sniff.close()
        send.close()


# ---- running a test module ----

SKIPPED = 77    # CTest's SKIP_RETURN_CODE for these tests


def main():
    """unittest.main() for a test module, exiting 77 when nothing ran but skips (a module
    skipped in setUpModule, e.g. no libvirtd of our own possible), so CTest says Skipped."""
    prog = unittest.main(verbosity=2, exit=False)
    r = prog.result
    if r.wasSuccessful() and r.skipped and r.testsRun <= len(r.skipped):
        sys.exit(SKIPPED)
    sys.exit(0 if r.wasSuccessful() else 1)


# ---- a test case over one Libvirt per module ----

LV = None


def setup_module():
    """Starts this module's libvirtd (call from setUpModule)."""
    global LV
    require()
    # SIGTERM/SIGHUP (a killed ctest, a closed terminal) still run the cleanup: as
    # KeyboardInterrupt, which unittest lets through (it records SystemExit as an error and
    # goes on with the next test)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, signal.default_int_handler)
    LV = Libvirt()
    try:
        LV.start()
    except BaseException:
        LV.cleanup()
        raise
    return LV


def teardown_module():
    if LV:
        LV.cleanup()


class VirtCase(unittest.TestCase):
    def lv(self):
        return LV

    def boot(self, name, ifaces, uuid=None):
        """Defines and starts a domain; (console, addresses) once the guest is ready."""
        console = LV.define(name, ifaces, uuid)
        LV.start_domain(name)
        return console, console.wait_ready()

    def destroy(self, name):
        LV.virsh("destroy", name, check=False)

    def undefine(self, name):
        LV.virsh("destroy", name, check=False)
        LV.virsh("undefine", name, check=False)

    def assert_stable_address(self, addrs, net):
        """Exactly one global address, inside net (an IPv6Network)."""
        self.assertEqual(len(addrs), 1, "want one global address, got %s" % addrs)
        self.assertIn(ipaddress.IPv6Address(addrs[0]), net, "%s not in %s" % (addrs[0], net))
        return addrs[0]

    def assert_pings(self, addr):
        self.assertTrue(ping(addr), "host cannot ping the guest at %s" % addr)
