#!/usr/bin/env python3
"""DNS publishing when things go wrong (label real-client), with the real v6pd plugin in a
lab host netns (../netns/cnitest.py) and real servers (Knot, BIND, PowerDNS) on its
loopback, each started by the test and stopped by its PID.

A server that black-holes packets (standins.py: a socket that reads and never answers)
costs an ADD at most "dns.timeout": RFC 2136 UPDATEs are sent three times within it, the
PowerDNS API's PATCH gives up at it; the record waits in the store as pending and
`v6pdctl dns sync` publishes it once the real server is there. With "required": true the
ADD fails and leaves nothing: no veth, the lease as it was, no record. An ADD that fails for
another reason after its publication took back what was published. A UDP answer with TC
set makes the UPDATE go again over TCP (a stand-in truncates, the real Knot behind it
answers). TSIG with hmac-sha512 works against Knot and BIND; hmac-sha384, which ldns 1.8.3
cannot sign with, is refused when the netconf is read.
"""
import ipaddress
import json
import os
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
from test_dns_backends import KEY, ZONE, reverse_zone  # noqa: E402

TIMEOUT = 1     # "dns.timeout" of these tests, seconds
SLACK = 1.5     # what an ADD may take beyond it (the plugin, the lab's `ip netns exec`)


class Lab(unittest.TestCase):
    SUBNET = 1

    def setUp(self):
        ct.require_root()
        missing = ds.which_missing("dig", "knotd")
        if missing:
            raise RuntimeError(f"not installed: {', '.join(missing)} (scripts/deps.sh test)")
        self.lab = ct.Lab(self)
        self.addCleanup(dnshttp.stop_all, self.lab.state)   # the lingering v6pd-dns-http
        self.host = self.lab.host.name
        base = ipaddress.IPv6Network(self.lab.prefix)
        self.rzone = reverse_zone(str(ipaddress.IPv6Network(
            (int(base.network_address) + (self.SUBNET << 64), 64))))
        self.work = ct.tmp_root()
        os.chmod(self.work, 0o755)
        self.secret = ds.tsig_secret()
        self.key_file = self.tsig_key("hmac-sha256", self.secret)

    def tsig_key(self, alg, secret):
        return ds.write_private(os.path.join(self.work, f"tsig-{os.urandom(3).hex()}"),
                                ds.bind_key_text(KEY, secret, alg))

    def server(self, srv, start=True):
        self.addCleanup(srv.stop)
        return srv.start() if start else srv

    def knot(self, start=True, alg="hmac-sha256", secret=None):
        return self.server(ds.Knot(self.work, [ZONE, self.rzone], KEY, secret or self.secret,
                                   netns=self.host, alg=alg), start)

    def standin(self, mode, *args):
        s = StandIn(self.host, mode, *args)
        self.addCleanup(s.stop)
        return s.start()

    def conf(self, port=None, **dns):
        d = {"zone": ZONE, "ttl": 60, "timeout": f"{TIMEOUT}s"}
        if port:
            d["rfc2136"] = {"server": "127.0.0.1", "port": port, "keyFile": self.key_file}
        d.update(dns)
        return self.lab.conf(subnetId=self.SUBNET, dns=d)

    def add(self, conf, name):
        t0 = time.monotonic()
        r = self.lab.cni("ADD", conf, self.lab.netns(), "c" + os.urandom(6).hex(),
                         args=f"K8S_POD_NAME={name}")
        return r, time.monotonic() - t0

    def ctl_host(self, *argv):
        return self.lab.host.run(ct.V6PDCTL, "--state-dir", self.lab.state, *argv)

    def dns_rows(self):
        return json.loads(self.lab.ctl("--json", "dns", "show").stdout)

    def fqdn(self, name):
        return f"{name}.{ZONE}."

    def assert_published(self, srv, name, addr):
        self.assertEqual(srv.query("AAAA", self.fqdn(name)), [addr])
        self.assertEqual(srv.ptr(addr), [self.fqdn(name)])

    # --- a server that black-holes packets ---

    def test_rfc2136_blackhole_then_sync(self):
        knot = self.knot(start=False)
        hole = self.standin("blackhole", knot.port)
        r, took = self.add(self.conf(knot.port), "web1")
        addr, _ = ct.addr_of(self.lab.ok(r))
        self.assertLess(took, TIMEOUT + SLACK, "ADD returns within dns.timeout")
        self.assertIn(f"rfc2136 127.0.0.1:{knot.port} zone", r.stderr)
        self.assertIn(f"no answer within {TIMEOUT}s (3 sends)", r.stderr)
        # each zone's UPDATE (forward, reverse) went out three times
        self.assertEqual(hole.stop(), {"udp": 6})
        self.assertEqual({row["state"] for row in self.dns_rows()}, {"pending"})
        knot.start()
        self.assertIn("1 record published", self.ctl_host("dns", "sync").stdout)
        self.assert_published(knot, "web1", addr)

    def test_required_blackhole_fails_and_leaves_nothing(self):
        knot = self.knot(start=False)
        self.lab.ok(self.add(self.conf(knot.port), "web0")[0])     # the bridge exists
        hole = self.standin("blackhole", knot.port)
        before = self.lab.snapshot()
        r, took = self.add(self.conf(knot.port, required=True), "web1")
        self.lab.fails(r, 105, "dns.required", f"no answer within {TIMEOUT}s")
        self.assertLess(took, TIMEOUT + SLACK, "a failed required ADD takes dns.timeout once")
        self.assertEqual(self.lab.snapshot(), before, "no veth, the leases as they were")
        self.assertNotIn("published", [row["state"] for row in self.dns_rows()])
        hole.stop()
        knot.start()
        self.ctl_host("dns", "sync")
        self.assertEqual(knot.query("AAAA", self.fqdn("web1")), [])
        self.assertEqual([row["key"] for row in self.dns_rows()], ["web0"])

    def test_powerdns_api_blackhole_then_sync(self):
        pdns = self.server(ds.PowerDNS(self.work, netns=self.host), start=False)
        api_key = pdns.api_key_file(os.path.join(self.work, "api.key"))
        hole = self.standin("blackhole", pdns.api_port)
        conf = self.conf(powerdns={"url": pdns.url, "apiKeyFile": api_key})
        r, took = self.add(conf, "web1")
        addr, _ = ct.addr_of(self.lab.ok(r))
        # the helper v6pd-dns-http loads libcurl first: a second at most on a loaded machine
        self.assertLess(took, TIMEOUT + SLACK + 1, "ADD returns within dns.timeout")
        self.assertIn(f"powerdns {pdns.url} (server localhost) zone", r.stderr)
        self.assertIn("Timeout was reached", r.stderr)
        hole.stop()
        pdns.start()
        pdns.add_zone(ZONE)
        pdns.add_zone(self.rzone)
        self.assertIn("1 record published", self.ctl_host("dns", "sync").stdout)
        self.assert_published(pdns, "web1", addr)

    # --- an ADD that fails after its publication started ---

    def test_add_failing_later_takes_the_records_back(self):
        knot = self.knot()
        # the network's bridge, with IPv6 off: the ADD fails at the bridge's gateway
        # addresses, after the lease and the veth, with the publication under way
        bridge = ("v6pd-" + self.lab.net)[:15]
        self.lab.host.ipc("link", "add", bridge, "type", "bridge")
        self.lab.host.run("sysctl", "-q", "-w", f"net.ipv6.conf.{bridge}.disable_ipv6=1")
        serial = knot.serial(ZONE), knot.serial(self.rzone)
        before = self.lab.snapshot()
        r, _ = self.add(self.conf(knot.port), "web1")
        self.lab.fails(r, 102, "fe80::1")
        self.assertEqual(self.lab.snapshot(), before)
        self.assertEqual(knot.query("AAAA", self.fqdn("web1")), [])
        # published, then taken back: one UPDATE each way in each zone
        self.assertEqual((knot.serial(ZONE), knot.serial(self.rzone)),
                         (serial[0] + 2, serial[1] + 2))
        self.assertEqual(self.dns_rows(), [])

    # --- truncation ---

    def test_truncated_answer_goes_again_over_tcp(self):
        knot = self.knot()
        port = ds.free_port(self.host)
        path = self.standin("truncate", port, knot.port)
        r, _ = self.add(self.conf(port), "web1")
        addr, _ = ct.addr_of(self.lab.ok(r))
        self.assertEqual(r.stderr.strip(), "")
        self.assert_published(knot, "web1", addr)
        self.assertEqual(path.stop(), {"udp": 2, "tcp": 2})

    # --- TSIG algorithms ---

    def sha512_against(self, srv_class):
        secret = ds.tsig_secret()
        self.key_file = self.tsig_key("hmac-sha512", secret)
        srv = self.server(srv_class(self.work, [ZONE, self.rzone], KEY, secret,
                                    netns=self.host, alg="hmac-sha512"))
        conf = self.conf(srv.port)
        conf["dns"]["rfc2136"]["algorithm"] = "hmac-sha512"
        r, _ = self.add(conf, "web1")
        addr, _ = ct.addr_of(self.lab.ok(r))
        self.assertEqual(r.stderr.strip(), "")
        self.assert_published(srv, "web1", addr)

    def test_hmac_sha512_knot(self):
        self.sha512_against(ds.Knot)

    def test_hmac_sha512_bind(self):
        if ds.which_missing("named"):
            self.skipTest("BIND (named) is not installed")
        self.sha512_against(ds.Bind)

    def test_hmac_sha384_is_refused(self):
        conf = self.conf(12345)
        conf["dns"]["rfc2136"]["algorithm"] = "hmac-sha384"
        before = self.lab.snapshot()
        r, _ = self.add(conf, "web1")
        self.lab.fails(r, 7, '"dns.rfc2136.algorithm" "hmac-sha384": must be hmac-sha256')
        self.assertEqual(self.lab.snapshot(), before)
        # a key file that says hmac-sha384: the publication names the file and the algorithm
        self.key_file = self.tsig_key("hmac-sha384", ds.tsig_secret())
        r, _ = self.add(self.conf(12345), "web1")
        self.lab.ok(r)
        self.assertIn(f"key file {self.key_file}: algorithm hmac-sha384 is not supported",
                      r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
