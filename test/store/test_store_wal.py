#!/usr/bin/env python3
"""The store's WAL checkpoint worker (store_close_detached()), driving test/tools/store-writer,
which closes the store the way the CNI plugin does:

- over 200 lease acquisitions from separate processes the WAL stays short (the worker
  truncates it after a call past 32 frames; the inline fallback only at 256);
- the worker is detached: a new session, stdio on /dev/null, nothing else of the caller's
  open (the caller's stdout pipe reaches EOF when the caller exits), and it exits once done;
- a worker SIGKILLed at random moments leaves a consistent store that lost nothing;
- after a call that leaves the WAL short no worker runs.

The test process makes itself a child subreaper, so the workers (orphaned when store-writer
exits) become its children: it finds them, waits for them and reaps them.

Environment: V6PD_TEST_BIN (store-writer), V6PD_BIN (v6pdctl). Label unit: needs no root.
"""
import ctypes
import fcntl
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("V6PD_SRC", os.path.dirname(os.path.dirname(HERE)))
BIN = os.environ.get("V6PD_BIN", os.path.join(SRC, "build", "bin"))
TEST_BIN = os.environ.get("V6PD_TEST_BIN", os.path.join(SRC, "build", "test"))
V6PDCTL = os.path.join(BIN, "v6pdctl")
WRITER = os.path.join(TEST_BIN, "store-writer")

PR_SET_CHILD_SUBREAPER = 36
WAL_HEADER, FRAME = 32, 24 + 4096
DETACH_FRAMES, INLINE_FRAMES = 32, 256


def wal_frames(state):
    try:
        size = os.path.getsize(os.path.join(state, "leases.db-wal"))
    except FileNotFoundError:
        return 0
    return max(0, size - WAL_HEADER) // FRAME


def children(exclude=()):
    """PIDs of this process's live children (the workers, once adopted). Read from the
    kernel's list of this thread's children, not by scanning /proc: a scan takes longer than
    a worker on a fast disk lives."""
    me, found = os.getpid(), []
    try:
        with open("/proc/%d/task/%d/children" % (me, me)) as f:
            pids = [int(x) for x in f.read().split()]
    except OSError:
        pids = []
    for pid in pids:
        if pid in exclude:
            continue
        try:
            with open("/proc/%d/stat" % pid) as f:
                stat = f.read()
        except OSError:
            continue
        if stat[stat.rindex(")") + 2:].split()[0] != "Z":
            found.append(pid)
    return found


def reap_all(timeout):
    """Waits for every child to exit; returns {pid: wait status}; fails on a timeout."""
    done, deadline = {}, time.monotonic() + timeout
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return done
        if pid:
            done[pid] = status
            continue
        if time.monotonic() > deadline:
            raise AssertionError("children still running after %.1f s: %s"
                                 % (timeout, children()))
        time.sleep(0.002)


