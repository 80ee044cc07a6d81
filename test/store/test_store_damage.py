#!/usr/bin/env python3
"""A damaged lease store, driving the real v6pdctl.

DamagedStore (label unit): a truncated, corrupt, foreign, newer-schema, garbage store file
and a directory in its place: every verb exits 1 with one line on stderr naming the store,
never crashes, and leaves the damaged file as it was.

FullDisk, UnreadableStateDir (label root): the state dir on a full 1 MiB tmpfs (the failing
call says the disk is full, nothing committed is lost, the store still opens); a 0700
root-owned state dir used by user nobody (exit 1, the message names the path).

Environment: V6PD_BIN (the directory holding v6pdctl), V6PD_TEST_BIN (store-writer).
Run a subset by class name: test_store_damage.py DamagedStore
"""
import errno
import ipaddress
import json
import os
import random
import re
import secrets
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("V6PD_SRC", os.path.dirname(os.path.dirname(HERE)))
BIN = os.environ.get("V6PD_BIN", os.path.join(SRC, "build", "bin"))
TEST_BIN = os.environ.get("V6PD_TEST_BIN", os.path.join(SRC, "build", "test"))
V6PDCTL = os.path.join(BIN, "v6pdctl")
WRITER = os.path.join(TEST_BIN, "store-writer")
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
                   "runtime error:")
NOBODY = 65534


def rand_name(what):
    return "%s-%s" % (what, secrets.token_hex(4))


def rand_prefix56():
    return ipaddress.IPv6Network((0x20010db8 << 96 | random.getrandbits(24) << 72, 56))


def verbs(net, key):
    """Every verb, in the forms an operator would type them."""
    other = rand_prefix56()
    return [
        ["prefix", "set", str(other)],
        ["prefix", "show"],
        ["networks"],
        ["leases"],
        ["leases", "--network", net],
        ["lease", "reserve", net, rand_name("new")],
        ["lease", "reserve", net, key],
        ["lease", "show", net, key],
        ["lease", "release", net, key],
        ["lease", "release", net, key, "--forget"],
        ["gc"],
        ["gc", "--older-than", "0s"],
    ]


def read_bytes(path):
    if os.path.isdir(path):
        return ("dir", sorted(os.listdir(path)))
    with open(path, "rb") as f:
        return f.read()


