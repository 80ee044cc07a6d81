#!/usr/bin/env python3
"""Cross-checks common/prefix.c against Python's ipaddress module.

Drives test/tools/prefix-calc (argv[1], else $V6PD_TEST_BIN/prefix-calc) through one pipe
with every boundary case plus thousands of random ones per operation, and compares each
answer with one computed here from ipaddress and plain integer arithmetic.

The seed is fixed so a failure reproduces; it is printed first. PREFIX_CROSSCHECK_SEED=N
picks another one, PREFIX_CROSSCHECK_CASES=N the random cases per operation (default 5000).
"""
import collections
import ipaddress
import os
import random
import re
import subprocess
import sys

SEED = int(os.environ.get("PREFIX_CROSSCHECK_SEED", "20240611"))
CASES = int(os.environ.get("PREFIX_CROSSCHECK_CASES", "5000"))
SLICE_MAX = 120
U64 = 2**64
EINVAL, ERANGE = "error EINVAL", "error ERANGE"


# ---- the reference -------------------------------------------------------------------------

def addr_text(a):
    """RFC 5952 text. ipaddress gets everything but the v4-mapped range (RFC 5952 section 5:
    ::ffff:192.0.2.1), which Python < 3.13 prints in hex."""
    if a.ipv4_mapped is not None:
        return "::ffff:" + str(a.ipv4_mapped)
    return a.compressed


def net_text(n):
    return f"{addr_text(n.network_address)}/{n.prefixlen}"


def ref_network(s):
    """s as prefix_from_string must take it, or None. On top of ipaddress's own checks, v6pd
    wants an explicit "/LEN" (ipaddress reads a bare address as /128), no zone id (Python
    3.9+ accepts "%scope"), and no leading zeros in LEN (ipaddress takes "/064")."""
    if "/" not in s or "%" in s:
        return None
    if not re.fullmatch(r"0|[1-9][0-9]*", s.split("/", 1)[1]):
        return None
    try:
        return ipaddress.IPv6Network(s, strict=True)
    except ValueError:
        return None


def ref_address(s):
    if "/" in s or "%" in s:
        return None
    try:
        return ipaddress.IPv6Address(s)
    except ValueError:
        return None


def ref_parse(s):
    n = ref_network(s)
    if n is None:
        return EINVAL
    return f"ok {net_text(n)} {int(n.network_address):032x} {n.prefixlen}"


def ref_addr(s):
    a = ref_address(s)
    if a is None:
        return EINVAL
    return f"ok {addr_text(a)} {int(a):032x}"


def slice_len_ok(p, length):
    return p.prefixlen < length <= SLICE_MAX


def ref_slice(p, length, index):
    if not slice_len_ok(p, length):
        return EINVAL
    width = length - p.prefixlen
    if index >= 2**width:
        return ERANGE
    start = p.network_address + index * 2**(128 - length)
    s = ipaddress.IPv6Network((start, length))
    if width <= 10:
        # small enough to let ipaddress enumerate the slices itself
        subnets = list(p.subnets(new_prefix=length))
        assert len(subnets) == 2**width and subnets[index] == s, (p, length, index)
    assert s.subnet_of(p)
    return f"ok {net_text(s)}"


def ref_index(p, s):
    if not slice_len_ok(p, s.prefixlen) or not s.subnet_of(p):
        return EINVAL
    index = (int(s.network_address) - int(p.network_address)) >> (128 - s.prefixlen)
    return ERANGE if index >= U64 else f"ok {index}"


def ref_count(p, length):
    if not slice_len_ok(p, length):
        return "ok 0"
    return f"ok {min(2**(length - p.prefixlen), U64 - 1)}"


def ref_contains(p, a):
    return "ok yes" if a in p else "ok no"


def ref_containsp(p, s):
    return "ok yes" if s.subnet_of(p) else "ok no"


def ref_host(s, host):
    a = ipaddress.IPv6Address(int(s.network_address) | (host & (2**(128 - s.prefixlen) - 1)))
    return f"ok {addr_text(a)}"


def ref_low64(s):
    return f"ok {int(ipaddress.IPv6Address(s)) % U64}"


# ---- generators ----------------------------------------------------------------------------

rng = random.Random(SEED)


