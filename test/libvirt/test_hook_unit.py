#!/usr/bin/env python3
"""v6pd-libvirt-hook fed recorded hook inputs (inputs/, recorded from a real libvirtd): leases
and their keys, DHCPv6 reservations, pass-through of what is not managed, migrate/restore,
failures (malformed XML, broken config, unknown networks) and their clean-up, and double
invocation. Label unit: no root, no libvirtd. Links (bridges, taps) are made in a private
user+net namespace (`unshare -rn`); tests needing one skip when that is not allowed.

Environment: V6PD_BIN (the directory holding v6pd-libvirt-hook and v6pdctl).
"""
import json
import os
import unittest

from hooktest import (BRIDGE, DOMAIN, LIBVIRT_NET, MAC_BR, MAC_NET, MAC_TAP, TAP, UUID,
                      HookCase, read_input)

NET_ONLY = [HookCase.entry({"network": LIBVIRT_NET}, "vmnet", subnetId=1)]
FULL = [HookCase.entry({"network": LIBVIRT_NET}, "vmnet", subnetId=1),
        HookCase.entry({"bridge": BRIDGE}, "vmbr", mode="bridge", subnetId=2),
        HookCase.entry({"tap": "vmtap*"}, "vmtap", mode="routed", subnetId=3)]


def key(mac, who=UUID):
    return "%s/%s" % (who, mac)


