#!/usr/bin/env python3
"""Podman 4.3 (CNI backend) driving the real v6pd plugin with DNS publishing (label
real-client): for dnsmasq (--hostsdir), the PowerDNS API, and RFC 2136 with TSIG to
PowerDNS, Knot and BIND, `podman run --name web1` publishes web1's AAAA and PTR and `podman
rm` removes them (or keeps them, "onRelease": "keep"); with PowerDNS stopped during the run,
the container still starts and `v6pdctl dns sync` repairs the zone; a wrong API key is
logged by the plugin naming server and zone.

Podman's private setup is ../netns/realclient.py's (conflists of cniVersion 1.0.0, private
storage, the logging shim). The DNS servers run on 127.0.0.1 of the host netns, where
Podman runs the plugin, on random ports, started by the test and stopped by their PIDs.
"""
import json
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "netns"))
sys.path.insert(0, HERE)
import realclient as rc  # noqa: E402
import dnshttp  # noqa: E402
import dnsservers as ds  # noqa: E402

ZONE = "podman.test"
KEY = "v6pd-podman"


def reverse_zone(prefix, subnet):
    import ipaddress
    net = ipaddress.IPv6Network(prefix)
    s = ipaddress.IPv6Network((int(net.network_address) + (subnet << 64), 64))
    nibbles = s.network_address.exploded.replace(":", "")[:16]
    return ".".join(reversed(nibbles)) + ".ip6.arpa."


