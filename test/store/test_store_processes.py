#!/usr/bin/env python3
"""The SQLite lease store across processes, driving the real binaries.

- the same key gets the same address from separate v6pdctl processes, and after
  `prefix set` to a new prefix the same IID (low 64 bits) under the new prefix;
- 50 v6pdctl processes reserving at once get 50 distinct addresses, none fails;
- crash safety: test/tools/store-writer SIGKILLed 100 times at random moments; every
  lease it reported as committed survives, with its address, and none is duplicated.

Environment: V6PD_BIN (the directory holding v6pdctl), V6PD_TEST_BIN (store-writer).
Label unit: needs no root.
"""
import ipaddress
import json
import os
import random
import secrets
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("V6PD_SRC", os.path.dirname(os.path.dirname(HERE)))
BIN = os.environ.get("V6PD_BIN", os.path.join(SRC, "build", "bin"))
TEST_BIN = os.environ.get("V6PD_TEST_BIN", os.path.join(SRC, "build", "test"))
V6PDCTL = os.path.join(BIN, "v6pdctl")
WRITER = os.path.join(TEST_BIN, "store-writer")

IID_MASK = (1 << 64) - 1
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
                   "runtime error:")


def rand_name(what):
    return "%s-%s" % (what, secrets.token_hex(4))


def rand_prefix56(rng=random):
    """A random /56 inside 2001:db8::/32 (documentation space)."""
    return ipaddress.IPv6Network((0x20010db8 << 96 | rng.getrandbits(24) << 72, 56))


class Ctl:
    """Runs v6pdctl against one state dir; every run is checked for crashes."""

    def __init__(self, test, state_dir):
        self.test = test
        self.state_dir = state_dir

    def argv(self, *args):
        return [V6PDCTL, "--state-dir", self.state_dir, *args]

    def check_no_crash(self, argv, rc, err):
        self.test.assertGreaterEqual(rc, 0, "%s killed by signal %d; stderr: %s"
                                     % (argv, -rc, err))
        for mark in SANITIZER_MARKS:
            self.test.assertNotIn(mark, err, "%s: sanitizer report" % (argv,))

    def run(self, *args, expect=0):
        argv = self.argv(*args)
        p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        self.check_no_crash(argv, p.returncode, p.stderr)
        if expect is not None:
            self.test.assertEqual(p.returncode, expect, "%s: exit %d, stderr: %s"
                                  % (argv, p.returncode, p.stderr))
        return p

    def json(self, *args):
        return json.loads(self.run("--json", *args).stdout)