class Lifecycle(HookCase):
    """The recorded `virsh start` / libvirtd restart / `virsh destroy` sequence."""

    def start_sequence(self):
        for call in (("qemu", "prepare", "begin", "prepare.xml"),
                     ("network", "port-created", "begin", "port-created.xml"),
                     ("qemu", "start", "begin", "start.xml"),
                     ("qemu", "started", "begin", "start.xml")):
            out, err = self.hook(call[0], DOMAIN if call[0] == "qemu" else LIBVIRT_NET,
                                 call[1], call[2], read_input(call[3]))
            self.assertEqual((out, err), ("", ""), "%s %s printed something" % call[1:3])

    def stop_sequence(self):
        for call in (("qemu", "stopped", "end", "stopped.xml"),
                     ("network", "port-deleted", "begin", "port-deleted.xml"),
                     ("qemu", "release", "end", "release.xml")):
            out, err = self.hook(call[0], DOMAIN if call[0] == "qemu" else LIBVIRT_NET,
                                 call[1], call[2], read_input(call[3]))
            self.assertEqual((out, err), ("", ""), "%s %s printed something" % call[1:3])

    def test_prepare_acquires_the_lease_with_its_key(self):
        self.write_conf(NET_ONLY)
        self.qemu("prepare", "begin", read_input("prepare.xml"))
        ls = self.leases()
        self.assertEqual(list(ls), [("vmnet", key(MAC_NET))])
        l = ls[("vmnet", key(MAC_NET))]
        self.assertEqual((l["state"], l["containerId"], l["ifname"], l["hostname"], l["mac"]),
                         ("active", UUID, "525400aa0001", DOMAIN, MAC_NET))
        self.assertTrue(l["address"].startswith("2001:db8:100:1:"), l["address"])
        self.assertEqual(self.reservations("vmnet"),
                         {MAC_NET: "%s,[%s],%s" % (MAC_NET, l["address"], DOMAIN)})

    def test_dns_published_at_prepare_and_withdrawn_at_stop(self):
        """A network's "dns" object publishes VMs as it does containers (issue 5): the hosts
        file gets the domain's name and address at prepare, and loses it at stopped."""
        hosts = os.path.join(self.tmp, "hosts")
        self.write_conf([HookCase.entry({"network": LIBVIRT_NET}, "vmnet", subnetId=1,
                                        dns={"zone": "vms.example.", "hostsDir": hosts,
                                             "ptr": False})])
        self.qemu("prepare", "begin", read_input("prepare.xml"))
        addr = self.leases()[("vmnet", key(MAC_NET))]["address"]
        path = os.path.join(hosts, "v6pd-vmnet.hosts")
        with open(path) as f:
            lines = [l.split() for l in f if l.strip() and not l.startswith("#")]
        self.assertEqual(lines, [[addr, "%s.vms.example" % DOMAIN]])
        self.qemu("stopped", "end", read_input("stopped.xml"))
        with open(path) as f:
            self.assertEqual([l for l in f if l.strip() and not l.startswith("#")], [])

    def test_start_restart_destroy_start(self):
        self.write_conf(NET_ONLY)
        self.start_sequence()
        first = self.leases()[("vmnet", key(MAC_NET))]
        self.assertEqual(first["state"], "active")
        # libvirtd restart with the domain running
        self.network("port-created", "begin", read_input("port-created.xml"))
        self.qemu("reconnect", "begin", read_input("reconnect.xml"))
        ls = self.leases()
        self.assertEqual(len(ls), 1)
        self.assertEqual(ls[("vmnet", key(MAC_NET))]["address"], first["address"])
        self.assertIn(MAC_NET, self.reservations("vmnet"))
        # virsh destroy
        self.stop_sequence()
        l = self.leases()[("vmnet", key(MAC_NET))]
        self.assertEqual((l["state"], l["address"]), ("reserved", first["address"]))
        self.assertEqual(self.reservations("vmnet"), {})
        # virsh start again: the same address
        self.start_sequence()
        l = self.leases()[("vmnet", key(MAC_NET))]
        self.assertEqual((l["state"], l["address"]), ("active", first["address"]))
        self.assertIn(first["address"], self.reservations("vmnet")[MAC_NET])

    def test_port_created_alone_acquires(self):
        """A network port of a managed libvirt network gets its lease even when prepare did
        not run (or ran before the config listed the network)."""
        self.write_conf(NET_ONLY)
        self.network("port-created", "begin", read_input("port-created.xml"))
        l = self.leases()[("vmnet", key(MAC_NET))]
        self.assertEqual((l["state"], l["containerId"], l["hostname"]), ("active", UUID, DOMAIN))
        self.assertIn(MAC_NET, self.reservations("vmnet"))
        self.network("port-deleted", "begin", read_input("port-deleted.xml"))
        self.assertEqual(self.leases()[("vmnet", key(MAC_NET))]["state"], "reserved")
        self.assertEqual(self.reservations("vmnet"), {})

    def test_same_key_across_undefine_define(self):
        """undefine + define from the same XML keeps the UUID, so the key and the address."""
        self.write_conf(NET_ONLY)
        self.start_sequence()
        addr = self.leases()[("vmnet", key(MAC_NET))]["address"]
        self.stop_sequence()
        self.start_sequence()
        ls = self.leases()
        self.assertEqual(list(ls), [("vmnet", key(MAC_NET))])
        self.assertEqual(ls[("vmnet", key(MAC_NET))]["address"], addr)

    def test_redefined_under_a_new_uuid_keeps_the_address(self):
        """`virsh define` of an XML without <uuid> gives a new UUID: the domain of the same
        name and MAC takes over its predecessor's reserved lease."""
        self.write_conf(NET_ONLY)
        self.start_sequence()
        addr = self.leases()[("vmnet", key(MAC_NET))]["address"]
        self.stop_sequence()
        new = "0d7c2e1a-4b3f-4e5d-8c9b-a1b2c3d4e5f6"
        self.qemu("prepare", "begin", read_input("prepare.xml").replace(UUID, new))
        ls = self.leases()
        self.assertEqual(list(ls), [("vmnet", key(MAC_NET, new))])
        self.assertEqual(ls[("vmnet", key(MAC_NET, new))]["address"], addr)
        # another domain of another name with that MAC gets an address of its own
        self.qemu("stopped", "end", read_input("stopped.xml").replace(UUID, new))
        other = "1e8d3f2b-5c40-4f6e-9dac-b2c3d4e5f607"
        xml = read_input("prepare.xml").replace(UUID, other).replace(
            "<name>%s</name>" % DOMAIN, "<name>other-vm</name>")
        self.hook("qemu", "other-vm", "prepare", "begin", xml)
        ls = self.leases()
        self.assertEqual(len(ls), 2)
        self.assertNotEqual(ls[("vmnet", key(MAC_NET, other))]["address"], addr)

    def test_double_invocation(self):
        """A monolithic hooks/qemu script and hooks/qemu.d/ both run: each event twice."""
        self.write_conf(NET_ONLY)
        for path in (os.path.join(self.hooks, "qemu"), None):
            self.hook("qemu", DOMAIN, "prepare", "begin", read_input("prepare.xml"), path=path)
        for path in (os.path.join(self.hooks, "network"), None):
            self.hook("network", LIBVIRT_NET, "port-created", "begin",
                      read_input("port-created.xml"), path=path)
        for path in (os.path.join(self.hooks, "qemu"), None):
            self.hook("qemu", DOMAIN, "start", "begin", read_input("start.xml"), path=path)
        ls = self.leases()
        self.assertEqual(list(ls), [("vmnet", key(MAC_NET))])
        addr = ls[("vmnet", key(MAC_NET))]["address"]
        self.assertEqual(list(self.reservations("vmnet")), [MAC_NET])
        for path in (os.path.join(self.hooks, "qemu"), None):
            self.hook("qemu", DOMAIN, "stopped", "end", read_input("stopped.xml"), path=path)
        for path in (os.path.join(self.hooks, "qemu"), None):
            self.hook("qemu", DOMAIN, "release", "end", read_input("release.xml"), path=path)
        l = self.leases()[("vmnet", key(MAC_NET))]
        self.assertEqual((l["state"], l["address"]), ("reserved", addr))
        self.assertEqual(self.reservations("vmnet"), {})

    def test_two_domains_get_different_addresses(self):
        self.write_conf(NET_ONLY)
        self.qemu("prepare", "begin", read_input("prepare.xml"))
        other = "1e8d3f2b-5c40-4f6e-9dac-b2c3d4e5f607"
        xml = read_input("prepare.xml").replace(UUID, other).replace(
            "<name>%s</name>" % DOMAIN, "<name>vm2</name>").replace(MAC_NET, "52:54:00:bb:00:01")
        self.hook("qemu", "vm2", "prepare", "begin", xml)
        ls = self.leases()
        self.assertEqual(len(ls), 2)
        self.assertEqual(len({l["address"] for l in ls.values()}), 2)
        self.assertEqual(len(self.reservations("vmnet")), 2)


