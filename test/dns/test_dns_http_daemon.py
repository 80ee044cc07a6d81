#!/usr/bin/env python3
"""The lingering v6pd-dns-http (label real-client): the real v6pd plugin in a lab host netns
(../netns/cnitest.py) publishing through a real PowerDNS (its HTTP API, sqlite backend) on
that netns's loopback, started by the test and stopped by its PID.

The plugin connects to the helper that lingers for its state directory, or starts it: two
ADDs in a row are served by the same process; it exits after V6PD_DNS_HTTP_IDLE without a
call and removes its socket; killed with SIGKILL between ADDs, the next ADD starts another
one over the stale socket file and publishes; two ADDs started together with none running
both publish and leave exactly one; a socket file left by a dead helper is replaced; a path
that is not a socket makes the plugin fall back to a helper of its own for the call; a
client that is neither root nor the helper's uid cannot reach the socket (0600 in a 0700
directory) and, let through the file modes, is refused by the helper itself (SO_PEERCRED);
a call to a server that black-holes the request does not hold up another network's call.
Every helper a test caused is stopped by its PID at the end (dnshttp.py finds them in /proc).
"""
import json
import os
import signal
import socket
import stat
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "netns"))
sys.path.insert(0, HERE)
import cnitest as ct  # noqa: E402
import dnshttp  # noqa: E402
import dnsservers as ds  # noqa: E402
from standins import StandIn  # noqa: E402
from test_dns_backends import ZONE, reverse_zone  # noqa: E402

NOBODY = 65534