class StoreTestCase(unittest.TestCase):
    def setUp(self):
        for path in (V6PDCTL, WRITER):
            if not os.access(path, os.X_OK):
                self.fail("%s is not built (set V6PD_BIN / V6PD_TEST_BIN)" % path)
        self.tmp = tempfile.mkdtemp(prefix="v6pd-store-proc-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.state = os.path.join(self.tmp, "state")
        self.ctl = Ctl(self, self.state)

    def kill_on_cleanup(self, proc):
        """Kills proc (by its PID) if it still runs when the test ends."""
        def stop():
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
            for f in (proc.stdout, proc.stderr):
                if f:
                    f.close()
        self.addCleanup(stop)

    def slice_of(self, network):
        nets = {n["name"]: n for n in self.ctl.json("networks")}
        self.assertIn(network, nets)
        return ipaddress.IPv6Network(nets[network]["slice"])


class SameKeySameAddress(StoreTestCase):
    def test_across_processes_and_prefix_change(self):
        old, new = rand_prefix56(), rand_prefix56()
        while new == old:
            new = rand_prefix56()
        self.ctl.run("prefix", "set", str(old))
        nets = [rand_name("net") for _ in range(3)]
        keys = [(net, rand_name("key")) for net in nets for _ in range(4)]

        first = {}
        for net, key in keys:
            p = self.ctl.run("lease", "reserve", net, key)
            first[net, key] = ipaddress.IPv6Address(p.stdout.strip())
        self.assertEqual(len(set(first.values())), len(keys), "two keys share an address")

        # Every later process sees the same address: reserve again, show, list.
        for (net, key), addr in first.items():
            again = self.ctl.run("lease", "reserve", net, key).stdout.strip()
            self.assertEqual(ipaddress.IPv6Address(again), addr, (net, key))
            shown = self.ctl.json("lease", "show", net, key)
            self.assertEqual(ipaddress.IPv6Address(shown["address"]), addr, (net, key))
        listed = {(l["network"], l["key"]): ipaddress.IPv6Address(l["address"])
                  for l in self.ctl.json("leases")}
        self.assertEqual(listed, first)

        old_slices = {net: self.slice_of(net) for net in nets}
        for (net, key), addr in first.items():
            self.assertIn(addr, old_slices[net])
            self.assertTrue(old_slices[net].subnet_of(old))

        # Renumber: a new /56; every lease keeps slice index and IID.
        out = self.ctl.json("prefix", "set", str(new))
        self.assertEqual(out["prefix"], str(new))
        self.assertEqual(out["previous"], str(old))
        self.assertTrue(out["changed"])
        new_slices = {net: self.slice_of(net) for net in nets}
        for net in nets:
            self.assertTrue(new_slices[net].subnet_of(new), net)
            # Same slice index: the same offset within the delegated prefix.
            self.assertEqual(int(new_slices[net].network_address) - int(new.network_address),
                             int(old_slices[net].network_address) - int(old.network_address))
        for (net, key), addr in first.items():
            for moved in (self.ctl.run("lease", "reserve", net, key).stdout.strip(),
                          self.ctl.json("lease", "show", net, key)["address"]):
                moved = ipaddress.IPv6Address(moved)
                self.assertIn(moved, new_slices[net], (net, key))
                self.assertEqual(int(moved) & IID_MASK, int(addr) & IID_MASK,
                                 "%s/%s: IID changed with the prefix (%s -> %s)"
                                 % (net, key, addr, moved))

        # And back: the very same addresses as at first.
        self.ctl.run("prefix", "set", str(old))
        for (net, key), addr in first.items():
            shown = self.ctl.json("lease", "show", net, key)["address"]
            self.assertEqual(ipaddress.IPv6Address(shown), addr, (net, key))


class Concurrent(StoreTestCase):
    N = 50

    def start_all(self, argvs):
        procs = []
        for argv in argvs:
            p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            self.kill_on_cleanup(p)
            procs.append(p)
        # Only now wait: all of them run at once.
        results = []
        for argv, p in zip(argvs, procs):
            out, err = p.communicate(timeout=120)
            out, err = out.decode(), err.decode()
            self.ctl.check_no_crash(argv, p.returncode, err)
            self.assertEqual(p.returncode, 0, "%s: exit %d, stderr: %s"
                             % (argv, p.returncode, err))
            self.assertEqual(err, "", argv)
            results.append(out)
        return results

    def test_first_use_races(self):
        """50 processes create the store, then 50 race on the first lease (and secret).

        Three fresh stores: the races (creating the file, switching it to WAL, migrating,
        creating the secret) are over in milliseconds."""
        for attempt in range(3):
            self.ctl.state_dir = self.state = os.path.join(self.tmp, "fresh%d" % attempt)
            prefix = rand_prefix56()
            outs = self.start_all([self.ctl.argv("--json", "prefix", "set", str(prefix))
                                   for _ in range(self.N)])
            changed = [json.loads(o)["changed"] for o in outs]
            self.assertEqual(changed.count(True), 1, "exactly one process sets the prefix")
            net = rand_name("net")
            outs = self.start_all([self.ctl.argv("lease", "reserve", net, "k%d" % i)
                                   for i in range(self.N)])
            addrs = [ipaddress.IPv6Address(o.strip()) for o in outs]
            self.assertEqual(len(set(addrs)), self.N)
            sl = self.slice_of(net)
            for a in addrs:
                self.assertIn(a, sl)
            self.assertEqual(os.path.getsize(os.path.join(self.state, "secret.key")), 32)

    def test_fifty_at_once(self):
        prefix = rand_prefix56()
        self.ctl.run("prefix", "set", str(prefix))
        net = rand_name("net")
        everyone = {}
        for rnd in range(3):
            keys = ["key-%d-r%d-%s" % (i, rnd, secrets.token_hex(2)) for i in range(self.N)]
            t0 = time.monotonic()
            outs = self.start_all([self.ctl.argv("lease", "reserve", net, k) for k in keys])
            took = time.monotonic() - t0
            addrs = {k: ipaddress.IPv6Address(o.strip()) for k, o in zip(keys, outs)}
            self.assertEqual(len(set(addrs.values())), self.N,
                             "round %d: duplicate addresses" % rnd)
            sl = self.slice_of(net)
            self.assertTrue(sl.subnet_of(prefix))
            for k, a in addrs.items():
                self.assertIn(a, sl, k)
            everyone.update(addrs)
            print("round %d: %d parallel reserves in %.2fs" % (rnd, self.N, took),
                  file=sys.stderr)
        self.assertEqual(len(set(everyone.values())), 3 * self.N)
        # The store agrees with what the processes printed.
        listed = {l["key"]: ipaddress.IPv6Address(l["address"])
                  for l in self.ctl.json("leases", "--network", net)}
        self.assertEqual(listed, everyone)
        nets = {n["name"]: n for n in self.ctl.json("networks")}
        self.assertEqual(nets[net]["leases"], 3 * self.N)


class CrashSafety(StoreTestCase):
    RUNS = 100

    def test_sigkill_writer(self):
        seed = int(os.environ.get("V6PD_TEST_SEED", random.randrange(1 << 32)))
        print("crash safety: seed %d (V6PD_TEST_SEED=%d reproduces it)" % (seed, seed),
              file=sys.stderr)
        rng = random.Random(seed)
        self.ctl.run("prefix", "set", str(rand_prefix56(rng)))
        net = rand_name("net")
        # store-writer raises the network's maxLeases: it takes thousands of leases here.
        reported = {}
        stats = {"before_ready": 0, "runs_with_leases": 0}
        for run in range(self.RUNS):
            tag = "r%d%s" % (run, secrets.token_hex(3))
            delay = rng.randint(1, 30) / 1000.0
            # A third of the kills count from the process start (they may land in
            # store_open and WAL recovery), the rest from "ready", after the store is
            # open, so they land among the transactions.
            from_start = rng.random() < 1 / 3
            p = subprocess.Popen([WRITER, self.state, net, tag], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
            self.kill_on_cleanup(p)
            start = time.monotonic()
            if not from_start:
                ready, _, _ = select.select([p.stdout], [], [], 60)
                self.assertTrue(ready, "store-writer did not get ready in 60 s")
                line = p.stdout.readline()
                if line != b"ready\n":
                    p.wait()
                    self.fail("store-writer: %r, exit %s, stderr: %s"
                              % (line, p.returncode, p.stderr.read().decode()))
                start = time.monotonic()
            time.sleep(max(0.0, delay - (time.monotonic() - start)))
            os.kill(p.pid, signal.SIGKILL)
            # Through p.stdout, not communicate(): readline() above may have buffered
            # more than "ready" (up to 8 KB, ending mid-line), which communicate(), reading
            # the descriptor itself, would never see.
            out = p.stdout.read()
            err = p.stderr.read()
            p.wait(timeout=60)
            self.assertEqual(p.returncode, -signal.SIGKILL,
                             "store-writer ended on its own (exit %s) before the kill: %s"
                             % (p.returncode, err.decode()))
            lines = out.decode().split("\n")
            if lines[-1]:
                lines.pop()   # cut short by the kill: not reported
            got = 0
            for line in lines:
                if line in ("", "ready"):
                    continue
                key, addr = line.split(" ")
                self.assertNotIn(key, reported)
                reported[key] = ipaddress.IPv6Address(addr)
                got += 1
            if from_start and b"ready" not in out:
                stats["before_ready"] += 1
            if got:
                stats["runs_with_leases"] += 1
        print("crash safety: %d runs, %d killed before the store was open, %d runs "
              "committed leases, %d leases reported"
              % (self.RUNS, stats["before_ready"], stats["runs_with_leases"], len(reported)),
              file=sys.stderr)
        self.assertGreater(stats["runs_with_leases"], self.RUNS // 2,
                           "most kills should land after some commits")

        # The store opens, and every reported lease is there with its address.
        leases = self.ctl.json("leases")
        stored = {}
        for l in leases:
            if l["network"] == net:
                stored[l["key"]] = ipaddress.IPv6Address(l["address"])
        for key, addr in reported.items():
            self.assertIn(key, stored, "lease %s reported as committed is lost" % key)
            self.assertEqual(stored[key], addr, key)
        addrs = [l["address"] for l in leases]
        self.assertEqual(len(addrs), len(set(addrs)), "an address appears twice")
        sl = self.slice_of(net)
        for a in stored.values():
            self.assertIn(a, sl)
        nets = {n["name"]: n for n in self.ctl.json("networks")}
        self.assertEqual(nets[net]["leases"], len(stored),
                         "the network's lease count disagrees with its leases")

        db = os.path.join(self.state, "leases.db")
        con = sqlite3.connect(db)
        try:
            self.assertEqual(con.execute("PRAGMA integrity_check").fetchall(), [("ok",)])
        finally:
            con.close()

        # And it still works: a writer runs to its end, v6pdctl reserves.
        p = subprocess.run([WRITER, self.state, net, rand_name("after"), "20"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(p.stdout.splitlines()), 21)
        self.ctl.run("lease", "reserve", net, rand_name("key"))

    def test_sigkill_while_creating(self):
        """A store whose creation (file, WAL switch, schema migration) was cut short by
        SIGKILL opens and works afterwards."""
        seed = int(os.environ.get("V6PD_TEST_SEED", random.randrange(1 << 32)))
        print("creation crashes: seed %d" % seed, file=sys.stderr)
        rng = random.Random(seed)
        # How long creating a store takes here (a sanitizer build is ~10 times slower):
        # the kills spread over that time.
        took = []
        for run in range(3):
            t0 = time.monotonic()
            Ctl(self, os.path.join(self.tmp, "timing%d" % run)).run(
                "prefix", "set", str(rand_prefix56(rng)))
            took.append(time.monotonic() - t0)
        span = sorted(took)[1]
        outcomes = {"killed": 0, "finished": 0}
        for run in range(30):
            self.ctl.state_dir = self.state = os.path.join(self.tmp, "new%d" % run)
            prefix = rand_prefix56(rng)
            p = subprocess.Popen(self.ctl.argv("prefix", "set", str(prefix)),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            self.kill_on_cleanup(p)
            time.sleep(rng.uniform(0, span))
            os.kill(p.pid, signal.SIGKILL)
            _, err = p.communicate(timeout=60)
            outcomes["killed" if p.returncode == -signal.SIGKILL else "finished"] += 1
            if p.returncode != -signal.SIGKILL:
                self.ctl.check_no_crash(p.args, p.returncode, err.decode())
                self.assertEqual(p.returncode, 0, err.decode())
            self.ctl.run("prefix", "set", str(prefix))
            net = rand_name("net")
            a = self.ctl.run("lease", "reserve", net, "k").stdout.strip()
            self.assertIn(ipaddress.IPv6Address(a), prefix)
            con = sqlite3.connect(os.path.join(self.state, "leases.db"))
            try:
                self.assertEqual(con.execute("PRAGMA integrity_check").fetchall(), [("ok",)])
            finally:
                con.close()
        print("creation crashes: kills within %.1f ms: %d killed, %d finished first"
              % (span * 1000, outcomes["killed"], outcomes["finished"]), file=sys.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