class PassThrough(HookCase):
    def assert_untouched(self):
        self.assertFalse(os.path.exists(self.state), "the hook made %s" % self.state)

    def test_missing_config_manages_nothing(self):
        os.environ.pop("V6PD_LIBVIRT_CONFIG", None)
        self.conf = os.path.join(self.tmp, "no-such.json")
        for op, sub, f in (("prepare", "begin", "prepare.xml"), ("start", "begin", "start.xml"),
                           ("stopped", "end", "stopped.xml")):
            self.assertEqual(self.qemu(op, sub, read_input(f)), ("", ""))
        self.assertEqual(self.network("port-created", "begin", read_input("port-created.xml")),
                         ("", ""))
        self.assert_untouched()

    def test_unmanaged_domain_untouched(self):
        self.write_conf([self.entry({"network": "othernet"}, "other"),
                         self.entry({"bridge": "otherbr"}, "otherbr"),
                         self.entry({"tap": "nomatch*"}, "othertap")])
        for op, sub, f in (("prepare", "begin", "prepare.xml"), ("start", "begin", "start.xml"),
                           ("reconnect", "begin", "reconnect.xml"),
                           ("stopped", "end", "stopped.xml"), ("release", "end", "release.xml")):
            self.assertEqual(self.qemu(op, sub, read_input(f)), ("", ""), op)
        for op in ("port-created", "port-deleted"):
            self.assertEqual(self.network(op, "begin", read_input(op + ".xml")), ("", ""), op)
        self.assert_untouched()

    def test_unknown_network_passes_through(self):
        """An interface or port naming a libvirt network the config does not list."""
        self.write_conf(NET_ONLY)
        xml = read_input("prepare.xml").replace("network='%s'" % LIBVIRT_NET,
                                                "network='nosuchnet'")
        self.assertEqual(self.qemu("prepare", "begin", xml), ("", ""))
        port = read_input("port-created.xml").replace(LIBVIRT_NET, "nosuchnet")
        self.assertEqual(self.network("port-created", "begin", port, obj="nosuchnet"), ("", ""))
        self.assert_untouched()

    def test_network_argument_disagrees_with_xml(self):
        self.write_conf(NET_ONLY)
        _, err = self.network("port-created", "begin", read_input("port-created.xml"),
                              obj="othernet", expect=1)
        self.assert_one_line(err, "\"othernet\"", "\"%s\"" % LIBVIRT_NET)
        self.assert_untouched()

    def test_migrate_and_restore_print_nothing(self):
        self.write_conf(FULL)
        for op, f in (("migrate", "migrate.xml"), ("restore", "restore.xml")):
            self.assertEqual(self.qemu(op, "begin", read_input(f)), ("", ""))
            self.assertEqual(self.qemu(op, "begin", "<not xml"), ("", ""))
        self.assert_untouched()

    def test_other_ops_do_nothing(self):
        self.write_conf(FULL)
        self.assertEqual(self.qemu("started", "begin", read_input("start.xml")), ("", ""))
        self.assertEqual(self.qemu("attach", "begin", read_input("start.xml")), ("", ""))
        for op, sub in (("start", "begin"), ("started", "begin"), ("stopped", "end"),
                        ("updated", "begin")):
            self.assertEqual(self.network(op, sub, read_input("net-start.xml")), ("", ""))
        self.assert_untouched()

    def test_hook_name_from_argv0(self):
        self.write_conf(NET_ONLY)
        bad = os.path.join(self.tmp, "hooks", "v6pd")
        os.symlink(os.path.join(self.hooks, "qemu.d", "v6pd"), bad)
        _, err = self.hook("qemu", DOMAIN, "prepare", "begin", read_input("prepare.xml"),
                           path=bad, expect=1)
        self.assert_one_line(err, "qemu.d/v6pd")
        self.assert_untouched()

    def test_lxc_hook_is_the_domain_hook(self):
        self.write_conf(NET_ONLY)
        self.hook("lxc", DOMAIN, "prepare", "begin", read_input("prepare.xml"))
        self.assertEqual(list(self.leases()), [("vmnet", key(MAC_NET))])