class Daemon(unittest.TestCase):
    SUBNET = 1

    def setUp(self):
        ct.require_root()
        missing = ds.which_missing("dig", "pdns_server")
        if missing:
            raise RuntimeError(f"not installed: {', '.join(missing)} (scripts/deps.sh test)")
        self.lab = ct.Lab(self)
        self.addCleanup(dnshttp.stop_all, self.lab.state)
        self.work = ct.tmp_root()
        os.chmod(self.work, 0o755)
        self.pdns = ds.PowerDNS(self.work, netns=self.lab.host.name)
        self.addCleanup(self.pdns.stop)
        self.pdns.start()
        self.pdns.add_zone(ZONE)
        for subnet in (1, 2):
            self.pdns.add_zone(self.rzone(subnet))
        self.key_file = self.pdns.api_key_file(os.path.join(self.pdns.dir, "api.key"))
        self.sock = dnshttp.socket_path(self.lab.state, self.lab.host.name)

    def rzone(self, subnet):
        import ipaddress
        base = ipaddress.IPv6Network(self.lab.prefix)
        return reverse_zone(str(ipaddress.IPv6Network(
            (int(base.network_address) + (subnet << 64), 64))))

    def conf(self, url=None, subnet=1, timeout="2s", **kw):
        dns = {"zone": ZONE, "ttl": 60, "timeout": timeout,
               "powerdns": {"url": url or self.pdns.url, "apiKeyFile": self.key_file}}
        return self.lab.conf(subnetId=subnet, dns=dns, **kw)

    def add(self, name, conf=None, idle="30s", wait=True):
        p = self.lab.popen("ADD", conf or self.conf(), self.lab.netns(),
                           "c" + os.urandom(6).hex(), args=f"K8S_POD_NAME={name}",
                           env={dnshttp.IDLE_ENV: idle})
        return self.lab.finish(p) if wait else p

    def published(self, name, r):
        """r's address is name's AAAA, and the ADD logged nothing."""
        addr, _ = ct.addr_of(self.lab.ok(r))
        self.assertEqual(r.stderr.strip(), "", "the ADD logged nothing")
        self.assertEqual(self.pdns.query("AAAA", f"{name}.{ZONE}."), [addr])
        self.assertEqual(self.pdns.ptr(addr), [f"{name}.{ZONE}."])
        return addr

    def one_daemon(self):
        pids = dnshttp.daemons(self.lab.state)
        self.assertEqual(len(pids), 1, f"one lingering helper: {pids}")
        return pids[0]

    # ---- tests ----

    def test_two_adds_one_daemon(self):
        self.published("web1", self.add("web1"))
        pid = self.one_daemon()
        st = os.lstat(self.sock)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        with open(self.sock[: -len(".sock")] + ".lock") as f:
            self.assertEqual(int(f.read()), pid, "the lock file names its holder")
        # out of the runtime's way: a session of its own, / as its directory, none of the
        # plugin's descriptors (the runtime's pipes), /dev/null for the standard ones
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        self.assertEqual((int(fields[2]), int(fields[3])), (pid, pid), "pgrp, session")
        self.assertEqual(os.readlink(f"/proc/{pid}/cwd"), "/")
        fds = {int(n): os.readlink(f"/proc/{pid}/fd/{n}") for n in os.listdir(f"/proc/{pid}/fd")}
        self.assertEqual([fds[n] for n in (0, 1, 2)], ["/dev/null"] * 3)
        self.assertEqual([t for t in fds.values() if t.startswith("pipe:")], [], fds)
        self.published("web2", self.add("web2"))
        self.assertEqual(self.one_daemon(), pid, "the second ADD used the same helper")

    def test_exits_when_idle(self):
        self.published("web1", self.add("web1", idle="2s"))
        pid = self.one_daemon()
        self.assertTrue(dnshttp.wait_gone(pid, 15), "gone after its idle time")
        self.assertFalse(os.path.lexists(self.sock), "its socket went with it")
        # and the next ADD starts another
        self.published("web2", self.add("web2"))
        self.assertNotEqual(self.one_daemon(), pid)

    def test_killed_between_adds(self):
        self.published("web1", self.add("web1"))
        pid = self.one_daemon()
        dnshttp.stop(pid, signal.SIGKILL)
        self.assertTrue(stat.S_ISSOCK(os.lstat(self.sock).st_mode), "a stale socket file")
        self.published("web2", self.add("web2"))
        self.assertNotEqual(self.one_daemon(), pid)

    def test_parallel_adds_leave_one_daemon(self):
        for rnd in range(3):
            # both plugins wait for their netconf on stdin, then get it at the same moment:
            # both find no helper and start one
            ps = [self.add(f"web{rnd}x{i}", wait=False) for i in range(2)]
            time.sleep(0.3)
            for p in ps:
                p.stdin.write(p.v6pd_input)
            for p in ps:
                p.stdin.close()
            for i, p in enumerate(ps):
                out, err = p.stdout.read(), p.stderr.read()
                p.wait(timeout=60)
                self.published(f"web{rnd}x{i}", ct.Result(p.v6pd_argv, p.returncode, out, err))
            pid = self.one_daemon()
            dnshttp.stop(pid)

    def test_stale_socket_file_is_replaced(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(self.sock)
        s.close()
        self.assertEqual(self.knock(), "refused", "a socket file nobody listens on")
        self.published("web1", self.add("web1"))
        self.one_daemon()
        self.assertEqual(self.knock(), "answered")

    def knock(self):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
            try:
                c.connect(self.sock)
            except ConnectionRefusedError:
                return "refused"
            c.shutdown(socket.SHUT_WR)      # no request: the helper just closes
            c.settimeout(10)
            return "answered" if c.recv(1) == b"" else "said something"

    def test_not_a_socket_falls_back_to_a_helper_per_call(self):
        os.mkdir(self.sock)
        self.published("web1", self.add("web1"))
        self.assertEqual(dnshttp.daemons(self.lab.state), [], "none could listen there")
        self.assertTrue(os.path.isdir(self.sock), "what was there is left alone")

    def connect_as_nobody(self):
        """Connects to the helper's socket as uid/gid 65534 (a forked child) and reads what
        it says: ("refused", errno) or ("answer", text)."""
        rd, wr = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(rd)
                os.setgroups([])
                os.setgid(NOBODY)
                os.setuid(NOBODY)
                c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                c.settimeout(5)
                try:
                    c.connect(self.sock)
                except OSError as e:
                    os.write(wr, json.dumps(["refused", e.errno]).encode())
                    os._exit(0)
                got = b""
                while True:
                    b = c.recv(4096)
                    if not b:
                        break
                    got += b
                os.write(wr, json.dumps(["answer", got.decode()]).encode())
            finally:
                os._exit(0)
        os.close(wr)
        with os.fdopen(rd) as f:
            out = f.read()
        os.waitpid(pid, 0)
        return json.loads(out)

    def test_non_root_client_is_refused(self):
        self.published("web1", self.add("web1"))
        pid = self.one_daemon()
        import errno
        self.assertEqual(self.connect_as_nobody(), ["refused", errno.EACCES],
                         "the file modes keep others out")
        # let through the file modes, the helper itself refuses (SO_PEERCRED)
        mode = stat.S_IMODE(os.stat(self.lab.state).st_mode)
        os.chmod(self.lab.state, 0o711)
        os.chmod(self.sock, 0o666)
        try:
            kind, text = self.connect_as_nobody()
        finally:
            os.chmod(self.lab.state, mode)
        self.assertEqual(kind, "answer")
        self.assertIn(f"refused a client with uid {NOBODY}", json.loads(text)["error"])
        self.assertEqual(self.one_daemon(), pid, "and goes on serving")
        self.published("web2", self.add("web2"))

    def test_requests_are_served_concurrently(self):
        port = ds.free_port(self.lab.host.name)
        hole = StandIn(self.lab.host.name, "blackhole", port)
        self.addCleanup(hole.stop)
        hole.start()
        slow = self.conf(url=f"http://127.0.0.1:{port}", subnet=2, timeout="4s",
                         name=self.lab.net + "b", bridge="qeb" + os.urandom(4).hex())
        self.published("web0", self.add("web0"))    # the helper runs
        pid = self.one_daemon()
        t0 = time.monotonic()
        p = self.add("slow1", conf=slow, wait=False)
        time.sleep(0.5)                             # its PATCH hangs in the helper now
        t1 = time.monotonic()
        self.published("web1", self.add("web1"))
        fast = time.monotonic() - t1
        r = self.lab.finish(p)
        slow_took = time.monotonic() - t0
        self.lab.ok(r)
        self.assertIn("Timeout was reached", r.stderr)
        self.assertGreater(slow_took, 3.5, "the black-holed call took its dns.timeout")
        self.assertLess(fast, 2.5, "the other call did not wait for it")
        self.assertEqual(self.one_daemon(), pid, "one helper served both")


if __name__ == "__main__":
    unittest.main(verbosity=2)
