"""`v6pdctl libvirt network define` and `v6pdctl gc --libvirt` against a real libvirtd
(label real-client), started by the test through virt.py (the harness of the libvirt hook's
real-client tests: its own libvirtd, the hook installed, everything named with RUN and undone
at exit).

define: a new network is created in route mode, started and autostarted, with the v6pd slice
and the dnsmasq passthrough, and libvirt's own dnsmasq runs with it; a guest on it gets its
reserved address and a default route; an existing network keeps the user's settings, the
running one is restarted only with --restart; defining again changes nothing.
gc --libvirt: the active lease of a domain libvirt does not have is released (and then
expired with --older-than), the leases of defined and of running transient domains stay.
"""
import ipaddress
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import virt  # noqa: E402
from virt import RUN  # noqa: E402

DM = "{http://libvirt.org/schemas/network/dnsmasq/1.0}"
NEW = RUN + "-new"        # created by define
OLD = RUN + "-old"        # defined by the "user" first
ISO = RUN + "-iso"        # an isolated network
GCN = RUN + "-gc"         # for gc --libvirt
GCN2 = RUN + "-gc2"       # for gc --libvirt failing
UNLISTED = RUN + "-none"  # no config entry
OLD_SUBNET = 200 << 16    # the /80 slices of the /64 slice 200, which no /64 network takes


def setUpModule():
    lv = virt.setup_module()
    lv.write_config([
        {"match": {"network": NEW}, "name": RUN + "-v6new", "prefix": str(lv.prefix),
         "subnetId": 5},
        {"match": {"network": OLD}, "name": RUN + "-v6old", "prefix": str(lv.prefix),
         "subnetId": OLD_SUBNET, "sliceLength": 80},
        {"match": {"network": ISO}, "name": RUN + "-v6iso", "prefix": str(lv.prefix)},
        {"match": {"network": GCN}, "name": RUN + "-v6gc", "prefix": str(lv.prefix)},
        {"match": {"network": GCN2}, "name": RUN + "-v6gc2", "prefix": str(lv.prefix)},
    ])


def tearDownModule():
    virt.teardown_module()


def ctl(*args, check=True, json_out=False):
    lv = virt.LV
    env = dict(os.environ, V6PD_LIBVIRT_CONFIG=lv.conf)
    env.pop("V6PD_STATE_DIR", None)
    argv = [virt.V6PDCTL, "--state-dir", lv.state] + (["--json"] if json_out else []) + \
        list(args)
    p = virt.sh(*argv, check=check, env=env)
    if json_out and p.returncode == 0:
        return json.loads(p.stdout)
    return p


def net_xml(name, inactive=True):
    args = ["net-dumpxml"] + (["--inactive"] if inactive else []) + [name]
    return virt.LV.virsh(*args).stdout


def v6_ips(xml):
    return [ip for ip in ET.fromstring(xml).findall("ip")
            if ip.get("family") == "ipv6"]


def options(xml):
    return [o.get("value") for o in ET.fromstring(xml).iter(DM + "option")]


def slice_of(index, length=64):
    base = int(virt.LV.prefix.network_address)
    return ipaddress.IPv6Network((base + (index << (128 - length)), length))


def hosts_dir(v6net):
    return os.path.join(virt.LV.state, "dhcp-hosts", v6net)


def net_info(name):
    out = virt.LV.virsh("net-info", name).stdout
    return {k.strip(): v.strip() for k, v in
            (l.split(":", 1) for l in out.splitlines() if ":" in l)}