class BadInput(HookCase):
    ABORTING = (("qemu", "prepare", "begin"), ("qemu", "start", "begin"),
                ("qemu", "reconnect", "begin"), ("network", "port-created", "begin"))
    IGNORED = (("qemu", "stopped", "end"), ("qemu", "release", "end"),
               ("network", "port-deleted", "begin"))

    def each(self, xml, *needles):
        for kind, op, sub in self.ABORTING:
            obj = DOMAIN if kind == "qemu" else LIBVIRT_NET
            out, err = self.hook(kind, obj, op, sub, xml, expect=1)
            self.assertEqual(out, "")
            self.assert_one_line(err, *needles)
        for kind, op, sub in self.IGNORED:
            obj = DOMAIN if kind == "qemu" else LIBVIRT_NET
            out, err = self.hook(kind, obj, op, sub, xml, expect=0)
            self.assertEqual(out, "")
            self.assert_one_line(err, "(ignored)", *needles)
        self.assertEqual(self.leases(), {})

    def test_malformed_xml(self):
        self.write_conf(NET_ONLY)
        self.each(read_input("prepare.xml")[:700], "not well-formed")
        self.each("", "not well-formed")
        self.each(b"\xff\xfe<domain>", "not well-formed")

    def test_wrong_document(self):
        self.write_conf(NET_ONLY)
        for kind, op, sub in self.ABORTING:
            xml = read_input("port-created.xml" if kind == "qemu" else "prepare.xml")
            obj = DOMAIN if kind == "qemu" else LIBVIRT_NET
            _, err = self.hook(kind, obj, op, sub, xml, expect=1)
            self.assert_one_line(err, "<domain>" if kind == "qemu" else "<hookData>")

    def test_entities_are_refused(self):
        """XXE and entity expansion bombs: a DTD is refused before anything is expanded."""
        self.write_conf(NET_ONLY)
        xxe = ("<?xml version='1.0'?><!DOCTYPE domain [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>"
               "<domain><name>&x;</name><uuid>%s</uuid></domain>" % UUID)
        self.each(xxe, "DOCTYPE")
        lol = "<!DOCTYPE domain [<!ENTITY a 'aaaaaaaaaa'>" + "".join(
            "<!ENTITY %s '%s'>" % (chr(98 + i), ("&%s;" % chr(97 + i)) * 10) for i in range(8)) + \
            "]><domain><name>&i;</name></domain>"
        self.each(lol, "DOCTYPE")
        undefined = "<domain><name>&nope;</name></domain>"
        self.each(undefined, "not well-formed")

    def test_too_much_input(self):
        self.write_conf(NET_ONLY)
        big = read_input("prepare.xml").replace(
            "<devices>", "<devices><!--" + "x" * (17 << 20) + "-->")
        _, err = self.qemu("prepare", "begin", big, expect=1)
        self.assert_one_line(err, "16 MiB")

    def test_bad_uuid(self):
        self.write_conf(NET_ONLY)
        xml = read_input("prepare.xml").replace(UUID, "not-a-uuid")
        _, err = self.qemu("prepare", "begin", xml, expect=1)
        self.assert_one_line(err, "<domain><uuid>: not a UUID")
        self.assertEqual(self.leases(), {})

    def test_bad_mac(self):
        self.write_conf(NET_ONLY)
        xml = read_input("prepare.xml").replace(MAC_NET, "52:54:00:zz:00:01")
        _, err = self.qemu("prepare", "begin", xml, expect=1)
        self.assert_one_line(err, "52:54:00:zz:00:01", "MAC")
        self.assertEqual(self.leases(), {})