def rand_addr_int():
    """Addresses with runs of zero groups, 0xffff groups, v4-mapped and ::/96 tails, so that
    compression and the mixed notation get exercised, not just 128 random bits."""
    kind = rng.randrange(8)
    if kind == 0:
        return rng.getrandbits(128)
    if kind == 1:
        return 0xFFFF << 32 | rng.getrandbits(32)             # ::ffff:a.b.c.d
    if kind == 2:
        return rng.getrandbits(rng.choice((16, 32, 48)))       # ::/96 and friends
    if kind == 3:
        return 0x20010DB8 << 96 | rng.getrandbits(64) << rng.choice((0, 16, 32, 64))
    groups = [rng.choice((0, 0, 0, 1, 0xFFFF, rng.getrandbits(16), rng.getrandbits(4)))
              for _ in range(8)]
    v = 0
    for g in groups:
        v = v << 16 | g
    return v


def rand_plen():
    return rng.choice((0, 1, 7, 8, 15, 16, 17, 32, 44, 48, 56, 57, 60, 63, 64, 65, 79, 80,
                       96, 112, 119, 120, 121, 127, 128, rng.randrange(129), rng.randrange(129)))


def rand_network(plen=None):
    plen = rand_plen() if plen is None else plen
    return ipaddress.IPv6Network((rand_addr_int(), plen), strict=False)


def rand_index(width):
    """Mostly indexes in range, then the ones just past it and arbitrary 64-bit ones."""
    width = max(width, 0)
    top = 2**min(width, 64)
    if rng.random() < 0.75:
        return rng.choice((0, 1, top - 1, rng.randrange(top), rng.randrange(top)))
    return min(rng.choice((top, top + 1, top + rng.getrandbits(8), rng.getrandbits(64))),
               U64 - 1)


def text_forms(a):
    """Ways to write address a that inet_pton and ipaddress both accept: the canonical text,
    the full form, random zero padding and case, any zero run (even a single group)
    compressed, and the low 32 bits as a dotted quad."""
    v = int(a)
    groups = [(v >> (112 - 16 * i)) & 0xFFFF for i in range(8)]

    def hexgroup(g):
        h = format(g, "x").rjust(rng.randint(len(format(g, "x")), 4), "0")
        return "".join(c.upper() if rng.random() < 0.5 else c for c in h)

    forms = [addr_text(a), a.exploded, a.exploded.upper(), a.compressed]
    for _ in range(3):
        v4 = rng.random() < 0.3
        n = 6 if v4 else 8
        parts = [hexgroup(g) for g in groups[:n]]
        zeros = [i for i in range(n) if groups[i] == 0]
        if zeros and rng.random() < 0.7:
            i = j = rng.choice(zeros)
            while j + 1 < n and groups[j + 1] == 0 and rng.random() < 0.8:
                j += 1
            text = ":".join(parts[:i]) + "::" + ":".join(parts[j + 1:])
        else:
            text = ":".join(parts)
        if v4:
            quad = ".".join(str((v >> s) & 0xFF) for s in (24, 16, 8, 0))
            text += quad if text.endswith("::") else ":" + quad
        forms.append(text)
    return forms


ALPHABET = "0123456789abcdefABCDEF:::..//%gGxz-+ \t_é"


def mutate(s):
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(3)
        i = rng.randrange(len(s) + 1)
        if op == 0 or not s:
            s = s[:i] + rng.choice(ALPHABET) + s[i:]
        elif op == 1:
            s = s[:i] + s[i + 1:]
        else:
            s = s[:i] + rng.choice(ALPHABET) + s[i + 1:]
    return s


BAD_TEXT = [
    "", "/", "/64", "::", "::/", "2001:db8::", "2001:db8:: /56", " ::/0", "::/0 ", "::/ 0",
    "::\t/0", "::/0\t", "::/064", "::/00", "::/0064", "::/+5", "::/-1", "::/1e2", "::/0x40",
    "::/129", "::/200", "::/1000", "::/99999999999999999999", "::/0/0", "::/64/64",
    "fe80::1%eth0/64", "fe80::1/64%eth0", "fe80::%1/64", "1.2.3.4/32", "10.0.0.0/8",
    "2001:db8::1/56", "2001:db8:0:1::/56", "::1/127", "8000::/0", ":::/0", ":1::/16",
    "1::2:/128", "1:2:3:4:5:6:7:8:9/128", "1:2:3:4:5:6:7/128", "1::2::3/128",
    "::1:2:3:4:5:6:7:8/128", "12345::/16", "g::/16", "::ffff:1.2.3.256/128",
    "::ffff:01.2.3.4/128", "::ffff:1.2.3/128", "::ffff:1.2.3.4.5/128", "1.2.3.4::/32",
    "::ffff:1.2.3.4:1/128", "2001:db8::/٥٦", "2001:db8::/56\x01", "2001:db8:\"::/56",
]

