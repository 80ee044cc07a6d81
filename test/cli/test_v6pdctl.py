#!/usr/bin/env python3
"""v6pdctl, the operator CLI, as DESIGN.md's contract states it: every verb's help, usage
errors (exit 2), bad values (exit 1, the value quoted), --json everywhere, the aligned
table, exit codes, the lease life cycle (reserve, release, --forget, gc), file modes, and
the secret never shown.

Environment: V6PD_BIN (the directory holding v6pdctl). Label unit: needs no root.
"""
import base64
import ipaddress
import json
import os
import random
import re
import secrets
import shutil
import stat
import subprocess
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("V6PD_SRC", os.path.dirname(os.path.dirname(HERE)))
BIN = os.environ.get("V6PD_BIN", os.path.join(SRC, "build", "bin"))
V6PDCTL = os.path.join(BIN, "v6pdctl")
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
                   "runtime error:")

# Every verb of the contract, with arguments that make it succeed once a prefix is set and
# NET/KEY hold a lease.
VERBS = ["prefix set", "prefix show", "networks", "leases", "lease reserve", "lease show",
         "lease release", "gc"]


def rand_name(what):
    return "%s-%s" % (what, secrets.token_hex(4))


def rand_prefix56():
    return ipaddress.IPv6Network((0x20010db8 << 96 | random.getrandbits(24) << 72, 56))