class BrokenConfig(HookCase):
    def check(self, needles, raw=None, entries=None):
        self.write_conf(entries, raw=raw)
        for f, op in (("prepare.xml", "prepare"), ("start.xml", "start"),
                      ("reconnect.xml", "reconnect")):
            out, err = self.qemu(op, "begin", read_input(f), expect=1)
            self.assertEqual(out, "")
            self.assert_one_line(err, self.conf, *needles)
        _, err = self.network("port-created", "begin", read_input("port-created.xml"),
                              expect=1)
        self.assert_one_line(err, self.conf, *needles)
        _, err = self.qemu("stopped", "end", read_input("stopped.xml"))
        self.assert_one_line(err, self.conf, "(ignored)", *needles)
        self.assertFalse(os.path.exists(self.state))

    def test_not_json(self):
        self.check(["line 2"], raw='{"interfaces": [\n  {"name": "x",, }]}')

    def test_wrong_type(self):
        self.check(['"interfaces"[0] ("vmnet")', '"sliceLength"', "200"],
                   entries=[self.entry({"network": LIBVIRT_NET}, "vmnet", sliceLength=200)])

    def test_name_required(self):
        e = self.entry({"network": LIBVIRT_NET}, "x")
        del e["name"]
        self.check(['"interfaces"[0]', '"name"'], entries=[e])

    def test_bad_match(self):
        self.check(['"interfaces"[0] ("a")', '"match"'],
                   entries=[self.entry({"network": "n", "bridge": "b"}, "a")])
        self.check(['"interfaces"[0] ("a")', '"match"', '"vlan"'],
                   entries=[self.entry({"vlan": "n"}, "a")])

    def test_mode_conflicts_with_match(self):
        self.check(['"interfaces"[0] ("a")', '"mode"', "routed"],
                   entries=[self.entry({"tap": "t*"}, "a", mode="bridge")])

    def test_duplicate_name(self):
        self.check(['"interfaces"[1]', '"dup"'],
                   entries=[self.entry({"network": "n1"}, "dup"),
                            self.entry({"network": "n2"}, "dup")])

    def test_interfaces_not_a_list(self):
        self.check(['"interfaces"'], raw='{"interfaces": {}}')


