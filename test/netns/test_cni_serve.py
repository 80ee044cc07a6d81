#!/usr/bin/env python3
"""The CNI plugin's lingering server (`v6pd --serve`, cni-plugin/serve.h), in real network
namespaces with the real binary.

Calls enter the host netns with `nsenter --net` (the caller's mount namespace kept, as when a
runtime runs a plugin), unless a test says otherwise. Who ran a call is seen from outside:
strace shows whether the called process opened the store itself or handed the call over the
server's socket. The verb, mode, key, IPAM, error and stress suites also run whole through the
server (ctest's *_served tests, cnitest.ENTER); this file covers the server's own life:
start, hand-over, environment, refusals, idle exit, replacement, and leaks under ASan.
"""
import json
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
import unittest

import cniserve
import cnitest
from cnitest import V6PD, Lab, sh

STRACE = shutil.which("strace")


def wait_for(pred, timeout=5.0, what="condition"):
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


class Serve(unittest.TestCase):
    def setUp(self):
        cnitest.require_root()
        if not shutil.which("nsenter"):
            self.skipTest("needs nsenter (util-linux)")
        self.lab = Lab(self)
        self.conf = self.lab.conf(mode="bridge", bridge=self.lab.name("br"))

    # ---- calling ----

    def call(self, cmd, ns=None, cid="c1", conf=None, env=None, plugin=V6PD, enter="nsenter",
             trace=None, stdin=None, syscalls="openat,connect"):
        """One call as a runtime makes it. trace: a file for strace's record of the called
        process."""
        e = self.lab.env(cmd, ns, cid)
        e["CNI_ARGS"] = f"K8S_POD_NAME={cid}"
        if env:
            e.update(env)
        if enter == "nsenter":
            argv = ["nsenter", f"--net={self.lab.host.path}"]
        else:
            argv = ["ip", "netns", "exec", self.lab.host.name]
        if trace:
            # the called process alone (no -f): a server it starts outlives it
            argv += [STRACE, "-qq", "-e", "trace=" + syscalls, "-o", trace]
        argv.append(plugin)
        data = stdin if stdin is not None else json.dumps(conf or self.conf)
        p = subprocess.run(argv, input=data, env=e, capture_output=True, text=True,
                           timeout=60)
        return cnitest.Result(argv, p.returncode, p.stdout, p.stderr)

    def traced(self, cmd, ns=None, cid="c1", **kw):
        """A call under strace: its result, and what the called process opened and
        connected to."""
        if not STRACE:
            self.skipTest("needs strace")
        trace = os.path.join(self.lab.state, "..", f"{self.lab.id}-trace")
        r = self.call(cmd, ns, cid, trace=trace, **kw)
        with open(trace, encoding="utf-8") as f:
            t = f.read()
        os.unlink(trace)
        return r, t

    def served(self, cmd, ns=None, cid="c1", **kw):
        """A call that the server must run: handed over its socket, the store never opened
        by the called process."""
        r, t = self.traced(cmd, ns, cid, **kw)
        self.assertIn(self.socket(), t, f"the call did not reach the server: {r}\n{t}")
        self.assertNotIn("leases.db", t, f"the call opened the store itself:\n{t}")
        return r

    def direct(self, cmd, ns=None, cid="c1", **kw):
        """A call that must run in its own process: it opens the store itself."""
        r, t = self.traced(cmd, ns, cid, **kw)
        self.assertIn("leases.db", t, f"the call did not run in its own process:\n{t}")
        return r

    def socket(self):
        ino = os.stat(self.lab.host.path).st_ino
        return os.path.join(self.lab.state, f"cni-{ino}.sock")

    def server(self, timeout=5.0):
        """The one server of the lab's state dir (waits for it to listen)."""
        pids = wait_for(lambda: cnitest.servers(self.lab.state), timeout, "a server")
        wait_for(lambda: os.path.exists(self.socket()), timeout, "the server's socket")
        self.assertEqual(len(pids), 1, pids)
        return pids[0]

    def start_server(self, **kw):
        ns = self.lab.netns()
        self.lab.ok(self.call("ADD", ns, "warm", **kw))
        return self.server(), ns

    # ---- the tests ----

    def test_the_first_call_starts_a_server_and_the_next_ones_are_served(self):
        self.assertEqual(cnitest.servers(self.lab.state), [])
        pid, _ = self.start_server()
        st = os.stat(self.socket())
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        with open(self.socket()[:-len(".sock")] + ".lock", encoding="utf-8") as f:
            self.assertEqual(f.read().strip(), str(pid))
        ns = self.lab.netns()
        r = self.lab.ok(self.served("ADD", ns, "web1"))
        self.assertIn(r["ips"][0]["address"], ns.addrs("eth0"))
        addr = r["ips"][0]["address"].split("/")[0]
        lease = self.lab.lease_for("web1")
        self.assertEqual(lease["address"], addr)
        self.assertEqual(lease["key"], "web1")
        # DEL, then the same key again: the same address, both served, same server
        self.lab.ok(self.served("DEL", ns, "web1"))
        self.assertIsNone(ns.link("eth0"))
        r2 = self.lab.ok(self.served("ADD", ns, "web1"))
        self.assertEqual(r2["ips"][0]["address"], r["ips"][0]["address"])
        self.lab.ok(self.served("CHECK", ns, "web1", conf=dict(self.conf, prevResult=r2)))
        self.assertEqual(cnitest.servers(self.lab.state), [pid])

    def test_served_and_in_process_calls_answer_alike(self):
        self.start_server()
        off = {"V6PD_SERVE_IDLE": "0"}
        ns1, ns2 = self.lab.netns(), self.lab.netns()
        # stdin that is not JSON names no state directory: the caller answers it itself
        a = self.call("ADD", ns1, "bad0", stdin="{\"cniVersion\":")
        b = self.call("ADD", ns1, "bad0", stdin="{\"cniVersion\":", env=off)
        self.lab.fails(a, 6, "line 1")
        self.assertEqual((a.rc, a.stdout, a.stderr), (b.rc, b.stdout, b.stderr))
        cases = [
            # (what, call arguments): each handed to the server, and run in its own process
            ("bad JSON value", dict(cmd="ADD", ns=ns1, cid="bad1",
                                    stdin=json.dumps(dict(self.conf, mtu=[1500])))),
            ("hostile container ID", dict(cmd="ADD", ns=ns1, cid="../../etc")),
            ("hostile ifname", dict(cmd="ADD", ns=ns1, cid="bad2", env={"CNI_IFNAME": "a/b"})),
            ("missing netns", dict(cmd="ADD", ns="/run/netns/does-not-exist", cid="bad3")),
            ("wrong type", dict(cmd="ADD", ns=ns1, cid="bad4",
                                conf=dict(self.conf, sliceLength="64"))),
            ("unknown verb", dict(cmd="FROB", ns=ns1, cid="bad5")),
            ("STATUS", dict(cmd="STATUS")),
            ("DEL of nothing", dict(cmd="DEL", ns=ns1, cid="nothing")),
        ]
        for what, kw in cases:
            with self.subTest(what):
                a, t = self.traced(**kw)
                self.assertIn(self.socket(), t, f"not handed to the server: {a}")
                b, t = self.traced(**dict(kw, env=dict(kw.get("env") or {}, **off)))
                self.assertNotIn(self.socket(), t)
                self.assertEqual((a.rc, a.stdout, a.stderr), (b.rc, b.stdout, b.stderr))
        # an ADD: the same answer (but the random MACs) and the same log line on stderr
        a = self.lab.ok(self.served("ADD", ns1, "same", env={"CNI_ARGS": ""}))
        self.lab.ok(self.call("DEL", ns1, "same", env={"CNI_ARGS": ""}))
        b = self.direct("ADD", ns2, "same", env=dict(off, CNI_ARGS=""))
        self.lab.ok(b)
        self.assertEqual(a["ips"], b.json["ips"])
        self.assertIn("no stable key given", b.stderr)
        r = self.served("DEL", ns2, "same", env={"CNI_ARGS": ""})
        self.assertEqual((r.rc, r.stdout), (0, ""))

    # ---- the hand-over before libc starts (cni-plugin/quick.h) ----

    def quick(self, cmd, ns=None, cid="c1", **kw):
        """A served call, and whether it was handed over before libc started: glibc's start
        sets up TLS with arch_prctl(ARCH_SET_FS) first thing, the quick path never does."""
        r, t = self.traced(cmd, ns, cid, syscalls="openat,connect,arch_prctl", **kw)
        self.assertIn(self.socket(), t, f"the call did not reach the server: {r}\n{t}")
        self.assertNotIn("leases.db", t, f"the call opened the store itself:\n{t}")
        return r, "ARCH_SET_FS" not in t

    def test_served_calls_are_handed_over_before_libc_starts(self):
        self.start_server()
        ns = self.lab.netns()
        for cmd in ("ADD", "CHECK", "DEL"):
            with self.subTest(cmd):
                conf = self.conf
                if cmd == "CHECK":
                    conf = dict(self.conf, prevResult=add)
                r, quick = self.quick(cmd, ns, "q1", conf=conf)
                if cmd == "ADD":
                    add = self.lab.ok(r)
                    self.assertIn(add["ips"][0]["address"], ns.addrs("eth0"))
                else:
                    self.assertEqual((r.rc, r.stdout), (0, ""), r)
                self.assertTrue(quick, f"{cmd} started libc before it was handed over")
        # an error answer comes back whole: stdout, stderr and the exit status
        r, quick = self.quick("ADD", ns, "q2", conf=dict(self.conf, mtu=[1500]))
        self.assertTrue(quick)
        self.lab.fails(r, 7, "mtu")
        # the IPAM role: the state directory is the one in "ipam", not the default
        conf = {"cniVersion": "1.0.0", "name": self.lab.net, "type": "bridge",
                "ipam": {"type": "v6pd", "prefix": self.lab.prefix, "stateDir": self.lab.state}}
        r, quick = self.quick("ADD", ns, "q3", conf=conf)
        self.assertTrue(quick)
        self.assertEqual(self.lab.ok(r)["ips"][0]["address"].split("/")[0],
                         self.lab.lease_for("q3")["address"])

    def test_a_netconf_the_quick_path_cannot_read_for_sure_is_still_served(self):
        """Escapes, duplicate keys, deep nesting: the quick path leaves those to jansson,
        after libc started; the call is still handed to the server."""
        self.start_server()
        text = json.dumps(self.conf)
        escaped = text.replace(self.lab.state, self.lab.state.replace("/", "\\/"))
        self.assertNotEqual(escaped, text)
        self.assertEqual(json.loads(escaped), self.conf)
        deep = text[:-1] + ', "x-deep": ' + "[" * 40 + "]" * 40 + "}"
        dup = text[:-1] + ', "cniVersion": "1.0.0"}'
        for what, stdin in (("an escaped stateDir", escaped), ("nesting 40 deep", deep),
                            ("a duplicate cniVersion", dup)):
            with self.subTest(what):
                ns = self.lab.netns()
                cid = "x" + str(len(what))
                r, quick = self.quick("ADD", ns, cid, stdin=stdin)
                self.assertFalse(quick, "the quick path read it itself")
                if stdin is dup:
                    self.lab.fails(r, 6, "duplicate object key")
                else:
                    self.assertIn(self.lab.ok(r)["ips"][0]["address"], ns.addrs("eth0"))

    def test_stdin_read_before_libc_reaches_a_call_that_runs_in_its_own_process(self):
        """No server yet: the quick path read stdin already, and main() must see all of it,
        also past the 16 MiB the quick path reads at most."""
        for size in (100 * 1024, 17 * 1024 * 1024):
            with self.subTest(size=size):
                cniserve.stop_servers(self.lab.state)
                ns = self.lab.netns()
                cid = f"big{size}"
                stdin = json.dumps(dict(self.conf, **{"x-pad": "p" * size}))
                r = self.direct("ADD", ns, cid, stdin=stdin)
                self.assertIn(self.lab.ok(r)["ips"][0]["address"], ns.addrs("eth0"))

    def test_each_call_brings_its_own_environment(self):
        self.start_server()
        got = {}
        for pod in ("alpha", "beta"):
            ns = self.lab.netns()
            r = self.lab.ok(self.served("ADD", ns, pod))
            got[pod] = r["ips"][0]["address"].split("/")[0]
            self.assertEqual(self.lab.lease_for(pod)["key"], pod)
        self.assertNotEqual(got["alpha"], got["beta"])
        # a CNI_ARGS key the server's own environment never had
        ns = self.lab.netns()
        r = self.lab.ok(self.served("ADD", ns, "gamma",
                                    env={"CNI_ARGS": "K8S_POD_NAMESPACE=prod;K8S_POD_NAME=db"}))
        self.assertEqual(self.lab.lease_for("gamma")["key"], "prod/db")
        self.assertIn(r["ips"][0]["address"], ns.addrs("eth0"))

    def test_a_caller_in_another_mount_namespace_runs_its_call_itself(self):
        pid, _ = self.start_server()
        ns = self.lab.netns()
        # ip netns exec gives the call a mount namespace of its own
        r = self.lab.ok(self.direct("ADD", ns, "other", enter="ip"))
        self.assertIn(r["ips"][0]["address"], ns.addrs("eth0"))
        self.assertEqual(self.lab.lease_for("other")["address"],
                         r["ips"][0]["address"].split("/")[0])
        self.assertEqual(cnitest.servers(self.lab.state), [pid])

    def test_V6PD_SERVE_IDLE_0_starts_no_server(self):
        for i in range(3):
            ns = self.lab.netns()
            self.lab.ok(self.direct("ADD", ns, f"off{i}", env={"V6PD_SERVE_IDLE": "0"}))
        time.sleep(0.3)
        self.assertEqual(cnitest.servers(self.lab.state), [])

    def test_an_idle_server_exits(self):
        pid, _ = self.start_server(env={"V6PD_SERVE_IDLE": "1s"})
        self.assertTrue(cniserve.wait_gone(pid, 6), "the idle server did not exit")
        self.assertFalse(os.path.exists(self.socket()))
        # the next call runs itself and starts a new one
        ns = self.lab.netns()
        self.lab.ok(self.direct("ADD", ns, "after"))
        self.assertNotEqual(self.server(), pid)

    def test_a_server_whose_socket_is_gone_exits(self):
        pid, _ = self.start_server()
        os.unlink(self.socket())      # as when its state directory is removed
        self.assertTrue(cniserve.wait_gone(pid, 5), "the server outlived its socket")

    def test_sigterm_ends_the_server(self):
        pid, _ = self.start_server()
        os.kill(pid, signal.SIGTERM)
        self.assertTrue(cniserve.wait_gone(pid, 5))
        self.assertFalse(os.path.exists(self.socket()))

    def test_a_killed_server_is_replaced(self):
        pid, ns = self.start_server()
        os.kill(pid, signal.SIGKILL)
        self.assertTrue(cniserve.wait_gone(pid, 5))
        self.assertTrue(os.path.exists(self.socket()))    # left behind by the dead one
        ns2 = self.lab.netns()
        self.lab.ok(self.direct("ADD", ns2, "after-kill"))
        new = self.server()
        self.assertNotEqual(new, pid)
        ns3 = self.lab.netns()
        self.lab.ok(self.served("ADD", ns3, "served-again"))

    def test_a_replaced_binary_retires_its_server(self):
        bindir = tempfile.mkdtemp(prefix=self.lab.id + "-bin-", dir=cnitest.tmp_root())
        plugin = os.path.join(bindir, "v6pd")
        shutil.copy2(V6PD, plugin)
        pid, _ = self.start_server(plugin=plugin)
        # an upgrade: a new file in its place
        tmp = plugin + ".new"
        shutil.copy2(V6PD, tmp)
        os.rename(tmp, plugin)
        ns = self.lab.netns()
        self.lab.ok(self.direct("ADD", ns, "upgraded", plugin=plugin))
        self.assertTrue(cniserve.wait_gone(pid, 5), "the old server did not retire")
        ns2 = self.lab.netns()
        self.lab.ok(self.direct("ADD", ns2, "upgraded2", plugin=plugin))
        new = self.server()
        self.assertNotEqual(new, pid)
        self.lab.ok(self.served("ADD", self.lab.netns(), "upgraded3", plugin=plugin))

    def test_a_store_put_in_place_is_opened_anew(self):
        self.start_server()
        ns = self.lab.netns()
        self.lab.ok(self.served("ADD", ns, "before"))
        # a restored backup: another store file in place of the one the server has open
        backup = os.path.join(self.lab.state, "..", self.lab.id + "-backup.db")
        sh("sqlite3", os.path.join(self.lab.state, "leases.db"), f".backup {backup}")
        self.lab.ok(self.served("DEL", ns, "before"))
        for sfx in ("", "-wal", "-shm"):
            p = os.path.join(self.lab.state, "leases.db" + sfx)
            if os.path.exists(p):
                os.unlink(p)
        os.rename(backup, os.path.join(self.lab.state, "leases.db"))
        self.assertEqual(self.lab.lease_for("before")["state"], "active")
        # the server sees the restored file, not the one it had open
        self.lab.ok(self.served("DEL", ns, "before"))
        self.assertEqual(self.lab.lease_for("before")["state"], "reserved")

    def test_the_socket_refuses_other_users(self):
        if not (shutil.which("unshare") and shutil.which("setpriv")):
            self.skipTest("needs unshare and setpriv (util-linux)")
        self.start_server()
        # The 0700 state directory keeps others away from the socket, which is 0600 too.
        # Behind both, the server checks SO_PEERCRED: here a client running as nobody
        # reaches it (the socket opened to all, bind-mounted where nobody can walk, in a
        # mount namespace of the client's own) and gets no answer.
        os.chmod(self.socket(), 0o666)
        spot = tempfile.NamedTemporaryFile(prefix=self.lab.id + "-", dir="/tmp")
        self.addCleanup(spot.close)
        code = ("import socket,sys\n"
                "s=socket.socket(socket.AF_UNIX)\n"
                "s.connect(sys.argv[1])\n"
                "try:\n"
                "    s.sendall(b'v6pdcni1'+bytes(40))\n"
                "    s.shutdown(socket.SHUT_WR)\n"
                "    print(len(s.recv(100)))\n"
                "except (ConnectionResetError, BrokenPipeError):\n"   # closed on it
                "    print(0)\n")
        for who, uid, want in (("nobody", "65534", "0"), ("root", "0", None)):
            with self.subTest(who):
                p = subprocess.run(
                    ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                     'mount --bind "$1" "$2" && exec setpriv --reuid="$3" --regid="$3" '
                     '--clear-groups python3 -c "$4" "$2"', "sh", self.socket(), spot.name,
                     uid, code], capture_output=True, text=True, timeout=20)
                self.assertEqual(p.returncode, 0, p.stderr)
                if want is not None:
                    self.assertEqual(p.stdout.strip(), want, f"{who} got an answer")
                else:       # root gets the server's answer (declined: a malformed request)
                    self.assertNotEqual(p.stdout.strip(), "0", f"{who} got no answer")

    def slow_server(self, pid, seconds):
        """strace on the server delays every setns() its requests make (entering the
        container's netns) by seconds: a request in flight for the tests to act on."""
        st = subprocess.Popen([STRACE, "-f", "-qq", "-p", str(pid), "-e", "trace=setns", "-e",
                               f"inject=setns:delay_enter={int(seconds * 1e6)}", "-o",
                               "/dev/null"], stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: st.poll() is None and (st.terminate(), st.wait()))
        time.sleep(0.5)         # attached to every thread
        return st

    def start_call(self, cmd, ns, cid):
        e = self.lab.env(cmd, ns, cid)
        e["CNI_ARGS"] = f"K8S_POD_NAME={cid}"
        p = subprocess.Popen(["nsenter", f"--net={self.lab.host.path}", V6PD], env=e,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        p.stdin.write(json.dumps(self.conf))
        p.stdin.close()
        return p

    def test_a_server_that_dies_mid_call_is_an_error_not_a_second_run(self):
        if not STRACE:
            self.skipTest("needs strace")
        pid, _ = self.start_server()
        ns = self.lab.netns()
        self.slow_server(pid, 3)
        p = self.start_call("ADD", ns, "dies")
        time.sleep(1)           # handed over, running, not answered
        os.kill(pid, signal.SIGKILL)
        out = p.stdout.read()
        self.assertEqual(p.wait(timeout=30), 1)
        res = json.loads(out)
        self.assertEqual(res["code"], 11, res)
        self.assertIn("ended before it answered", res["msg"])
        # it was not run again by the caller: the container got nothing from it
        self.assertIsNone(ns.link("eth0"))
        # the runtime's DEL and GC leave nothing
        self.lab.ok(self.call("DEL", ns, "dies"))
        self.lab.ok(self.call("GC", None, None, conf=dict(
            self.conf, **{"cni.dev/valid-attachments": []})))
        self.assertEqual(self.lab.host_veths(), {})
        self.assertNotIn("active", {l["state"] for l in self.lab.leases()})

    def test_a_del_waits_for_the_add_of_its_attachment(self):
        if not STRACE:
            self.skipTest("needs strace")
        pid, warm = self.start_server()
        self.lab.ok(self.call("DEL", warm, "warm"))
        ns = self.lab.netns()
        self.slow_server(pid, 2)
        add = self.start_call("ADD", ns, "slow")
        time.sleep(0.5)
        add.kill()              # the runtime gave up on the ADD; the server goes on with it
        add.wait()
        # containerd's DEL, without the netns: it enters no namespace, so strace's delay
        # holds back only the ADD, which has made nothing yet
        r = self.call("DEL", "", "slow")
        self.lab.ok(r)
        # the DEL ran after the ADD, so nothing of the ADD is left, now or once the ADD's
        # delay is surely over (a DEL run beside it would have left its veth behind)
        self.assertEqual(self.lab.host_veths(), {})
        time.sleep(3)
        self.assertEqual(self.lab.host_veths(), {})
        self.assertIsNone(ns.link("eth0"))
        self.assertEqual(self.lab.lease_for("slow")["state"], "reserved")

    def test_twenty_parallel_calls(self):
        _, warm = self.start_server()
        self.lab.ok(self.call("DEL", warm, "warm"))
        nss = [self.lab.netns() for _ in range(20)]
        out = [None] * 20

        def one(i):
            out[i] = self.call("ADD", nss[i], f"par{i}")

        ts = [threading.Thread(target=one, args=(i,)) for i in range(20)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        addrs = set()
        for i, r in enumerate(out):
            res = self.lab.ok(r)
            self.assertIn(res["ips"][0]["address"], nss[i].addrs("eth0"))
            addrs.add(res["ips"][0]["address"].split("/")[0])
        self.assertEqual(len(addrs), 20)
        for a in sorted(addrs):
            self.assertTrue(self.lab.host.ping(a), f"{a} does not answer the host")
        for i in range(20):
            self.lab.ok(self.call("DEL", nss[i], f"par{i}"))
        self.assertEqual(self.lab.host_veths(), {})
        self.assertEqual({l["state"] for l in self.lab.leases() if l["key"].startswith("par")},
                         {"reserved"})


class ServeUnderASan(unittest.TestCase):
    """The server under AddressSanitizer and LeakSanitizer: a few hundred calls of every
    kind, then its idle exit, and nothing reported. run-tests points V6PD_ASAN_BIN at
    build-asan/bin."""

    def test_no_errors_and_no_leaks(self):
        cnitest.require_root()
        asan = os.environ.get("V6PD_ASAN_BIN")
        if not asan or not os.access(os.path.join(asan, "v6pd"), os.X_OK):
            self.skipTest("V6PD_ASAN_BIN (build-asan/bin) not given")
        plugin = os.path.join(asan, "v6pd")
        lab = Lab(self)
        conf = lab.conf(mode="bridge", bridge=lab.name("br"))
        log = os.path.join(cnitest.tmp_root(), lab.id + "-asan.log")
        ino = os.stat(lab.host.path).st_ino
        sock = os.path.join(lab.state, f"cni-{ino}.sock")
        env = dict(os.environ, V6PD_SERVE_IDLE="2s", ASAN_OPTIONS="detect_leaks=1",
                   UBSAN_OPTIONS="print_stacktrace=1")
        with open(log, "w", encoding="utf-8") as f:
            srv = subprocess.Popen(["nsenter", f"--net={lab.host.path}", plugin, "--serve",
                                    sock], stdin=subprocess.DEVNULL, stdout=f, stderr=f,
                                   env=env)
        self.addCleanup(lambda: srv.poll() is None and srv.kill())
        wait_for(lambda: os.path.exists(sock), 10, "the ASan server's socket")

        def call(cmd, ns, cid, c=conf):
            e = lab.env(cmd, ns, cid, args=f"K8S_POD_NAME={cid}")
            e["ASAN_OPTIONS"] = "detect_leaks=0"      # the callers are not under test
            p = subprocess.run(["nsenter", f"--net={lab.host.path}", plugin],
                               input=json.dumps(c), env=e, capture_output=True, text=True,
                               timeout=60)
            return cnitest.Result([plugin], p.returncode, p.stdout, p.stderr)

        nss = [lab.netns() for _ in range(10)]
        # handed over, not run by the caller: the caller never opens the store
        if shutil.which("strace"):
            trace = log + ".trace"
            e = lab.env("STATUS", None, None)
            e["ASAN_OPTIONS"] = "detect_leaks=0"
            subprocess.run(["nsenter", f"--net={lab.host.path}", "strace", "-qq", "-e",
                            "trace=openat,connect", "-o", trace, plugin],
                           input=json.dumps(conf), env=e, capture_output=True, text=True,
                           timeout=60)
            with open(trace, encoding="utf-8") as f:
                t = f.read()
            self.assertIn(sock, t)
            self.assertNotIn("leases.db", t)
        for rnd in range(3):
            for i, ns in enumerate(nss):
                res = lab.ok(call("ADD", ns, f"a{i}"))
                lab.ok(call("CHECK", ns, f"a{i}", dict(conf, prevResult=res)))
            for i, ns in enumerate(nss):
                lab.ok(call("DEL", ns, f"a{i}"))
            lab.fails(call("ADD", nss[0], "bad", dict(conf, sliceLength="x")), 7)
            lab.fails(call("ADD", "/run/netns/nope", "gone"))
            lab.ok(call("STATUS", None, None))
            lab.ok(call("GC", None, None, dict(conf, **{"cni.dev/valid-attachments": []})))
        self.assertEqual(srv.wait(timeout=30), 0)
        with open(log, encoding="utf-8") as f:
            report = f.read()
        self.assertNotIn("Sanitizer", report, report)
        self.assertNotIn("runtime error", report, report)


if __name__ == "__main__":
    unittest.main(verbosity=2)