class Define(virt.VirtCase):
    def test_new_network_is_created_started_and_serves_a_guest(self):
        lv = virt.LV
        p = ctl("libvirt", "network", "define", NEW)
        virt.log("define (new): " + p.stdout.strip().replace("\n", " | "))
        self.assertIn('libvirt network "%s": created (forward mode route)' % NEW, p.stdout)
        info = net_info(NEW)
        self.assertEqual(info["Active"], "yes")
        self.assertEqual(info["Autostart"], "yes")

        xml = net_xml(NEW)
        root = ET.fromstring(xml)
        self.assertEqual(root.find("forward").get("mode"), "route")
        sl = slice_of(5)
        ips = v6_ips(xml)
        self.assertEqual(len(ips), 1, xml)
        self.assertEqual(ipaddress.IPv6Address(ips[0].get("address")), sl[1])
        self.assertEqual(ips[0].get("prefix"), "64")
        # DHCPv6 with a host and no range: dnsmasq hands out reservations only
        dhcp = list(ips[0].find("dhcp"))
        self.assertEqual([e.tag for e in dhcp], ["host"])
        self.assertEqual(ipaddress.IPv6Address(dhcp[0].get("ip")), sl[1])
        hd = hosts_dir(RUN + "-v6new")
        self.assertEqual(options(xml), ["dhcp-hostsdir=" + hd, "dhcp-lease-max=4096",
                                        "ra-param=*,10,600"])
        self.assertTrue(os.path.isdir(hd))
        # the store has the network, with the slice the config asks for
        nets = {n["name"]: n for n in ctl("networks", json_out=True)}
        self.assertEqual(nets[RUN + "-v6new"]["slice"], str(sl))
        # libvirt's dnsmasq runs with the passthrough
        bridge = root.find("bridge").get("name")
        with open("/var/lib/libvirt/dnsmasq/%s.conf" % NEW) as f:
            conf = f.read()
        self.assertIn("\ndhcp-hostsdir=%s\n" % hd, conf)
        self.assertIn("\nenable-ra\n", conf)
        self.assertIn("\ndhcp-range=%s,static,64\n" % sl[1], conf)
        self.assertEqual([l for l in conf.splitlines() if l.startswith("dhcp-lease-max=")],
                         ["dhcp-lease-max=4096"])
        self.assertNotIn("ra-param=*,0,0", conf)
        pid = virt.read_pidfile("/run/libvirt/network/%s.pid" % NEW)
        self.assertTrue(virt.pid_alive(pid), "libvirt's dnsmasq for %s" % NEW)
        addrs = subprocess.run(["ip", "-6", "addr", "show", "dev", bridge],
                               capture_output=True, text=True).stdout
        self.assertIn("%s/64" % sl[1], addrs)

        # defining it again changes nothing
        before = net_xml(NEW)
        j = ctl("libvirt", "network", "define", NEW, json_out=True)
        self.assertEqual(j["action"], "unchanged")
        self.assertFalse(j["restartNeeded"])
        self.assertEqual(j["bridge"], bridge)
        self.assertEqual(j["slice"], str(sl))
        self.assertEqual(net_xml(NEW), before)

        # a guest on it: its reserved address from libvirt's dnsmasq, a default route
        name, mac = RUN + "-g1", lv.mac(41)
        self.addCleanup(self.undefine, name)
        console, got = self.boot(name, [("network", NEW, mac)])
        addr = self.assert_stable_address(got, sl)
        lease = [l for l in lv.leases() if l["network"] == RUN + "-v6new"]
        self.assertEqual([l["address"] for l in lease], [addr])
        route = console.default_route()
        self.assertRegex(route, r"^default via fe80::\S+ dev eth0",
                         "the route-mode network's RA gives the guest a default route")
        self.assert_pings(addr)
        virt.log("guest on %s: %s, %s" % (NEW, addr, route))

        # the running network made to differ (a restart by hand cuts the guest off: libvirt
        # does not put the taps of running guests back on the bridge): --restart applies the
        # wanted settings and puts the guest back
        tap = lv.taps_of(name)[mac]
        changed = before.replace("<dnsmasq:option value='ra-param=*,10,600'/>", "")
        path = os.path.join(lv.tmp, NEW + "-changed.xml")
        with open(path, "w") as f:
            f.write(changed)
        lv.virsh("net-define", path)
        lv.virsh("net-destroy", NEW)
        lv.virsh("net-start", NEW)
        self.assertFalse(os.path.exists("/sys/class/net/%s/master" % tap))
        j = ctl("libvirt", "network", "define", NEW, json_out=True)
        self.assertEqual((j["action"], j["restartNeeded"], j["removed"]), ("updated", True, []))
        j = ctl("libvirt", "network", "define", NEW, "--restart", json_out=True)
        self.assertEqual((j["action"], j["restarted"], j["reattached"]), ("unchanged", True, 1))
        self.assertEqual(os.path.basename(os.readlink("/sys/class/net/%s/master" % tap)),
                         bridge)
        self.assertIn("ra-param=*,10,600", options(net_xml(NEW, inactive=False)))
        self.assert_pings(addr)

        # the guest's DHCPv6 lease leaves libvirt's dnsmasq with the guest (the hook's
        # port-deleted sends the Release), so a new DUID can have the reservation
        status = "/var/lib/libvirt/dnsmasq/%s.status" % bridge

        def leased():
            try:
                with open(status) as f:
                    return [l for l in json.load(f) if l.get("mac-address") == mac]
            except (OSError, ValueError):
                return []
        self.assertTrue(leased(), "libvirt's dnsmasq has the guest's lease")
        self.destroy(name)
        virt.wait_for(lambda: not leased(), 5, 0.1, "the lease to leave " + status)

    def test_existing_network_keeps_user_settings_and_restarts_on_request(self):
        lv = virt.LV
        user = """<network xmlns:dnsmasq='http://libvirt.org/schemas/network/dnsmasq/1.0'>
  <name>%s</name><forward mode='nat'/><mtu size='1400'/>
  <domain name='%s.test'/>
  <ip address='192.168.%d.1' netmask='255.255.255.0'>
    <dhcp><range start='192.168.%d.10' end='192.168.%d.20'/></dhcp></ip>
  <ip family='ipv6' address='fd00:%x::1' prefix='64'>
    <dhcp><range start='fd00:%x::10' end='fd00:%x::20'/></dhcp></ip>
  <dnsmasq:options><dnsmasq:option value='log-dhcp'/></dnsmasq:options>
</network>""" % ((OLD, RUN) + (200 + os.getpid() % 50,) * 3 + (os.getpid() & 0xffff,) * 3)
        path = os.path.join(lv.tmp, OLD + ".xml")
        with open(path, "w") as f:
            f.write(user)
        lv.virsh("net-define", path)
        lv.virsh("net-start", OLD)

        j = ctl("libvirt", "network", "define", OLD, json_out=True)
        self.assertEqual(j["action"], "updated")
        self.assertEqual(j["forward"], "nat")
        self.assertTrue(j["active"])
        self.assertTrue(j["restartNeeded"])
        self.assertFalse(j["restarted"])
        self.assertEqual(j["removed"], ["<ip> fd00:%x::1/64 (DHCPv6)" % (os.getpid() & 0xffff)])
        sl = slice_of(OLD_SUBNET, 80)
        self.assertEqual(j["slice"], str(sl))
        xml = net_xml(OLD)
        root = ET.fromstring(xml)
        self.assertEqual(root.find("forward").get("mode"), "nat")
        self.assertEqual(root.find("mtu").get("size"), "1400")
        self.assertEqual(root.find("domain").get("name"), RUN + ".test")
        self.assertEqual([ip.get("address") for ip in root.findall("ip")
                          if ip.get("family") != "ipv6"],
                         ["192.168.%d.1" % (200 + os.getpid() % 50)])
        ips = v6_ips(xml)
        self.assertEqual([(ipaddress.IPv6Address(i.get("address")), i.get("prefix"))
                          for i in ips], [(sl[1], "80")])
        self.assertEqual(options(xml), ["log-dhcp", "dhcp-hostsdir=" + hosts_dir(RUN + "-v6old"),
                                        "ra-param=*,10,600"],
                         "the user's option kept; libvirt caps the leases (IPv4 range)")
        self.assertEqual(j["leaseMax"], 11)
        # the running network still has the old <ip> until it is restarted
        self.assertEqual(len(v6_ips(net_xml(OLD, inactive=False))), 1)
        self.assertNotEqual(ipaddress.IPv6Address(
            v6_ips(net_xml(OLD, inactive=False))[0].get("address")), sl[1])

        p = ctl("libvirt", "network", "define", OLD)
        self.assertIn('libvirt network "%s": unchanged' % OLD, p.stdout)
        self.assertIn("--restart", p.stdout)
        self.assertEqual(net_xml(OLD), xml)

        j = ctl("libvirt", "network", "define", OLD, "--restart", json_out=True)
        self.assertEqual(j["action"], "unchanged")
        self.assertTrue(j["restarted"])
        self.assertFalse(j["restartNeeded"])
        live = net_xml(OLD, inactive=False)
        self.assertEqual(ipaddress.IPv6Address(v6_ips(live)[0].get("address")), sl[1])
        self.assertEqual(ET.fromstring(live).find("mtu").get("size"), "1400")
        with open("/var/lib/libvirt/dnsmasq/%s.conf" % OLD) as f:
            conf = f.read()
        self.assertIn("log-dhcp", conf)
        self.assertIn("dhcp-hostsdir=" + hosts_dir(RUN + "-v6old"), conf)

        j = ctl("libvirt", "network", "define", OLD, json_out=True)
        self.assertEqual((j["action"], j["restartNeeded"], j["restarted"]),
                         ("unchanged", False, False))

    def test_isolated_network_keeps_no_default_route(self):
        lv = virt.LV
        path = os.path.join(lv.tmp, ISO + ".xml")
        with open(path, "w") as f:
            f.write("<network><name>%s</name></network>" % ISO)
        lv.virsh("net-define", path)
        p = ctl("libvirt", "network", "define", ISO)
        self.assertIn("updated (isolated: no <forward>)", p.stdout)
        self.assertIn("no default route", p.stdout)
        self.assertIn("not running", p.stdout)
        xml = net_xml(ISO)
        self.assertIsNone(ET.fromstring(xml).find("forward"))
        self.assertEqual(options(xml), ["dhcp-hostsdir=" + hosts_dir(RUN + "-v6iso"),
                                        "dhcp-lease-max=4096"])
        self.assertEqual(net_info(ISO)["Active"], "no")

    def test_errors(self):
        lv = virt.LV
        p = ctl("libvirt", "network", "define", UNLISTED, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(lv.conf, p.stderr)
        self.assertIn('{"network": "%s"}' % UNLISTED, p.stderr)
        self.assertEqual(virt.LV.virsh("net-info", UNLISTED, check=False).returncode, 1)

        p = ctl("libvirt", "network", "define", check=False)
        self.assertEqual(p.returncode, 2)
        p = ctl("libvirt", "network", "define", NEW, "--older-than", "1h", check=False)
        self.assertEqual(p.returncode, 2)
        p = ctl("--state-dir", lv.tmp, "libvirt", "network", "define", NEW, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn('"stateDir" %s' % lv.state, p.stderr)
        p = ctl("libvirt", "network", "define", NEW, "--uri",
                "qemu+unix:///system?socket=/nonexistent/sock", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("libvirt (qemu+unix:///system?socket=/nonexistent/sock)", p.stderr)
        p = ctl("libvirt", "network", "define", NEW, "--config", lv.tmp + "/none.json",
                check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(lv.tmp + "/none.json: no such file", p.stderr)

        # a network libvirt runs no dnsmasq for
        br = lv.bridge("hb")
        path = os.path.join(lv.tmp, "hb.xml")
        with open(path, "w") as f:
            f.write("<network><name>%s</name><forward mode='bridge'/><bridge name='%s'/>"
                    "</network>" % (UNLISTED, br))
        lv.virsh("net-define", path)
        with open(lv.conf) as f:
            cfg = json.load(f)
        lv.write_config(cfg["interfaces"] + [{"match": {"network": UNLISTED},
                                              "name": RUN + "-v6hb",
                                              "prefix": str(lv.prefix)}])
        self.addCleanup(lv.write_config, cfg["interfaces"])
        before = net_xml(UNLISTED)
        p = ctl("libvirt", "network", "define", UNLISTED, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("<forward mode='bridge'>", p.stderr)
        self.assertEqual(net_xml(UNLISTED), before)

    def test_help(self):
        p = ctl("libvirt", "network", "define", "--help")
        self.assertIn("usage: v6pdctl [--state-dir DIR] [--json] libvirt network define NAME",
                      p.stdout)
        for word in ("--restart", "--uri", "dhcp-hostsdir", "route"):
            self.assertIn(word, p.stdout)
        p = ctl("gc", "--help")
        self.assertIn("--libvirt", p.stdout)
        p = ctl("libvirt", check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("'libvirt' needs a sub-verb", p.stderr)


class GcLibvirt(virt.VirtCase):
    def hook_prepare(self, name, uuid, mac, network=GCN):
        """The real hook, called as libvirt calls it at prepare, for a domain libvirt does
        not have (as after a host crash with a domain undefined meanwhile): its lease."""
        lv = virt.LV
        real = os.path.join(lv.tmp, "hookbin", "qemu.d", "v6pd")
        xml = ("<domain type='qemu'><name>%s</name><uuid>%s</uuid><devices>"
               "<interface type='network'><source network='%s'/><mac address='%s'/>"
               "</interface></devices></domain>" % (name, uuid, network, mac))
        virt.sh(real, name, "prepare", "begin", "-", input=xml,
                env=dict(os.environ, V6PD_LIBVIRT_CONFIG=lv.conf))

    def lease(self, key):
        got = [l for l in virt.LV.leases() if l["key"] == key]
        return got[0] if got else None

    def test_releases_only_the_leases_of_domains_libvirt_does_not_have(self):
        lv = virt.LV
        ctl("libvirt", "network", "define", GCN)
        # a defined domain, running (the hook leases at prepare / port-created)
        kept, kmac = RUN + "-gk", lv.mac(51)
        self.addCleanup(self.undefine, kept)
        lv.define(kept, [("network", GCN, kmac)])
        lv.start_domain(kept)
        # a transient domain, running
        trans, tmac = RUN + "-gt", lv.mac(52)
        self.addCleanup(self.destroy, trans)
        xml, _ = lv.domain_xml(trans, [("network", GCN, tmac)])
        path = os.path.join(lv.tmp, trans + ".xml")
        with open(path, "w") as f:
            f.write(xml)
        lv.virsh("create", path)
        # a domain libvirt never had
        ghost_uuid, gmac = "6c3b0a52-8a8e-4a55-9d2f-%012x" % os.getpid(), lv.mac(53)
        self.hook_prepare(RUN + "-ghost", ghost_uuid, gmac)

        keys = {"kept": "%s/%s" % (lv.uuid(kept), kmac),
                "trans": "%s/%s" % (lv.uuid(trans), tmac),
                "ghost": "%s/%s" % (ghost_uuid, gmac)}
        for k, key in keys.items():
            self.assertEqual((self.lease(key) or {}).get("state"), "active", k)
        hd = hosts_dir(RUN + "-v6gc")
        self.assertIn(gmac, os.listdir(hd))

        # libvirt's dnsmasq keeps a removed reservation file's record until SIGHUP: gc
        # sends it one (seen by strace attached to it, signals only)
        lv_pid = virt.read_pidfile("/run/libvirt/network/%s.pid" % GCN)
        self.assertGreater(lv_pid, 0)
        trace = os.path.join(lv.tmp, "gc-dnsmasq.strace")
        st = subprocess.Popen(["strace", "-e", "trace=none", "-e", "signal=SIGHUP", "-o",
                               trace, "-p", str(lv_pid)], stderr=subprocess.DEVNULL)

        def traced():
            with open("/proc/%d/status" % lv_pid) as f:
                return any(l.startswith("TracerPid:") and l.split()[1] != "0" for l in f)

        def got_hup():
            with open(trace) as f:
                return "SIGHUP" in f.read()
        try:
            virt.wait_for(traced, 10, 0.02, "strace attached to %d" % lv_pid)
            p = ctl("gc", "--libvirt")
            virt.wait_for(got_hup, 5, 0.05, "SIGHUP to libvirt's dnsmasq (pid %d)" % lv_pid)
        finally:
            st.terminate()
            st.wait()
        self.assertIn("released 1 lease of domains libvirt no longer has", p.stdout)
        self.assertIn("expired 0 reservations", p.stdout)
        self.assertEqual(self.lease(keys["ghost"])["state"], "reserved")
        self.assertEqual(self.lease(keys["kept"])["state"], "active")
        self.assertEqual(self.lease(keys["trans"])["state"], "active")
        self.assertNotIn(gmac, os.listdir(hd))
        self.assertIn(kmac, os.listdir(hd))

        # again: nothing to release; with --older-than 0s the released one expires
        j = ctl("gc", "--libvirt", "--older-than", "0s", json_out=True)
        self.assertEqual(j["released"], 0)
        self.assertGreaterEqual(j["libvirtDomains"], 2)
        self.assertGreaterEqual(j["expired"], 1)
        self.assertIsNone(self.lease(keys["ghost"]))
        self.assertEqual(self.lease(keys["kept"])["state"], "active")
        self.assertEqual(self.lease(keys["trans"])["state"], "active")

    def test_fails_cleanly_without_libvirt(self):
        lv = virt.LV
        uuid, mac = "0d9b8e0c-7b7d-4f0e-8f57-%012x" % os.getpid(), lv.mac(54)
        self.hook_prepare(RUN + "-ghost2", uuid, mac, GCN2)
        self.addCleanup(ctl, "lease", "release", RUN + "-v6gc2", "%s/%s" % (uuid, mac),
                        "--forget")
        before = lv.leases()
        p = ctl("gc", "--libvirt", "--uri", "qemu+unix:///system?socket=/nonexistent/sock",
                check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("libvirt (qemu+unix:///system?socket=/nonexistent/sock)", p.stderr)
        self.assertEqual(lv.leases(), before, "nothing released when libvirt cannot answer")
        p = ctl("gc", "--uri", "qemu:///system", check=False)
        self.assertEqual(p.returncode, 2)


if __name__ == "__main__":
    virt.main()
