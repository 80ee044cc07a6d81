#!/usr/bin/env python3
"""Publishing leases in real DNS servers (label real-client): the real v6pd plugin driven as
a runtime drives it (../netns/cnitest.py: a private host netns, container namespaces), each
DNS server started by the test on the loopback of that host netns and stopped by its PID,
`dig` asking it.

For every backend: after an ADD of a container named web1 (K8S_POD_NAME, as Podman sends it)
dig returns web1's AAAA and the PTR of its address; after DEL they are gone, or kept with
"onRelease": "keep"; with the server stopped during ADD the ADD still succeeds, the record is
pending in the store, and `v6pdctl dns sync` repairs the zone once the server is back; a
new delegated prefix moves the AAAA and the PTR with the lease; records removed by hand are
put back by sync, records v6pd did not publish are left alone; a wrong TSIG secret or API
key gives an error naming the server and the zone, never the secret, and fails the ADD
(leaving nothing) only with "required": true.
"""
import ipaddress
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

ZONE = "containers.test"
KEY = "v6pd-key"


def reverse_zone(slice_):
    """The ip6.arpa zone of a /64 (16 nibbles)."""
    n = ipaddress.IPv6Network(slice_)
    nibbles = n.network_address.exploded.replace(":", "")[: n.prefixlen // 4]
    return ".".join(reversed(nibbles)) + ".ip6.arpa."


class Base:
    """Mixed into a TestCase per backend: server() and dns_conf() differ."""

    SUBNET = 1

    def setUp(self):
        ct.require_root()
        missing = ds.which_missing("dig", *self.TOOLS)
        if missing:
            raise RuntimeError(f"not installed: {', '.join(missing)} (scripts/deps.sh test)")
        self.t0 = time.monotonic()
        self.lab = ct.Lab(self)
        self.addCleanup(dnshttp.stop_all, self.lab.state)   # the lingering v6pd-dns-http
        net = ipaddress.IPv6Network(self.lab.prefix)
        self.slice = str(ipaddress.IPv6Network((int(net.network_address) + (self.SUBNET << 64),
                                                64)))
        self.rzone = reverse_zone(self.slice)
        # the prefix the ISP delegates next (test_renumber_replaces_records)
        self.prefix_b = ct.random_prefix(56)
        while self.prefix_b == self.lab.prefix:
            self.prefix_b = ct.random_prefix(56)
        net_b = ipaddress.IPv6Network(self.prefix_b)
        self.slice_b = str(ipaddress.IPv6Network(
            (int(net_b.network_address) + (self.SUBNET << 64), 64)))
        self.rzone_b = reverse_zone(self.slice_b)
        self.work = ct.tmp_root()
        os.chmod(self.work, 0o755)      # dnsmasq reads the hosts dir as nobody
        self.srv = self.server()
        self.addCleanup(self.srv.stop)
        self.srv.start()
        self.prepare()

    def prepare(self):
        """After the server's first start: zones, keys."""

    def tearDown(self):
        print(f"\n[{self.id()}: {time.monotonic() - self.t0:.1f} s]", file=sys.stderr)

    def conf(self, **dns):
        d = {"zone": ZONE, "ttl": 60}
        d.update(self.dns_conf())
        d.update(dns)
        return self.lab.conf(subnetId=self.SUBNET, dns=d)

    def add(self, conf, name, ns=None):
        ns = ns or self.lab.netns()
        cid = "c" + os.urandom(6).hex()
        r = self.lab.cni("ADD", conf, ns, cid, args=f"K8S_POD_NAME={name}")
        return r, ns, cid

    def ctl_host(self, *argv, check=True):
        """v6pdctl in the lab's host netns, where the servers are."""
        return self.lab.host.run(ct.V6PDCTL, "--state-dir", self.lab.state, *argv,
                                 check=check)

    def fqdn(self, name):
        return f"{name}.{ZONE}."

    def assert_published(self, name, addr):
        self.assertEqual(self.srv.query("AAAA", self.fqdn(name)), [addr])
        self.assertEqual(self.srv.ptr(addr), [self.fqdn(name)])

    def assert_gone(self, name, addr):
        self.assertEqual(self.srv.query("AAAA", self.fqdn(name)), [])
        self.assertEqual(self.srv.ptr(addr), [])

    def eventually(self, fn, timeout=3.0):
        """dnsmasq picks up a changed hosts file within 0.3 s; the others at once."""
        end = time.monotonic() + timeout
        while True:
            try:
                return fn()
            except AssertionError:
                if time.monotonic() > end:
                    raise
                time.sleep(0.05)

    # --- the tests every backend runs ---

    def test_add_publishes_del_removes(self):
        conf = self.conf()
        r, ns, cid = self.add(conf, "web1")
        res = self.lab.ok(r)
        self.assertEqual(r.stderr.strip(), "", "a clean ADD logs nothing")
        addr, _ = ct.addr_of(res)
        self.assertTrue(ct.in_prefix(addr, self.slice), addr)
        self.eventually(lambda: self.assert_published("web1", addr))
        shown = self.lab.ctl("--json", "dns", "show").stdout
        self.assertIn('"state": "published"', shown.replace('":"', '": "'))
        # a second container in the same zone
        r2, ns2, cid2 = self.add(conf, "web2")
        addr2, _ = ct.addr_of(self.lab.ok(r2))
        self.eventually(lambda: self.assert_published("web2", addr2))
        self.lab.ok(self.lab.cni("DEL", conf, ns, cid, args="K8S_POD_NAME=web1"))
        self.eventually(lambda: self.assert_gone("web1", addr))
        self.assert_published("web2", addr2)
        # export: the zone-file fragment of what belongs in DNS
        out = self.lab.ctl("dns", "export", "--network", self.lab.net).stdout
        self.assertIn(f"{self.fqdn('web2')}\t60\tIN\tAAAA\t{addr2}", out)
        self.assertIn(f"IN\tPTR\t{self.fqdn('web2')}", out)
        self.assertNotIn("web1", out)

    def test_on_release_keep(self):
        conf = self.conf(onRelease="keep")
        r, ns, cid = self.add(conf, "web1")
        addr, _ = ct.addr_of(self.lab.ok(r))
        self.eventually(lambda: self.assert_published("web1", addr))
        self.lab.ok(self.lab.cni("DEL", conf, ns, cid, args="K8S_POD_NAME=web1"))
        time.sleep(0.5 if isinstance(self.srv, ds.Dnsmasq) else 0)
        self.assert_published("web1", addr)
        self.assertEqual(self.lab.lease_for(cid)["state"], "reserved")
        # the reservation ends: dns sync removes what v6pd no longer holds
        self.lab.ctl("lease", "release", self.lab.net, "web1", "--forget")
        out = self.ctl_host("dns", "sync", "--network", self.lab.net).stdout
        self.assertIn("1 removed", out)
        self.eventually(lambda: self.assert_gone("web1", addr))

    def test_server_down_during_add_then_sync(self):
        conf = self.conf()
        self.srv.stop()
        t0 = time.monotonic()
        r, ns, cid = self.add(conf, "web1")
        took = time.monotonic() - t0
        addr, _ = ct.addr_of(self.lab.ok(r))
        self.assertLess(took, 5, "ADD with the DNS server down takes at most its timeout")
        self.assertIn("publishing key \"web1\" in DNS failed", r.stderr)
        self.assertIn(self.server_words(), r.stderr)
        rows = self.lab.ctl("dns", "show").stdout
        self.assertIn("pending", rows)
        self.srv.start()
        self.assert_gone_or_nx("web1", addr)
        p = self.ctl_host("dns", "sync")
        self.assertIn("published", p.stdout)
        self.eventually(lambda: self.assert_published("web1", addr))
        self.assertNotIn("pending", self.lab.ctl("dns", "show").stdout)
        # DEL while the server is down: the record is stale until the next sync
        self.srv.stop()
        r = self.lab.cni("DEL", conf, ns, cid, args="K8S_POD_NAME=web1")
        self.lab.ok(r)
        self.assertIn("removing key \"web1\" from DNS failed", r.stderr)
        self.assertIn("stale", self.lab.ctl("dns", "show").stdout)
        self.srv.start()
        self.ctl_host("dns", "sync")
        self.eventually(lambda: self.assert_gone("web1", addr))
        self.assertEqual(self.lab.ctl("--json", "dns", "show").stdout.strip(), "[]")

    def test_renumber_replaces_records(self):
        """The host's delegated prefix changes: the AAAA and the PTR move with the lease."""
        conf = self.conf()
        conf.pop("prefix")      # the network follows the host's delegated prefix
        self.ctl_host("prefix", "set", self.lab.prefix)
        r, _, cid = self.add(conf, "web1")
        addr, _ = ct.addr_of(self.lab.ok(r))
        self.eventually(lambda: self.assert_published("web1", addr))
        self.ctl_host("prefix", "set", self.prefix_b)
        new = self.lab.lease_for(cid)["address"]
        self.assertTrue(ct.in_prefix(new, self.slice_b), new)
        iid = (1 << 64) - 1
        self.assertEqual(int(ipaddress.IPv6Address(new)) & iid,
                         int(ipaddress.IPv6Address(addr)) & iid, "same interface id")
        self.eventually(lambda: self.assert_published("web1", new))   # the old AAAA is gone
        self.assertEqual(self.srv.ptr(addr), [])
        self.assertNotIn("pending", self.lab.ctl("dns", "show").stdout)

    def test_sync_puts_back_what_a_hand_removed(self):
        conf = self.conf()
        r, _, _ = self.add(conf, "web1")
        addr, _ = ct.addr_of(self.lab.ok(r))
        self.eventually(lambda: self.assert_published("web1", addr))
        self.remove_by_hand("web1", addr)
        self.eventually(lambda: self.assert_gone("web1", addr))
        self.ctl_host("dns", "sync")
        self.eventually(lambda: self.assert_published("web1", addr))

    def remove_by_hand(self, name, addr):
        raise NotImplementedError

    def assert_gone_or_nx(self, name, addr):
        self.assertEqual(self.srv.query("AAAA", self.fqdn(name)), [])

    def test_sync_leaves_foreign_records(self):
        """Records v6pd did not publish (an AAAA and a PTR in its zones) stay through a sync
        that publishes and one that removes."""
        other = str(ipaddress.IPv6Network(self.slice)[0x99])
        if not self.add_foreign_record("other", other):
            self.skipTest("the backend serves only v6pd's file")
        conf = self.conf(onRelease="keep")
        r, ns, cid = self.add(conf, "web1")
        addr, _ = ct.addr_of(self.lab.ok(r))
        self.ctl_host("dns", "sync")
        self.eventually(lambda: self.assert_published("web1", addr))
        self.assert_published("other", other)
        self.lab.ok(self.lab.cni("DEL", conf, ns, cid, args="K8S_POD_NAME=web1"))
        self.lab.ctl("lease", "release", self.lab.net, "web1", "--forget")
        self.assertIn("1 removed", self.ctl_host("dns", "sync").stdout)
        self.eventually(lambda: self.assert_gone("web1", addr))
        self.assert_published("other", other)

    def add_foreign_record(self, name, addr):
        """name's AAAA and addr's PTR, made by hand; False: the backend cannot have them."""
        return False


class DnsmasqHostsDir(Base, unittest.TestCase):
    def remove_by_hand(self, name, addr):
        path = os.path.join(self.srv.hostsdir, f"v6pd-{self.lab.net}.hosts")
        with open(path) as f:
            lines = [l for l in f if not l.startswith(f"{addr} ")]
        with open(path + ".hand", "w") as f:
            f.writelines(lines)
        os.chmod(path + ".hand", 0o644)
        os.rename(path + ".hand", path)

    def test_pod_name_and_namespace(self):
        """A pod's default name is name.namespace (K8S_POD_NAME, K8S_POD_NAMESPACE)."""
        conf = self.conf()
        ns = self.lab.netns()
        r = self.lab.cni("ADD", conf, ns, "c" + os.urandom(6).hex(),
                         args="K8S_POD_NAME=web1;K8S_POD_NAMESPACE=prod")
        addr, _ = ct.addr_of(self.lab.ok(r))
        self.eventually(lambda: self.assert_published("web1.prod", addr))

    TOOLS = ("dnsmasq",)

    def server(self):
        return ds.Dnsmasq(self.work, ZONE, netns=self.lab.host.name)

    def dns_conf(self):
        return {"hostsDir": self.srv.hostsdir}

    def server_words(self):
        return "hostsDir"

    def add_foreign_record(self, name, addr):
        with open(os.path.join(self.srv.hostsdir, "by-hand.hosts"), "w", encoding="utf-8") as f:
            f.write(f"{addr} {name}.{ZONE}\n")
        return True

    def test_server_down_during_add_then_sync(self):
        """A hosts file needs no server: the ADD writes it while dnsmasq is down and dnsmasq
        reads it when it starts; sync rewrites a file deleted by hand."""
        conf = self.conf()
        self.srv.stop()
        r, _, _ = self.add(conf, "web1")
        addr, _ = ct.addr_of(self.lab.ok(r))
        self.assertEqual(r.stderr.strip(), "")
        self.srv.start()
        self.assert_published("web1", addr)
        path = os.path.join(self.srv.hostsdir, f"v6pd-{self.lab.net}.hosts")
        os.unlink(path)
        self.eventually(lambda: self.assert_gone("web1", addr))
        self.ctl_host("dns", "sync")
        self.eventually(lambda: self.assert_published("web1", addr))
        st = os.stat(path)
        self.assertEqual(st.st_mode & 0o777, 0o644)

    def test_unwritable_hosts_dir_is_logged_not_fatal(self):
        conf = self.conf(hostsDir="/proc/v6pd-no-such-dir")
        r, _, _ = self.add(conf, "web1")
        self.lab.ok(r)
        self.assertIn("hostsDir /proc/v6pd-no-such-dir", r.stderr)
        conf = self.conf(hostsDir="/proc/v6pd-no-such-dir", required=True)
        before = self.lab.snapshot()
        r, _, _ = self.add(conf, "web2")
        err = self.lab.fails(r, 105, "hostsDir /proc/v6pd-no-such-dir")
        self.assertIn("dns.required", err["msg"])
        self.assertEqual(self.lab.snapshot(), before, "a failed required ADD leaves nothing")


class PowerDNSApi(Base, unittest.TestCase):
    TOOLS = ("pdns_server",)

    def server(self):
        return ds.PowerDNS(self.work, netns=self.lab.host.name)

    def prepare(self):
        self.srv.add_zone(ZONE)
        self.srv.add_zone(self.rzone)
        self.srv.add_zone(self.rzone_b)
        self.key_file = self.srv.api_key_file(os.path.join(self.srv.dir, "api.key"))

    def remove_by_hand(self, name, addr):
        self.srv.api("PATCH", f"/zones/{ZONE}.", {"rrsets": [{
            "name": self.fqdn(name), "type": "AAAA", "changetype": "DELETE"}]})
        ptr = ipaddress.IPv6Address(addr).reverse_pointer + "."
        self.srv.api("PATCH", f"/zones/{self.rzone}", {"rrsets": [{
            "name": ptr, "type": "PTR", "changetype": "DELETE"}]})

    def dns_conf(self):
        return {"powerdns": {"url": self.srv.url, "apiKeyFile": self.key_file}}

    def server_words(self):
        return f"powerdns {self.srv.url}"

    def add_foreign_record(self, name, addr):
        self.srv.api("PATCH", f"/zones/{ZONE}.", {"rrsets": [{
            "name": self.fqdn(name), "type": "AAAA", "ttl": 60, "changetype": "REPLACE",
            "records": [{"content": addr, "disabled": False}]}]})
        self.srv.api("PATCH", f"/zones/{self.rzone}", {"rrsets": [{
            "name": ipaddress.IPv6Address(addr).reverse_pointer + ".", "type": "PTR",
            "ttl": 60, "changetype": "REPLACE",
            "records": [{"content": self.fqdn(name), "disabled": False}]}]})
        return True

    def test_wrong_api_key(self):
        bad = self.srv.api_key_file(os.path.join(self.srv.dir, "bad.key"), "not-the-key")
        conf = self.conf(powerdns={"url": self.srv.url, "apiKeyFile": bad})
        r, _, _ = self.add(conf, "web1")
        self.lab.ok(r)
        self.assertIn(f"powerdns {self.srv.url} (server localhost) zone {ZONE}.", r.stderr)
        self.assertIn("401", r.stderr)
        self.assertIn("API key", r.stderr)
        self.assertNotIn("not-the-key", r.stderr)
        before = self.lab.snapshot()
        conf["dns"]["required"] = True
        r, _, _ = self.add(conf, "web2")
        err = self.lab.fails(r, 105, f"powerdns {self.srv.url}", f"zone {ZONE}.", "401")
        self.assertNotIn("not-the-key", err["msg"])
        self.assertEqual(self.lab.snapshot()["leases"], before["leases"])

    def test_key_file_readable_by_others_is_refused(self):
        os.chmod(self.key_file, 0o644)
        r, _, _ = self.add(self.conf(), "web1")
        self.lab.ok(r)
        self.assertIn(f"{self.key_file}: group or others may access it (mode 0644)", r.stderr)
        self.assertNotIn(self.srv.api_key, r.stderr)


class TsigMixin:
    # how a server answers an update signed with the wrong secret (RFC 8945 5.2.2: NOTAUTH
    # with TSIG error BADSIG; PowerDNS says REFUSED)
    REFUSAL = "NOTAUTH, TSIG BADSIG"
    def key_files(self):
        self.secret = ds.tsig_secret()
        self.key_file = ds.write_private(os.path.join(self.work, f"tsig-{os.urandom(3).hex()}"),
                                         ds.bind_key_text(KEY, self.secret))

    def dns_conf(self):
        return {"rfc2136": {"server": "127.0.0.1", "port": self.srv.port,
                            "keyFile": self.key_file}}

    def server_words(self):
        return f"rfc2136 127.0.0.1:{self.srv.port}"

    def test_wrong_tsig_secret(self):
        wrong = ds.tsig_secret()
        bad = ds.write_private(os.path.join(self.work, "bad.key"), ds.bind_key_text(KEY, wrong))
        conf = self.conf(rfc2136={"server": "127.0.0.1", "port": self.srv.port,
                                  "keyFile": bad})
        r, _, _ = self.add(conf, "web1")
        self.lab.ok(r)
        self.assertIn(f"rfc2136 127.0.0.1:{self.srv.port} zone", r.stderr)
        self.assertIn(f"update refused: {self.REFUSAL}", r.stderr)
        self.assertIn(f"key {KEY}.", r.stderr)
        self.assertNotIn(wrong, r.stderr)      # the secret the plugin read
        self.assertNotIn(wrong, self.lab.ctl("dns", "show").stdout)
        self.assertNotIn(wrong, self.lab.ctl("--json", "dns", "show").stdout)
        before = self.lab.snapshot()
        conf["dns"]["required"] = True
        r, _, _ = self.add(conf, "web2")
        err = self.lab.fails(r, 105, f"rfc2136 127.0.0.1:{self.srv.port} zone", self.REFUSAL)
        self.assertTrue(f"zone {ZONE}." in err["msg"] or f"zone {self.rzone}" in err["msg"],
                        err)
        self.assertEqual(self.lab.snapshot()["leases"], before["leases"])

    def nsupdate_by_hand(self, verb, name, addr):
        """nsupdate (BIND's client), as an administrator would: verb ("add" or "delete")
        name's AAAA addr and addr's PTR."""
        ptr = ipaddress.IPv6Address(addr).reverse_pointer + "."
        ttl = " 60" if verb == "add" else ""
        script = (f"server 127.0.0.1 {self.srv.port}\nzone {ZONE}.\n"
                  f"update {verb} {self.fqdn(name)}{ttl} AAAA {addr}\nsend\n"
                  f"zone {self.rzone}\nupdate {verb} {ptr}{ttl} PTR {self.fqdn(name)}\nsend\n")
        p = ct.sh("ip", "netns", "exec", self.lab.host.name, "nsupdate", "-k", self.key_file,
                  input=script, check=False)
        self.assertEqual(p.returncode, 0, p.stderr)

    def add_foreign_record(self, name, addr):
        self.nsupdate_by_hand("add", name, addr)
        return True

    def remove_by_hand(self, name, addr):
        self.nsupdate_by_hand("delete", name, addr)


class PowerDNSRfc2136(TsigMixin, Base, unittest.TestCase):
    TOOLS = ("pdns_server", "nsupdate")
    REFUSAL = "REFUSED, with key"

    def server(self):
        self.key_files()
        return ds.PowerDNS(self.work, netns=self.lab.host.name)

    def prepare(self):
        self.srv.add_tsig_key(KEY, self.secret)
        self.srv.add_zone(ZONE, tsig_key=KEY)
        self.srv.add_zone(self.rzone, tsig_key=KEY)
        self.srv.add_zone(self.rzone_b, tsig_key=KEY)


class KnotRfc2136(TsigMixin, Base, unittest.TestCase):
    TOOLS = ("knotd", "nsupdate")

    def server(self):
        self.key_files()
        return ds.Knot(self.work, [ZONE, self.rzone, self.rzone_b], KEY, self.secret,
                       netns=self.lab.host.name)


class BindRfc2136(TsigMixin, Base, unittest.TestCase):
    TOOLS = ("named", "nsupdate")

    def server(self):
        self.key_files()
        return ds.Bind(self.work, [ZONE, self.rzone, self.rzone_b], KEY, self.secret,
                       netns=self.lab.host.name)


if __name__ == "__main__":
    unittest.main(verbosity=2)