GOOD_TEXT = [
    "::/0", "::/128", "::1/128", "::/64", "2001:db8::/32", "2001:db8::/56", "2001:DB8::/56",
    "2001:0db8:0000:0000:0000:0000:0000:0000/56", "2001:db8:0:0:0:0:0:0/56",
    "::ffff:1.2.3.4/128", "::FFFF:1.2.3.4/128", "::ffff:0:0/96", "::ffff:0.0.0.0/96",
    "0:0:0:0:0:ffff:1.2.3.4/128", "::1.2.3.4/128", "::1:2/128", "::1:0/128", "1::/16",
    "1:2:3:4:5:6:7::/128", "::2:3:4:5:6:7:8/128", "1::2:3:4:5:6:7/128",
    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", "FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF/128",
    "8000::/1", "fe80::/10", "ff00::/8", "2001:db8:0:1::/64", "1:0:0:1::/64",
    "1:0:0:2:0:0:3:4/128", "0:0:1::/48", "2001:db8::1:0:0:1/128",
]


# ---- the run -------------------------------------------------------------------------------

def main():
    tool = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.environ.get("V6PD_TEST_BIN", "."), "prefix-calc")
    print(f"prefix_crosscheck: seed {SEED} (PREFIX_CROSSCHECK_SEED to change), "
          f"{CASES} random cases per operation, tool {tool}", flush=True)

    cases = []          # (operation, command line, expected)
    counts = collections.Counter()

    def add(op, line, expected):
        assert "\n" not in line
        cases.append((op, line, expected))
        counts[op] += 1

    def parse_case(s):
        add("parse", f"parse {s}", ref_parse(s))

    def addr_case(s):
        add("addr", f"addr {s}", ref_addr(s))

    # parse: fixed good and bad forms, every length, then random text forms and mutations
    for s in GOOD_TEXT + BAD_TEXT:
        parse_case(s)
    for plen in range(129):
        for v in (0, 2**128 - 1, 1 << (128 - plen) if plen else 0):
            n = ipaddress.IPv6Network((v, plen), strict=False)
            parse_case(net_text(n))
            parse_case(f"{addr_text(ipaddress.IPv6Address(v))}/{plen}")
        parse_case(f"::/{plen:03d}" if plen < 100 else f"::/0{plen}")
    for _ in range(CASES):
        n = rand_network()
        forms = [f"{form}/{n.prefixlen}" for form in text_forms(n.network_address)]
        for form in forms:
            parse_case(form)
        parse_case(mutate(rng.choice(forms)))
        parse_case(mutate(rng.choice(forms)))
    # addr: the same forms without a length
    for s in GOOD_TEXT + BAD_TEXT:
        addr_case(s.split("/")[0])
        addr_case(s)
    for _ in range(CASES):
        forms = text_forms(ipaddress.IPv6Address(rand_addr_int()))
        addr_case(rng.choice(forms))
        addr_case(mutate(rng.choice(forms)))

    # slice and count: every prefix length against the boundary slice lengths and indexes,
    # the mid-group cuts named in the design review, then random ones
    def slice_case(p, length, index):
        add("slice", f"slice {net_text(p)} {length} {index}", ref_slice(p, length, index))

    for plen in range(129):
        for p in (ipaddress.IPv6Network((0, plen)),
                  ipaddress.IPv6Network((2**128 - 1, plen), strict=False)):
            for length in sorted({0, plen, plen + 1, 64, 80, 119, 120, 121, 128, 129}):
                add("count", f"count {net_text(p)} {length}", ref_count(p, length))
                width = length - plen
                for index in {0, 1, 2**max(0, min(width, 64)) - 1, min(2**max(0, width), U64 - 1),
                              U64 - 1}:
                    slice_case(p, length, index)
    for ptext, length in (("2001:db8:0:ab00::/56", 80), ("2001:db8:0:ab0::/60", 64),
                          ("2001:db8:a0::/44", 52), ("::/0", 64), ("2001:db8:0:80::/57", 120),
                          ("2001:db8::/63", 64)):
        p = ipaddress.IPv6Network(ptext)
        for index in (0, 1, 2, 0xAB, 0xFF, 0x100, 0x1234, 2**(length - p.prefixlen) - 1):
            slice_case(p, length, index)
    for _ in range(CASES):
        p = rand_network(rng.choice((rng.randrange(SLICE_MAX), rand_plen())))
        length = rng.choice((p.prefixlen + 1, 64, 80, 120,
                             rng.randrange(min(p.prefixlen, 121), 122), rng.randrange(0, 130)))
        slice_case(p, length, rand_index(length - p.prefixlen))
        add("count", f"count {net_text(p)} {length}", ref_count(p, length))

    # index: the slices just produced back to their index, plus slices of other prefixes
    for op, line, expected in list(cases):
        if op != "slice" or not expected.startswith("ok"):
            continue
        _, ptext, length, index = line.split(" ")
        s = expected.split(" ")[1]
        p = ipaddress.IPv6Network(ptext)
        ref = ref_index(p, ipaddress.IPv6Network(s))
        assert ref == f"ok {index}", (line, ref)
        add("index", f"index {ptext} {s}", ref)
    for _ in range(CASES):
        p = rand_network(rng.randrange(SLICE_MAX))
        if rng.random() < 0.5:
            s = rand_network(rng.randrange(129))      # mostly not inside p
        else:
            length = rng.randrange(p.prefixlen, 129)
            host = rng.getrandbits(128 - p.prefixlen) if p.prefixlen < 128 else 0
            s = ipaddress.IPv6Network((int(p.network_address) | host, length), strict=False)
        add("index", f"index {net_text(p)} {net_text(s)}", ref_index(p, s))

    # containment: addresses and prefixes at the edges of p and random ones
    for _ in range(CASES):
        p = rand_network()
        lo, hi = int(p.network_address), int(p.broadcast_address)
        for v in (lo, hi, lo - 1, hi + 1, rng.randint(lo, hi), rand_addr_int()):
            a = ipaddress.IPv6Address(v % 2**128)
            add("contains", f"contains {net_text(p)} {addr_text(a)}", ref_contains(p, a))
        for s in (p, p.supernet() if p.prefixlen else p, rand_network(),
                  ipaddress.IPv6Network((rng.randint(lo, hi), rng.randrange(129)), strict=False),
                  ipaddress.IPv6Network((hi, 128)), ipaddress.IPv6Network(((hi + 1) % 2**128,
                                                                           p.prefixlen),
                                                                          strict=False)):
            add("containsp", f"containsp {net_text(p)} {net_text(s)}", ref_containsp(p, s))

    # host bits and the low 64 bits
    for _ in range(CASES):
        s = rand_network()
        host = rng.choice((0, 1, U64 - 1, rng.getrandbits(64), rng.getrandbits(16)))
        add("host", f"host {net_text(s)} {host}", ref_host(s, host))
        a = addr_text(ipaddress.IPv6Address(rand_addr_int()))
        add("low64", f"low64 {a}", ref_low64(a))

    for op in ("parse", "addr", "slice", "index", "count", "contains", "containsp", "host",
               "low64"):
        assert counts[op] >= CASES, (op, counts[op])

    data = "".join(line + "\n" for _, line, _ in cases)
    proc = subprocess.run([tool], input=data.encode(), capture_output=True, timeout=300)
    if proc.returncode != 0:
        print(f"prefix-calc exited {proc.returncode}: {proc.stderr.decode(errors='replace')}")
        return 1
    got = proc.stdout.decode(errors="replace").split("\n")[:-1]
    if len(got) != len(cases):
        print(f"prefix-calc answered {len(got)} lines to {len(cases)} commands")
        return 1

    failures = {}
    for (op, line, expected), answer in zip(cases, got):
        ok = answer == expected or (expected.startswith("error") and
                                    answer.startswith(expected + " "))
        if ok and op in ("parse", "addr") and expected.startswith("error"):
            # the message quotes the input (printable, unescaped inputs only)
            arg = line.split(" ", 1)[1] if " " in line else ""
            if re.fullmatch(r'[ -!#-\[\]-~]*', arg) and len(arg) <= 64:
                what = "prefix" if op == "parse" else "address"
                ok = answer.startswith(f'{expected} {what} "{arg}": ')
        if not ok:
            failures.setdefault(op, []).append((line, expected, answer))

    rejected = collections.Counter(op for op, _, expected in cases
                                   if expected.startswith("error"))
    for op in sorted(counts):
        bad = failures.get(op, [])
        print(f"  {op:10} {counts[op]:6} cases ({rejected[op]:5} rejected), "
              f"{len(bad)} mismatches")
        for line, expected, answer in bad[:10]:
            print(f"    {line!r}\n      want {expected!r}\n      got  {answer!r}")
    total = sum(len(f) for f in failures.values())
    print(f"prefix_crosscheck: {len(cases)} cases, {total} mismatches")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