class PodmanDNS(unittest.TestCase):
    lab = None
    pm = None

    @classmethod
    def setUpClass(cls):
        rc.require("podman", "runc", "busybox", "ip", "tar", "dig", "dnsmasq", "pdns_server",
                   "knotd", "named")
        cls.lab = rc.Run("pd")
        try:
            cls.pm = rc.Podman(cls.lab)
            cls.image = cls.pm.import_image()
            cls.work = os.path.join(cls.lab.tmp, "dns")
            os.makedirs(cls.work)
            for d in (cls.lab.tmp, cls.work):
                os.chmod(d, 0o755)      # dnsmasq reads the hosts dir as nobody
        except BaseException:
            cls.lab.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.lab.cleanup()

    def setUp(self):
        self.t0 = time.monotonic()
        self.names = []

    def tearDown(self):
        for n in self.names:
            self.pm("rm", "-f", "-t", "0", n, check=False)
        if not getattr(self._outcome, "success", True):
            self.lab.dump_calls()
        print(f"\n[{self.id()}: {time.monotonic() - self.t0:.1f} s]", file=sys.stderr)

    def server(self, srv):
        self.addCleanup(srv.stop)
        return srv.start()

    def network(self, tag, dns):
        net = rc.Network(self.lab, tag, subnetId=1, dns=dict({"zone": ZONE, "ttl": 60}, **dns))
        self.pm.add_network(net)
        self.addCleanup(dnshttp.stop_all, net.state)    # the lingering v6pd-dns-http
        return net

    def run_web(self, net, name):
        self.names.append(name)
        self.pm("run", "-d", "--name", name, "--network", net.name, self.image, "sleep", "3600")
        out = self.pm("exec", name, "ip", "-6", "addr", "show", "dev", "eth0").stdout
        g = rc.global_addrs(out)
        self.assertEqual(len(g), 1, out)
        return g[0][0]

    def eventually(self, fn, timeout=3.0):
        end = time.monotonic() + timeout
        while True:
            try:
                return fn()
            except AssertionError:
                if time.monotonic() > end:
                    raise
                time.sleep(0.05)

    def published(self, srv, name, addr):
        self.assertEqual(srv.query("AAAA", f"{name}.{ZONE}."), [addr])
        self.assertEqual(srv.ptr(addr), [f"{name}.{ZONE}."])

    def gone(self, srv, name, addr):
        self.assertEqual(srv.query("AAAA", f"{name}.{ZONE}."), [])
        self.assertEqual(srv.ptr(addr), [])

    def test_dnsmasq_hostsdir(self):
        srv = self.server(ds.Dnsmasq(self.work, ZONE))
        net = self.network("h", {"hostsDir": srv.hostsdir})
        addr = self.run_web(net, "web1")
        self.eventually(lambda: self.published(srv, "web1", addr))
        self.pm("rm", "-f", "-t", "0", "web1")
        self.eventually(lambda: self.gone(srv, "web1", addr))
        self.assertEqual(net.leases()[0]["state"], "reserved")
        for c in self.lab.calls(net.name):
            self.assertEqual(c.rc, 0, c.summary())
            self.assertEqual((c.stderr or "").strip(), "", c.summary())

    def test_dnsmasq_on_release_keep(self):
        srv = self.server(ds.Dnsmasq(self.work, ZONE))
        net = self.network("k", {"hostsDir": srv.hostsdir, "onRelease": "keep"})
        addr = self.run_web(net, "web1")
        self.eventually(lambda: self.published(srv, "web1", addr))
        self.pm("rm", "-f", "-t", "0", "web1")
        self.assertEqual(net.leases()[0]["state"], "reserved")
        time.sleep(0.5)     # dnsmasq would have read a changed file by now
        self.published(srv, "web1", addr)

    def rfc2136_network(self, tag, make_server):
        """A network publishing by RFC 2136 with TSIG to make_server(zones, secret), a server
        made for the network's zones (the forward one and its slice's reverse one)."""
        secret = ds.tsig_secret()
        key = ds.write_private(os.path.join(self.work, f"tsig-{tag}.key"),
                               ds.bind_key_text(KEY, secret))
        net = rc.Network(self.lab, tag, subnetId=1, dns={"zone": ZONE, "ttl": 60})
        srv = make_server([ZONE, reverse_zone(net.prefix, 1)], secret)
        net.conf["plugins"][0]["dns"]["rfc2136"] = {"server": "127.0.0.1", "port": srv.port,
                                                    "keyFile": key}
        with open(net.conflist, "w", encoding="utf-8") as f:
            json.dump(net.conf, f)
        self.pm.add_network(net)
        self.server(srv)
        return net, srv

    def run_rm_rfc2136(self, net, srv):
        addr = self.run_web(net, "web1")
        self.published(srv, "web1", addr)
        self.pm("rm", "-f", "-t", "0", "web1")
        self.gone(srv, "web1", addr)
        for c in self.lab.calls(net.name):
            self.assertEqual(c.rc, 0, c.summary())
            self.assertEqual((c.stderr or "").strip(), "", c.summary())

    def test_powerdns_rfc2136(self):
        pdns = {}

        def make(zones, secret):
            pdns.update(zones=zones, secret=secret)
            return ds.PowerDNS(self.work)

        net, srv = self.rfc2136_network("r", make)
        srv.add_tsig_key(KEY, pdns["secret"])
        for z in pdns["zones"]:
            srv.add_zone(z, tsig_key=KEY)
        self.run_rm_rfc2136(net, srv)

    def test_knot_rfc2136(self):
        net, srv = self.rfc2136_network(
            "n", lambda zones, secret: ds.Knot(self.work, zones, KEY, secret))
        self.run_rm_rfc2136(net, srv)

    def test_bind_rfc2136(self):
        net, srv = self.rfc2136_network(
            "b", lambda zones, secret: ds.Bind(self.work, zones, KEY, secret))
        self.run_rm_rfc2136(net, srv)

    def test_powerdns_api_and_sync_after_outage(self):
        srv = self.server(ds.PowerDNS(self.work))
        key = srv.api_key_file(os.path.join(srv.dir, "api.key"))
        net = self.network("p", {"powerdns": {"url": srv.url, "apiKeyFile": key}})
        srv.add_zone(ZONE)
        srv.add_zone(reverse_zone(net.prefix, 1))
        addr = self.run_web(net, "web1")
        self.published(srv, "web1", addr)
        self.pm("rm", "-f", "-t", "0", "web1")
        self.gone(srv, "web1", addr)
        # PowerDNS down while a container starts: it starts; sync repairs the zone
        srv.stop()
        addr2 = self.run_web(net, "web2")
        add = self.lab.calls(net.name, "ADD")[-1]
        self.assertEqual(add.rc, 0, add.summary())
        self.assertIn(f"powerdns {srv.url} (server localhost) zone", add.stderr)
        srv.start()
        self.assertEqual(srv.query("AAAA", f"web2.{ZONE}."), [])
        out = net.ctl("dns", "sync").stdout
        self.assertIn("1 record published", out)
        self.published(srv, "web2", addr2)

    def test_powerdns_wrong_api_key(self):
        srv = self.server(ds.PowerDNS(self.work))
        srv.add_zone(ZONE)
        bad = srv.api_key_file(os.path.join(srv.dir, "bad.key"), "wrong-key")
        net = self.network("w", {"powerdns": {"url": srv.url, "apiKeyFile": bad}})
        self.run_web(net, "web1")
        add = self.lab.calls(net.name, "ADD")[-1]
        self.assertEqual(add.rc, 0, add.summary())
        self.assertIn(f"powerdns {srv.url} (server localhost) zone {ZONE}.: HTTP 401",
                      add.stderr)
        self.assertNotIn("wrong-key", add.stderr)
        self.assertIn("pending", net.ctl("dns", "show").stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