class Base(unittest.TestCase):
    def setUp(self):
        if not os.access(V6PDCTL, os.X_OK):
            self.fail("%s is not built (set V6PD_BIN)" % V6PDCTL)
        self.tmp = tempfile.mkdtemp(prefix="v6pd-cli-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.state = os.path.join(self.tmp, "state")
        self.outputs = []   # everything any run printed, for the secret check

    def run_ctl(self, *args, expect=0, state=True, umask=None):
        argv = [V6PDCTL] + (["--state-dir", self.state] if state else []) + list(args)
        env = dict(os.environ)
        env.pop("V6PD_STATE_DIR", None)
        p = subprocess.run(argv, capture_output=True, timeout=120, env=env, umask=umask
                           if umask is not None else -1)
        self.outputs += [p.stdout, p.stderr]
        p.stdout, p.stderr = p.stdout.decode(), p.stderr.decode()
        self.assertGreaterEqual(p.returncode, 0, "%s killed by signal %d; stderr: %s"
                                % (argv, -p.returncode, p.stderr))
        for mark in SANITIZER_MARKS:
            self.assertNotIn(mark, p.stderr, "%s: sanitizer report" % (argv,))
        if expect is not None:
            self.assertEqual(p.returncode, expect, "%s: exit %d (want %d), stdout: %s "
                             "stderr: %s" % (argv, p.returncode, expect, p.stdout, p.stderr))
        return p

    def json(self, *args):
        p = self.run_ctl("--json", *args)
        try:
            return json.loads(p.stdout)
        except ValueError as e:
            self.fail("%s --json: not JSON (%s): %r" % (args, e, p.stdout))

    def setup_store(self):
        self.prefix = rand_prefix56()
        self.run_ctl("prefix", "set", str(self.prefix))
        self.net, self.key = rand_name("net"), rand_name("key")
        self.addr = ipaddress.IPv6Address(
            self.run_ctl("lease", "reserve", self.net, self.key).stdout.strip())
        nets = {n["name"]: n for n in self.json("networks")}
        self.slice = ipaddress.IPv6Network(nets[self.net]["slice"])

    def assert_usage(self, *args):
        p = self.run_ctl(*args, expect=2)
        self.assertEqual(p.stdout, "", args)
        self.assertNotEqual(p.stderr.strip(), "", args)
        return p

    def assert_fails(self, *args, quoted=None, needles=()):
        """Exit 1, nothing on stdout, one line on stderr quoting the bad value."""
        p = self.run_ctl(*args, expect=1)
        self.assertEqual(p.stdout, "", args)
        self.assertEqual(p.stderr.count("\n"), 1, "%s: not one line: %r" % (args, p.stderr))
        self.assertTrue(p.stderr.startswith("v6pdctl: "), "%s: %r" % (args, p.stderr))
        if quoted is not None:
            self.assertIn('"%s"' % quoted, p.stderr, "%s: value not quoted" % (args,))
        for n in needles:
            self.assertIn(n, p.stderr, args)
        return p


class Help(Base):
    def test_every_verb_help(self):
        for verb in VERBS:
            for where in ("after", "before"):
                args = verb.split() + ["--help"] if where == "after" \
                    else ["--help"] + verb.split()
                with self.subTest(verb=verb, where=where):
                    p = self.run_ctl(*args)
                    self.assertIn("v6pdctl", p.stdout)
                    self.assertIn(verb, p.stdout)
                    self.assertEqual(p.stderr, "")
        self.assertFalse(os.path.exists(self.state), "--help touched the state dir")

    def test_help_lists_every_verb(self):
        for args in (["--help"], ["-h"]):
            p = self.run_ctl(*args, state=False)
            for verb in VERBS:
                self.assertIn(verb, p.stdout)
            self.assertIn("--json", p.stdout)
            self.assertIn("--state-dir", p.stdout)

    def test_help_needs_no_valid_arguments(self):
        self.run_ctl("lease", "reserve", "--help")
        self.run_ctl("prefix", "set", "garbage", "extra", "--help")


class Usage(Base):
    """Exit 2, a message on stderr, nothing on stdout, and the state dir left alone."""

    def tearDown(self):
        self.assertFalse(os.path.exists(self.state), "a usage error touched the state dir")

    def test_no_verb(self):
        self.assert_usage()
        self.assert_usage("--json")

    def test_unknown_verb(self):
        for args in (["frobnicate"], ["lease", "frob"], ["prefix", "get"], ["prefix"],
                     ["lease"], ["Leases"], ["lease-show", "n", "k"]):
            with self.subTest(args=args):
                self.assert_usage(*args)

    def test_unknown_option(self):
        for args in (["--bogus", "leases"], ["leases", "--verbose"], ["leases", "-x"],
                     ["gc", "--older"], ["lease", "show", "n", "k", "--jsonx"]):
            with self.subTest(args=args):
                p = self.assert_usage(*args)
                self.assertIn("unknown option", p.stderr)

    def test_missing_args(self):
        for args in (["prefix", "set"], ["lease", "reserve"], ["lease", "reserve", "n"],
                     ["lease", "show", "n"], ["lease", "release"], ["lease", "release", "n"]):
            with self.subTest(args=args):
                self.assert_usage(*args)

    def test_extra_args(self):
        for args in (["prefix", "set", "2001:db8::/56", "x"], ["prefix", "show", "x"],
                     ["networks", "x"], ["leases", "x"], ["gc", "x"],
                     ["lease", "reserve", "n", "k", "x"], ["lease", "show", "n", "k", "x"],
                     ["lease", "release", "n", "k", "x"]):
            with self.subTest(args=args):
                self.assert_usage(*args)

    def test_option_not_taken_by_verb(self):
        for args in (["prefix", "show", "--network", "n"], ["gc", "--address", "::1"],
                     ["leases", "--older-than", "1h"], ["lease", "show", "n", "k", "--forget"],
                     ["lease", "reserve", "n", "k", "--forget"],
                     ["prefix", "set", "2001:db8::/56", "--address", "2001:db8::5"],
                     ["networks", "--network", "n"], ["lease", "show", "n", "k",
                                                      "--network", "n"],
                     ["lease", "release", "n", "k", "--older-than", "1h"]):
            with self.subTest(args=args):
                self.assert_usage(*args)

    def test_option_without_value(self):
        for args in (["leases", "--network"], ["leases", "--network="],
                     ["leases", "--network", ""], ["gc", "--older-than"],
                     ["lease", "reserve", "n", "k", "--address"],
                     ["--state-dir"], ["leases", "--state-dir"]):
            with self.subTest(args=args):
                p = self.assert_usage(*args)
                self.assertIn("needs a value", p.stderr)


class BadValues(Base):
    """Exit 1 and one line on stderr that quotes the value."""

    def setUp(self):
        super().setUp()
        self.setup_store()

    def test_bad_prefixes(self):
        for bad in ("2001:db8::1/56", "2001:db8::/129", "fe80::1%eth0/64", "garbage", "",
                    "2001:db8::/-1", "2001:db8::/56 ", " 2001:db8::/56", "2001:db8::",
                    "2001:db8::/056", "2001:db8::/", "/56", "2001:db8:::/56", "1.2.3.0/24",
                    "2001:db8::/56\n", "2001:db8::/120", "2001:db8::/128"):
            with self.subTest(prefix=bad):
                quoted = bad.replace("\n", "\\x0a")
                self.assert_fails("prefix", "set", bad, quoted=quoted)
        # Nothing changed.
        self.assertEqual(self.json("prefix", "show")["prefix"], str(self.prefix))

    def test_prefix_too_small_for_a_network(self):
        # A network on a slice beyond what a /60 holds keeps the prefix from shrinking.
        self.run_ctl("prefix", "set", str(self.prefix))
        nets = [rand_name("net") for _ in range(17)]
        for n in nets:
            self.run_ctl("lease", "reserve", n, "k")
        small = ipaddress.IPv6Network((self.prefix.network_address, 60))
        self.assert_fails("prefix", "set", str(small), quoted=str(small))
        self.assertEqual(self.json("prefix", "show")["prefix"], str(self.prefix))

    def test_bad_addresses(self):
        base = int(self.slice.network_address)
        outside = ipaddress.IPv6Address(int(self.slice.broadcast_address) + 5)
        reserved = [ipaddress.IPv6Address(base),                       # subnet anycast
                    ipaddress.IPv6Address(base + 1),                   # gateway
                    ipaddress.IPv6Address(base | 0xfdffffffffffffff),   # RFC 2526 anycast
                    ipaddress.IPv6Address(base | 0xfdffffffffffff80),
                    ipaddress.IPv6Address(base | 0x02005efffe005213),   # RFC 6543
                    ipaddress.IPv6Address(base | 0x02005efffe000000)]
        for a in [outside, ipaddress.IPv6Address("3fff::5")] + reserved:
            with self.subTest(address=a):
                self.assert_fails("lease", "reserve", self.net, rand_name("k"), "--address",
                                  str(a), quoted=str(a))
        for bad in ("zz", "2001:db8::1/64", "fe80::1%eth0", "2001:db8::1 ", "1.2.3.4",
                    str(self.slice.network_address).upper() + "G"):
            with self.subTest(address=bad):
                self.assert_fails("lease", "reserve", self.net, rand_name("k"), "--address",
                                  bad, quoted=bad, needles=("--address",))
        # Held by another key: the message names the holder.
        other = rand_name("k")
        self.assert_fails("lease", "reserve", self.net, other, "--address", str(self.addr),
                          quoted=str(self.addr), needles=('"%s"' % self.key,))
        self.assert_fails("lease", "show", self.net, other, quoted=other)
        self.assertEqual(self.json("lease", "show", self.net, self.key)["address"],
                         str(self.addr))

    def test_bad_durations(self):
        for bad in ("5x", "1.5h", "-1s", "1h1h", "1m1h", "1H", " 1h", "5", "999999999999999d"):
            with self.subTest(duration=bad):
                self.assert_fails("gc", "--older-than", bad, quoted=bad,
                                  needles=("--older-than",))
            with self.subTest(duration=bad, form="="):
                self.assert_fails("gc", "--older-than=" + bad, quoted=bad)

    def test_bad_names(self):
        long_name = "n" * 200
        for args, quoted in (
                (["lease", "reserve", long_name, "k"], long_name[:40]),
                (["lease", "reserve", self.net, "a\nb"], "a\\x0ab"),
                (["lease", "reserve", "a\tb", "k"], "a\\x09b"),
                (["lease", "show", self.net, "a\nb"], "a\\x0ab"),
                (["lease", "release", "x\x1b[2J", "k"], "x\\x1b[2J"),
                (["leases", "--network", "a\nb"], "a\\x0ab"),
                (["lease", "reserve", self.net, "k" * 300], "k" * 40)):
            with self.subTest(args=args):
                self.assert_fails(*args, needles=('"%s' % quoted,))

    def test_missing_things(self):
        k = rand_name("nokey")
        self.assert_fails("lease", "show", self.net, k, quoted=k)
        self.assert_fails("lease", "release", self.net, k, quoted=k)
        self.assert_fails("lease", "release", self.net, k, "--forget", quoted=k)
        n = rand_name("nonet")
        self.assert_fails("lease", "show", n, self.key, quoted=n)

    def test_no_prefix_yet(self):
        self.state = os.path.join(self.tmp, "fresh")
        n = rand_name("net")
        self.assert_fails("lease", "reserve", n, "k", needles=("prefix set",))
        self.assertEqual(self.json("prefix", "show")["prefix"], None)
        self.assertIn("no delegated prefix", self.run_ctl("prefix", "show").stdout)


class Json(Base):
    def test_every_verb_speaks_json(self):
        self.setup_store()
        other = rand_name("key")
        out = self.json("prefix", "set", str(self.prefix))
        self.assertEqual(out, {"prefix": str(self.prefix), "previous": str(self.prefix),
                               "changed": False})
        out = self.json("prefix", "show")
        self.assertEqual(out["prefix"], str(self.prefix))
        self.assertIn(self.net, [n["name"] for n in out["networks"]])
        nets = self.json("networks")
        self.assertEqual([n["name"] for n in nets], [self.net])
        self.assertEqual(nets[0]["leases"], 1)
        leases = self.json("leases")
        self.assertEqual([(l["network"], l["key"], l["address"]) for l in leases],
                         [(self.net, self.key, str(self.addr))])
        self.assertEqual(len(self.json("leases", "--network", self.net)), 1)
        self.assertEqual(self.json("leases", "--network", rand_name("none")), [])
        lease = self.json("lease", "reserve", self.net, other)
        self.assertTrue(lease["pinned"])
        self.assertIn(ipaddress.IPv6Address(lease["address"]), self.slice)
        shown = self.json("lease", "show", self.net, other)
        self.assertEqual(shown["address"], lease["address"])
        self.assertEqual(int(shown["iid"], 16),
                         int(ipaddress.IPv6Address(shown["address"])) & ((1 << 64) - 1))
        released = self.json("lease", "release", self.net, other)
        self.assertEqual(released["state"], "reserved")
        self.assertFalse(released["pinned"])
        self.assertIsNotNone(released["expires"])
        self.assertEqual(self.json("gc"), {"expired": 0})
        self.assertEqual(self.json("gc", "--older-than", "0s"), {"expired": 1})
        forgot = self.json("lease", "release", self.net, self.key, "--forget")
        self.assertEqual(forgot["key"], self.key)
        self.assertEqual(self.json("leases"), [])

    def test_json_errors_are_not_json_on_stdout(self):
        self.setup_store()
        p = self.run_ctl("--json", "lease", "show", self.net, "nope", expect=1)
        self.assertEqual(p.stdout, "")
        p = self.run_ctl("--json", "prefix", "set", "nope", expect=1)
        self.assertEqual(p.stdout, "")


class Table(Base):
    COLS = ["NETWORK", "KEY", "ADDRESS", "STATE", "CONTAINER", "IFNAME", "AGE"]

    def test_leases_table_aligned(self):
        self.setup_store()
        nets = [self.net, rand_name("n"), "x"]
        for i, n in enumerate(nets):
            for k in ("a", "key-with-a-much-longer-name-%d" % i, rand_name("k")):
                self.run_ctl("lease", "reserve", n, k)
        self.run_ctl("lease", "release", nets[1], "a")
        p = self.run_ctl("leases")
        lines = p.stdout.rstrip("\n").split("\n")
        header = lines[0]
        starts = []
        for col in self.COLS:
            m = re.search(r"(?:^| )%s(?: |$)" % col, header)
            self.assertIsNotNone(m, "column %s missing: %r" % (col, header))
            starts.append(m.start() + (1 if m.group().startswith(" ") else 0))
        self.assertEqual(starts, sorted(starts), header)
        self.assertEqual(starts[0], 0)
        want = self.json("leases")
        self.assertEqual(len(lines) - 1, len(want))
        for line, lease in zip(lines[1:], want):
            cells = []
            for i, s in enumerate(starts):
                end = starts[i + 1] if i + 1 < len(starts) else len(line)
                if i > 0:
                    self.assertEqual(line[s - 1], " ", "misaligned:\n%s\n%s" % (header, line))
                self.assertNotEqual(line[s:s + 1], " ", "misaligned:\n%s\n%s" % (header, line))
                cells.append(line[s:end].strip())
            self.assertEqual(cells[0], lease["network"])
            self.assertEqual(cells[1], lease["key"])
            self.assertEqual(cells[2], lease["address"])
            self.assertEqual(cells[3], lease["state"] + ("+pin" if lease["pinned"] else ""))
            self.assertEqual(cells[4], "-")
            self.assertEqual(cells[5], "-")
            self.assertRegex(cells[6], r"^\d+[smhd]$")
            # awk-friendly: every row has the same number of fields.
            self.assertEqual(len(line.split()), len(self.COLS), line)
        self.assertFalse(any(l != l.rstrip() for l in lines), "trailing blanks")

    def test_empty_table(self):
        self.run_ctl("prefix", "set", str(rand_prefix56()))
        p = self.run_ctl("leases")
        self.assertEqual(p.stdout.split(), self.COLS)


class Lifecycle(Base):
    def setUp(self):
        super().setUp()
        self.setup_store()

    def test_release_then_reserve_same_address(self):
        rel = self.json("lease", "release", self.net, self.key)
        self.assertEqual(rel["address"], str(self.addr))
        self.assertEqual(rel["state"], "reserved")
        again = self.run_ctl("lease", "reserve", self.net, self.key).stdout.strip()
        self.assertEqual(again, str(self.addr))
        # Even after the lease is gone for good, the stable IID brings the same address.
        self.run_ctl("lease", "release", self.net, self.key)
        self.assertEqual(self.json("gc", "--older-than", "0s"), {"expired": 1})
        self.assert_fails("lease", "show", self.net, self.key)
        again = self.run_ctl("lease", "reserve", self.net, self.key).stdout.strip()
        self.assertEqual(again, str(self.addr))

    def test_release_twice(self):
        self.run_ctl("lease", "release", self.net, self.key)
        out = self.json("lease", "release", self.net, self.key)
        self.assertEqual(out["state"], "reserved")

    def test_forget_frees_the_address(self):
        other = rand_name("other")
        self.assert_fails("lease", "reserve", self.net, other, "--address", str(self.addr),
                          needles=(self.key,))
        p = self.run_ctl("lease", "release", self.net, self.key, "--forget")
        self.assertIn(self.key, p.stdout)
        self.assert_fails("lease", "show", self.net, self.key)
        got = self.run_ctl("lease", "reserve", self.net, other, "--address", str(self.addr))
        self.assertEqual(got.stdout.strip(), str(self.addr))
        self.assertEqual(self.json("lease", "show", self.net, other)["address"],
                         str(self.addr))

    def test_reserve_fixed_address(self):
        want = ipaddress.IPv6Address(int(self.slice.network_address) + 0x1234)
        k = rand_name("fixed")
        self.assertEqual(self.run_ctl("lease", "reserve", self.net, k, "--address",
                                      str(want)).stdout.strip(), str(want))
        self.assertEqual(self.run_ctl("lease", "reserve", self.net, k).stdout.strip(),
                         str(want))
        # Same key, same address: not a conflict with itself.
        self.run_ctl("lease", "reserve", self.net, k, "--address", str(want))

    def test_gc_keeps_pinned(self):
        pinned = [rand_name("pin") for _ in range(3)]
        released = [rand_name("rel") for _ in range(4)]
        for k in pinned + released:
            self.run_ctl("lease", "reserve", self.net, k)
        for k in released:
            self.run_ctl("lease", "release", self.net, k)
        # Within the retention, plain gc keeps everything.
        self.assertEqual(self.json("gc"), {"expired": 0})
        self.assertEqual(self.run_ctl("gc").stdout.strip(), "expired 0 reservations")
        self.assertEqual(self.json("gc", "--older-than", "1h"), {"expired": 0})
        self.assertEqual(self.json("gc", "--older-than", "0s"), {"expired": len(released)})
        left = {l["key"]: l for l in self.json("leases")}
        self.assertEqual(set(left), set(pinned) | {self.key})
        for l in left.values():
            self.assertTrue(l["pinned"])
        self.assertEqual(self.run_ctl("gc", "--older-than", "0").stdout.strip(),
                         "expired 0 reservations")


class Files(Base):
    def test_modes(self):
        # Whatever the umask, the state dir is 0700 and the files 0600.
        for umask in (0o000, 0o022):
            with self.subTest(umask=umask):
                self.state = os.path.join(self.tmp, "a%o" % umask, "b", "state")
                self.run_ctl("prefix", "set", str(rand_prefix56()), umask=umask)
                self.run_ctl("lease", "reserve", rand_name("n"), rand_name("k"), umask=umask)
                self.assertEqual(stat.S_IMODE(os.stat(self.state).st_mode), 0o700)
                for f in ("leases.db", "secret.key"):
                    st = os.stat(os.path.join(self.state, f))
                    self.assertTrue(stat.S_ISREG(st.st_mode))
                    self.assertEqual(stat.S_IMODE(st.st_mode), 0o600, f)
                # No -wal/-shm left behind, or if so, 0600 too.
                for f in os.listdir(self.state):
                    if f.startswith("leases.db-"):
                        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(
                            self.state, f)).st_mode), 0o600, f)

    def test_refuses_world_writable_state_dir(self):
        os.mkdir(self.state, 0o700)
        os.chmod(self.state, 0o777)
        self.assert_fails("prefix", "show", needles=(self.state,))

    def test_secret_never_shown(self):
        self.setup_store()
        with open(os.path.join(self.state, "secret.key"), "rb") as f:
            secret = f.read()
        self.assertEqual(len(secret), 32)
        other = rand_name("k")
        for args in (["prefix", "set", str(self.prefix)], ["prefix", "show"], ["networks"],
                     ["leases"], ["leases", "--network", self.net],
                     ["lease", "reserve", self.net, other], ["lease", "show", self.net, other],
                     ["lease", "release", self.net, other], ["gc"], ["gc", "--older-than", "0s"]):
            for fmt in ([], ["--json"]):
                self.run_ctl(*fmt, *args)
        for fmt in ([], ["--json"]):
            k = rand_name("k")
            self.run_ctl(*fmt, "lease", "reserve", self.net, k, "--address",
                         str(ipaddress.IPv6Address(int(self.slice.network_address) + 99 +
                                                   len(fmt))))
            self.run_ctl(*fmt, "lease", "release", self.net, k, "--forget")
        for args in (["lease", "show", self.net, "nope"], ["prefix", "set", "x"],
                     ["frob"], ["--help"], ["lease", "reserve", "--help"]):
            self.run_ctl(*args, expect=None)
        forms = [secret, secret.hex().encode(), secret.hex().upper().encode(),
                 base64.b64encode(secret), base64.b64encode(secret).rstrip(b"="),
                 base64.urlsafe_b64encode(secret).rstrip(b"="),
                 # any 8-byte window in hex, in case something prints part of it
                 *[secret[i:i + 8].hex().encode() for i in range(0, 25, 8)]]
        self.assertGreater(len(self.outputs), 40)
        for out in self.outputs:
            low = out.lower()
            for form in forms:
                self.assertNotIn(form, out)
                self.assertNotIn(form.lower(), low)


class ExitCodes(Base):
    def test_contract(self):
        # 0: success, also when there is nothing to show.
        self.run_ctl("prefix", "show", expect=0)
        self.run_ctl("leases", expect=0)
        self.run_ctl("networks", expect=0)
        self.run_ctl("gc", expect=0)
        # 1: failure.
        self.run_ctl("lease", "reserve", "n", "k", expect=1)
        self.run_ctl("prefix", "set", "nope", expect=1)
        # 2: usage.
        self.run_ctl("nope", expect=2)
        self.run_ctl("leases", "--nope", expect=2)
        # The environment names a default state dir.
        env = dict(os.environ, V6PD_STATE_DIR=self.state)
        p = subprocess.run([V6PDCTL, "--json", "prefix", "show"], env=env,
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIsNone(json.loads(p.stdout)["prefix"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