class Base(unittest.TestCase):
    def setUp(self):
        if not os.access(V6PDCTL, os.X_OK):
            self.fail("%s is not built (set V6PD_BIN)" % V6PDCTL)
        self.tmp = tempfile.mkdtemp(prefix="v6pd-store-damage-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)

    def ctl(self, state_dir, *args, expect=0, pre=()):
        argv = [*pre, V6PDCTL, "--state-dir", state_dir, *args]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        self.assertGreaterEqual(p.returncode, 0, "%s killed by signal %d; stderr: %s"
                                % (argv, -p.returncode, p.stderr))
        for mark in SANITIZER_MARKS:
            self.assertNotIn(mark, p.stderr, "%s: sanitizer report" % (argv,))
        if expect is not None:
            self.assertEqual(p.returncode, expect, "%s: exit %d, stderr: %s"
                             % (argv, p.returncode, p.stderr))
        return p

    def assert_one_line_error(self, p, *needles):
        where = "%s" % (p.args,)
        self.assertEqual(p.returncode, 1, "%s: exit %d, stderr: %s"
                         % (where, p.returncode, p.stderr))
        self.assertEqual(p.stdout, "", where)
        self.assertTrue(p.stderr.endswith("\n"), "%s: %r" % (where, p.stderr))
        self.assertEqual(p.stderr.count("\n"), 1, "%s: not one line: %r" % (where, p.stderr))
        for n in needles:
            self.assertIn(n, p.stderr, where)


class DamagedStore(Base):
    """Each kind of damage, each verb: exit 1, one line naming the store, file untouched."""

    @classmethod
    def setUpClass(cls):
        cls.seed = int(os.environ.get("V6PD_TEST_SEED", random.randrange(1 << 32)))
        print("damage: seed %d (V6PD_TEST_SEED=%d reproduces it)" % (cls.seed, cls.seed),
              file=sys.stderr)

    def setUp(self):
        super().setUp()
        if not os.access(WRITER, os.X_OK):
            self.fail("%s is not built (set V6PD_TEST_BIN)" % WRITER)
        self.rng = random.Random(self.seed)
        # A good store with a few hundred leases, so it has pages worth damaging.
        good = os.path.join(self.tmp, "good")
        self.net, self.key = rand_name("net"), rand_name("key")
        self.ctl(good, "prefix", "set", str(rand_prefix56()))
        p = subprocess.run([WRITER, good, self.net, rand_name("w"), "400"],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.ctl(good, "lease", "reserve", self.net, self.key)
        self.ctl(good, "lease", "reserve", rand_name("net"), self.key)
        # v6pd leaves the WAL in place (no checkpoint on close); a plain SQLite connection
        # checkpoints it into leases.db and removes it when it closes.
        con = sqlite3.connect(os.path.join(good, "leases.db"))
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
        for suffix in ("-wal", "-shm"):
            self.assertFalse(os.path.exists(os.path.join(good, "leases.db" + suffix)))
        self.good = read_bytes(os.path.join(good, "leases.db"))
        with open(os.path.join(good, "secret.key"), "rb") as f:
            self.secret = f.read()
        self.assertGreaterEqual(len(self.good) // 4096, 12)

    def damaged(self, make):
        """A state dir holding the secret and a leases.db made by make(path)."""
        d = tempfile.mkdtemp(prefix="state-", dir=self.tmp)
        with open(os.path.join(d, "secret.key"), "wb") as f:
            f.write(self.secret)
        os.chmod(os.path.join(d, "secret.key"), 0o600)
        db = os.path.join(d, "leases.db")
        make(db)
        for suffix in ("-wal", "-shm"):
            if os.path.exists(db + suffix):
                os.unlink(db + suffix)
        if os.path.isfile(db):
            os.chmod(db, 0o600)
        return d, db

    def check_every_verb(self, make, *needles):
        d, db = self.damaged(make)
        before = read_bytes(db)
        for args in verbs(self.net, self.key):
            for json_flag in ([], ["--json"]):
                p = self.ctl(d, *json_flag, *args, expect=None)
                self.assert_one_line_error(p, db, *needles)
                self.assertEqual(read_bytes(db), before,
                                 "%s modified the damaged store" % (args,))
        return p.stderr

    def test_truncated(self):
        def make(db):
            with open(db, "wb") as f:
                f.write(self.good[:len(self.good) // 2])
        print("truncated: " + self.check_every_verb(make), file=sys.stderr, end="")

    def test_corrupt(self):
        def make(db):
            data = bytearray(self.good)
            pages = len(data) // 4096
            first, last = pages // 3, max(pages // 3 + 1, 2 * pages // 3)
            for pg in range(first, last):
                data[pg * 4096:(pg + 1) * 4096] = bytes(self.rng.getrandbits(8)
                                                        for _ in range(4096))
            with open(db, "wb") as f:
                f.write(data)
        print("corrupt: " + self.check_every_verb(make), file=sys.stderr, end="")

    def test_foreign_sqlite(self):
        for mode in ("DELETE", "WAL"):
            def make(db):
                con = sqlite3.connect(db)
                con.execute("PRAGMA journal_mode = %s" % mode)
                con.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
                con.executemany("INSERT INTO customers (name) VALUES (?)",
                                [("c%d" % i,) for i in range(100)])
                con.commit()
                con.close()
            with self.subTest(journal_mode=mode):
                err = self.check_every_verb(make, "not a v6pd store")
                print("foreign (%s): %s" % (mode, err), file=sys.stderr, end="")

    def test_newer_schema(self):
        def make(db):
            with open(db, "wb") as f:
                f.write(self.good)
            con = sqlite3.connect(db)
            con.execute("PRAGMA user_version = 99")
            con.commit()
            con.close()
        print("newer: " + self.check_every_verb(make, "99"), file=sys.stderr, end="")

    def test_garbage(self):
        def make(db):
            with open(db, "wb") as f:
                f.write(bytes(self.rng.getrandbits(8) for _ in range(65536)))
        print("garbage: " + self.check_every_verb(make), file=sys.stderr, end="")

    def test_directory_in_place(self):
        def make(db):
            os.mkdir(db)
        print("directory: " + self.check_every_verb(make), file=sys.stderr, end="")


def need_root(test):
    if os.geteuid() != 0:
        test.skipTest("needs root")


class FullDisk(Base):
    """The state dir on a 1 MiB tmpfs: reserve until the disk is full."""

    def mount_tmpfs(self, path, size):
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0700" % size,
                            "tmpfs", path], capture_output=True, text=True)
        if p.returncode != 0:
            if "permission denied" in p.stderr.lower() or "not permitted" in p.stderr.lower():
                self.skipTest("cannot mount tmpfs here: " + p.stderr.strip())
            self.fail("mount: " + p.stderr)

    def umount(self, path):
        subprocess.run(["umount", path], check=True)

    def full_disk(self, room_kib):
        need_root(self)
        state = os.path.join(self.tmp, "state")
        os.mkdir(state, 0o700)
        self.mount_tmpfs(state, "1m")
        try:
            self.fill_and_check(state, room_kib)
        finally:
            self.umount(state)

    def test_fills_up(self):
        """The disk fills while leases are reserved: a commit fails."""
        self.full_disk(192)

    def test_already_full(self):
        """Something else filled the disk: not even the -shm index fits."""
        self.full_disk(0)

    def fill_and_check(self, state, room_kib):
        db = os.path.join(state, "leases.db")
        self.ctl(state, "prefix", "set", str(rand_prefix56()))
        net = rand_name("net")
        got = {}
        failed = None
        for i in range(4000):
            # Long keys fill the disk sooner (each is stored in the table and two indexes).
            key = "key-%d-%s" % (i, secrets.token_hex(96))
            p = self.ctl(state, "lease", "reserve", net, key, expect=None)
            if p.returncode != 0:
                failed = p
                break
            got[key] = ipaddress.IPv6Address(p.stdout.strip())
            if i == 20:
                # Ballast leaves room_kib: with 192 KiB the disk fills after ~150 more
                # leases instead of ~1,000 (every v6pdctl run checks the whole store).
                vfs = os.statvfs(state)
                ballast = vfs.f_bavail * vfs.f_frsize - room_kib * 1024
                try:
                    with open(os.path.join(state, "ballast"), "wb") as f:
                        f.write(bytes(max(ballast, 0)))
                except OSError as e:
                    self.assertEqual(e.errno, errno.ENOSPC)
        self.assertIsNotNone(failed, "a 1 MiB tmpfs never filled up")
        print("full disk after %d leases: %s" % (len(got), failed.stderr), file=sys.stderr,
              end="")
        self.assertGreater(len(got), 10)
        self.assert_one_line_error(failed, state)
        self.assertRegex(failed.stderr, re.compile(r"disk is full|no space left", re.I))

        # Nothing committed is lost, and the store opens on the full disk.
        stored = {l["key"]: ipaddress.IPv6Address(l["address"])
                  for l in json.loads(self.ctl(state, "--json", "leases").stdout)}
        self.assertEqual(stored, got)
        keys = list(got)
        for key in keys[:3] + keys[-3:] + random.sample(keys, 5):
            shown = json.loads(self.ctl(state, "--json", "lease", "show", net, key).stdout)
            self.assertEqual(ipaddress.IPv6Address(shown["address"]), got[key])
        self.ctl(state, "prefix", "show")

        # With room again, the same store goes on working. (Not before: on a full disk
        # Python's SQLite, like any other, has no room for the -shm index of a WAL store.)
        subprocess.run(["mount", "-o", "remount,size=4m", state], check=True)
        con = sqlite3.connect(db)
        try:
            self.assertEqual(con.execute("PRAGMA integrity_check").fetchall(), [("ok",)])
        finally:
            con.close()
        self.ctl(state, "prefix", "show")
        key = rand_name("after")
        addr = ipaddress.IPv6Address(self.ctl(state, "lease", "reserve", net, key)
                                     .stdout.strip())
        self.assertNotIn(addr, set(got.values()))
        again = {l["key"]: ipaddress.IPv6Address(l["address"])
                 for l in json.loads(self.ctl(state, "--json", "leases").stdout)}
        self.assertEqual(again, dict(got, **{key: addr}))


class UnreadableStateDir(Base):
    """User nobody against root's 0700 state dir: exit 1, a message naming the path."""

    def setUp(self):
        super().setUp()
        need_root(self)
        os.chmod(self.tmp, 0o755)
        # A copy of v6pdctl that nobody can surely run, wherever the build dir lives.
        self.exe = os.path.join(self.tmp, "v6pdctl")
        shutil.copy2(V6PDCTL, self.exe)
        os.chmod(self.exe, 0o755)
        self.nobody = ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY,
                       "--clear-groups"]
        p = subprocess.run(self.nobody + [self.exe, "--help"], capture_output=True,
                           text=True)
        self.assertEqual(p.returncode, 0, "setpriv: " + p.stderr)

    def as_nobody(self, state, *args):
        argv = self.nobody + [self.exe, "--state-dir", state, *args]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        self.assertGreaterEqual(p.returncode, 0, "%s killed by signal %d"
                                % (argv, -p.returncode))
        for mark in SANITIZER_MARKS:
            self.assertNotIn(mark, p.stderr)
        return p

    def snapshot(self, d):
        out = {}
        for name in sorted(os.listdir(d)):
            st = os.lstat(os.path.join(d, name))
            out[name] = (st.st_mode, st.st_uid, read_bytes(os.path.join(d, name)))
        return out

    def test_root_owned_0700(self):
        state = os.path.join(self.tmp, "state")
        net, key = rand_name("net"), rand_name("key")
        self.ctl(state, "prefix", "set", str(rand_prefix56()))
        self.ctl(state, "lease", "reserve", net, key)
        self.assertEqual(stat.S_IMODE(os.stat(state).st_mode), 0o700)
        before = self.snapshot(state)
        for args in verbs(net, key):
            for json_flag in ([], ["--json"]):
                p = self.as_nobody(state, *json_flag, *args)
                self.assert_one_line_error(p, state)
                self.assertRegex(p.stderr, re.compile(r"permission denied", re.I))
        self.assertEqual(self.snapshot(state), before)
        print("unreadable: " + p.stderr, file=sys.stderr, end="")

    def test_store_file_0600(self):
        """The dir is open to all, the store file is root's 0600."""
        state = os.path.join(self.tmp, "state")
        net, key = rand_name("net"), rand_name("key")
        self.ctl(state, "prefix", "set", str(rand_prefix56()))
        self.ctl(state, "lease", "reserve", net, key)
        os.chmod(state, 0o755)
        before = self.snapshot(state)
        for args in verbs(net, key):
            p = self.as_nobody(state, *args)
            self.assert_one_line_error(p, os.path.join(state, "leases.db"))
        self.assertEqual(self.snapshot(state), before)

    def test_cannot_create(self):
        """The state dir is missing and nobody may not create it."""
        parent = os.path.join(self.tmp, "parent")
        os.mkdir(parent, 0o755)
        state = os.path.join(parent, "state")
        for args in verbs(rand_name("net"), rand_name("key")):
            p = self.as_nobody(state, *args)
            self.assert_one_line_error(p, state)
        self.assertFalse(os.path.exists(state))


if __name__ == "__main__":
    unittest.main(verbosity=2)