class WalWorker(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for path in (V6PDCTL, WRITER):
            if not os.access(path, os.X_OK):
                raise unittest.SkipTest("%s not built" % path)
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            raise unittest.SkipTest("prctl(PR_SET_CHILD_SUBREAPER) failed")

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="qs-wal-")
        self.state = os.path.join(self.root, "state")
        subprocess.run([V6PDCTL, "--state-dir", self.state, "prefix", "set",
                        "2001:db8:4400::/48"], check=True, capture_output=True)
        self.checkpoint()
        self.promised = {}

    def tearDown(self):
        try:
            reap_all(5)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def checkpoint(self):
        con = sqlite3.connect(os.path.join(self.state, "leases.db"))
        try:
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            con.close()

    def write(self, prefix, count, **kw):
        """store-writer as a caller would run it; returns its Popen, already exited, after
        its stdout reached EOF (nothing else holds the pipe) and its lines were read."""
        p = subprocess.Popen([WRITER, self.state, "net", prefix, str(count)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
        out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 0, err)
        self.assertNotIn("Sanitizer", err)
        for line in out.splitlines()[1:]:
            key, addr = line.split()
            self.promised[key] = addr
        return p

    def assert_store_keeps_promises(self):
        con = sqlite3.connect(os.path.join(self.state, "leases.db"))
        try:
            self.assertEqual(con.execute("PRAGMA integrity_check").fetchall(), [("ok",)])
            keys = {k for (k,) in con.execute("SELECT key FROM leases WHERE network = 'net'")}
        finally:
            con.close()
        self.assertEqual(set(self.promised) - keys, set(), "leases lost")

    def test_wal_stays_short(self):
        most = 0
        for i in range(200):
            self.write("w%d" % i, 1)
            most = max(most, wal_frames(self.state))
        statuses = reap_all(5)
        self.assertTrue(statuses, "no worker ever ran")
        for pid, status in statuses.items():
            self.assertEqual(os.waitstatus_to_exitcode(status), 0, "worker %d" % pid)
        # A worker may still be at it when the next calls commit: a little past 32.
        self.assertLess(most, 2 * DETACH_FRAMES, "the WAL grew to %d frames" % most)
        self.assertLess(wal_frames(self.state), DETACH_FRAMES)
        self.assert_store_keeps_promises()
        self.assertEqual(len(self.promised), 200)

    def test_worker_detached(self):
        # A reader's open snapshot holds the worker's TRUNCATE (it waits up to 2 s for
        # readers), long enough to look at it.
        reader = sqlite3.connect(os.path.join(self.state, "leases.db"),
                                 isolation_level=None)
        try:
            reader.execute("BEGIN")
            reader.execute("SELECT count(*) FROM leases").fetchall()
            start = time.monotonic()
            p = self.write("d", 30)
            self.assertGreaterEqual(wal_frames(self.state), DETACH_FRAMES)
            found = []
            while not found and time.monotonic() - start < 5:
                found = children(exclude=(p.pid,))
                time.sleep(0.001)
            self.assertEqual(len(found), 1, "no worker found")
            pid = found[0]
            with open("/proc/%d/stat" % pid) as f:
                stat = f.read()
            fields = stat[stat.rindex(")") + 2:].split()
            self.assertEqual(int(fields[3]), pid, "the worker leads a session of its own")
            fds = {int(fd): os.readlink("/proc/%d/fd/%s" % (pid, fd))
                   for fd in os.listdir("/proc/%d/fd" % pid)}
            for fd in (0, 1, 2):
                self.assertEqual(fds[fd], "/dev/null")
            for fd, target in fds.items():
                self.assertFalse(target.startswith("pipe:"), "fd %d: %s" % (fd, target))
        finally:
            reader.execute("COMMIT")
            reader.close()
        t0 = time.monotonic()
        statuses = reap_all(5)
        self.assertEqual(os.waitstatus_to_exitcode(statuses[pid]), 0)
        self.assertLess(time.monotonic() - t0, 0.5, "the worker lingered")
        self.assertEqual(wal_frames(self.state), 0, "the worker truncated the WAL")
        self.assert_store_keeps_promises()

    def test_worker_killed(self):
        rng = random.Random()
        killed = 0
        for i in range(30):
            # A worker lives a few milliseconds: a reader's open snapshot holds its TRUNCATE
            # until the worker has been found; then the reader lets go and the kill lands at
            # a random moment of the checkpoint.
            reader = sqlite3.connect(os.path.join(self.state, "leases.db"),
                                     isolation_level=None)
            try:
                reader.execute("BEGIN")
                reader.execute("SELECT count(*) FROM leases").fetchall()
                p = self.write("k%d" % i, 15)
                found, t0 = [], time.monotonic()
                while (not found and wal_frames(self.state) >= DETACH_FRAMES
                       and time.monotonic() - t0 < 5):
                    found = children(exclude=(p.pid,))
                    time.sleep(0.001)
            finally:
                reader.execute("COMMIT")
                reader.close()
            time.sleep(rng.uniform(0, 0.004))
            for pid in found:
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed += 1
                except ProcessLookupError:
                    pass
            reap_all(5)
            self.assert_store_keeps_promises()
        self.assertGreater(killed, 0, "no worker was ever found to kill")
        # The lock of a killed worker went with it: the next one runs.
        self.write("after", 15)
        reap_all(5)
        self.assertLess(wal_frames(self.state), DETACH_FRAMES)
        self.assert_store_keeps_promises()

    def test_no_worker_when_short(self):
        self.write("s", 1)
        frames = wal_frames(self.state)
        self.assertGreater(frames, 0)
        self.assertLess(frames, DETACH_FRAMES)
        time.sleep(0.2)
        self.assertEqual(reap_all(0), {}, "a worker ran for a short WAL")
        self.assertEqual(wal_frames(self.state), frames, "the WAL was checkpointed")


if __name__ == "__main__":
    unittest.main()