class Failures(HookCase):
    """A failing prepare/start leaves nothing it made behind."""

    def test_prepare_failure_undoes_its_leases(self):
        # two interfaces on one network with room for one lease: the second fails
        self.write_conf([self.entry({"network": LIBVIRT_NET}, "vmnet", subnetId=1,
                                    maxLeases=1)])
        xml = read_input("prepare.xml").replace(
            "source bridge='%s'" % BRIDGE, "source network='%s'" % LIBVIRT_NET).replace(
            "<interface type='bridge'>", "<interface type='network'>")
        _, err = self.qemu("prepare", "begin", xml, expect=1)
        self.assert_one_line(err, MAC_BR, "maxLeases")
        self.assertEqual(self.leases(), {})
        self.assertEqual(self.reservations("vmnet"), {})

    def test_prepare_failure_restores_reserved_lease(self):
        self.write_conf([self.entry({"network": LIBVIRT_NET}, "vmnet", subnetId=1,
                                    maxLeases=1)])
        self.qemu("prepare", "begin", read_input("prepare.xml"))
        self.qemu("stopped", "end", read_input("stopped.xml"))
        before = self.leases()
        xml = read_input("prepare.xml").replace(
            "source bridge='%s'" % BRIDGE, "source network='%s'" % LIBVIRT_NET).replace(
            "<interface type='bridge'>", "<interface type='network'>")
        self.qemu("prepare", "begin", xml, expect=1)
        self.assertEqual(self.leases(), before)
        self.assertEqual(self.reservations("vmnet"), {})

    def test_no_prefix_known(self):
        e = self.entry({"network": LIBVIRT_NET}, "vmnet")
        del e["prefix"]
        self.write_conf([e])
        _, err = self.qemu("prepare", "begin", read_input("prepare.xml"), expect=1)
        self.assert_one_line(err, "v6pdctl prefix set")
        self.assertEqual(self.leases(), {})

    def test_start_without_the_tap_undoes(self):
        """start begin whose tap is missing: the leases this call took are given back."""
        self.private_net()
        self.write_conf([FULL[0], FULL[2]])
        _, err = self.qemu("start", "begin", read_input("start.xml"), expect=1)
        self.assert_one_line(err, MAC_TAP, '"%s"' % TAP)
        self.assertEqual(self.leases(), {})
        self.assertEqual(self.reservations("vmnet"), {})
        self.assertEqual(self.reservations("vmtap"), {})


class HostSidePrepare(HookCase):
    """prepare in a private namespace: the v6pd bridge exists before libvirt attaches the tap
    to it, a routed tap made beforehand will come up without a kernel link-local."""

    def test_prepare_makes_the_bridge(self):
        net = self.private_net()
        net.sh("ip", "tuntap", "add", "dev", TAP, "mode", "tap")
        self.write_conf(FULL)
        self.qemu("prepare", "begin", read_input("prepare.xml"))
        ls = self.leases()
        self.assertEqual(sorted(ls), [("vmbr", key(MAC_BR)), ("vmnet", key(MAC_NET)),
                                      ("vmtap", key(MAC_TAP))])
        for (n, _), l in ls.items():
            self.assertIn(l["mac"], self.reservations(n))
        (br,) = net.ip_json("addr", "show", "dev", BRIDGE)
        addrs = {(a["local"], a["prefixlen"]) for a in br["addr_info"] if a["family"] == "inet6"}
        self.assertLessEqual({("fe80::1", 64), ("2001:db8:100:2::1", 64)}, addrs)
        self.assertEqual(net.sh("cat", "/proc/sys/net/ipv6/conf/%s/addr_gen_mode" % TAP)
                         .stdout.strip(), "1")
        self.assertEqual(net.sh("cat", "/proc/sys/net/ipv6/conf/%s/accept_ra" % BRIDGE)
                         .stdout.strip(), "0")
        # again (qemu + qemu.d): nothing changes
        self.qemu("prepare", "begin", read_input("prepare.xml"),
                  path=os.path.join(self.hooks, "qemu"))
        self.assertEqual(self.leases().keys(), ls.keys())
        # stopped: leases reserved, reservations gone, the shared bridge stays
        self.qemu("stopped", "end", read_input("stopped.xml"))
        self.assertEqual({l["state"] for l in self.leases().values()}, {"reserved"})
        for n in ("vmnet", "vmbr", "vmtap"):
            self.assertEqual(self.reservations(n), {})
        self.assertEqual(len(net.ip_json("link", "show", "dev", BRIDGE)), 1)

    def test_bridge_name_taken_by_another_link(self):
        net = self.private_net()
        net.sh("ip", "tuntap", "add", "dev", BRIDGE, "mode", "tap")
        self.write_conf(FULL)
        _, err = self.qemu("prepare", "begin", read_input("prepare.xml"), expect=1)
        self.assert_one_line(err, MAC_BR, BRIDGE)
        self.assertEqual(self.leases(), {})
        for n in ("vmnet", "vmbr", "vmtap"):
            self.assertEqual(self.reservations(n), {})


if __name__ == "__main__":
    unittest.main(verbosity=2)
