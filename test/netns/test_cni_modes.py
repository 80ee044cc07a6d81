#!/usr/bin/env python3
"""Bridge and routed mode of the real v6pd binary, looked at in the kernel: the bridge and
its gateways and sysctls, the container's address/route/MTU/MAC, traffic between containers
and from the host; routed host ends and routes, perContainerSlice, proxy NDP on an uplink."""
import ipaddress
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cnitest  # noqa: E402
from cnitest import Lab, check_add_result  # noqa: E402


def setUpModule():
    cnitest.require_root()


def host_end(res):
    return [i["name"] for i in res["interfaces"]
            if "sandbox" not in i and i["name"].startswith("v6pd")
            and not i["name"].startswith("v6pd-")][0]


class Bridge(unittest.TestCase):
    def test_bridge_gateways_sysctls_and_container(self):
        lab = Lab(self)
        br = lab.name("br")
        conf = lab.conf(mode="bridge", bridge=br, mtu=1400, subnetId=3)
        ns = lab.netns()
        mac = "02:5e:00:12:34:56"
        res, cid = lab.add(conf, ns, args=f"IgnoreUnknown=1;MAC={mac}")
        addr = check_add_result(self, lab, res, "1.1.0", ns, "eth0", "bridge", mtu=1400)
        lease = lab.lease_for(cid)
        slice_ = ipaddress.IPv6Network(lease["slice"])
        # subnetId 3 of the /56, /64 slices
        self.assertEqual(slice_, list(ipaddress.IPv6Network(lab.prefix).subnets(new_prefix=64))[3])
        self.assertEqual(lease["address"], addr)
        self.assertEqual(lease["mac"], mac)
        # the bridge: a bridge, up, MTU, fe80::1/64 and the slice's ::1/64, both nodad
        link = lab.host.link(br)
        self.assertEqual(link["linkinfo"]["info_kind"], "bridge")
        self.assertIn("UP", link["flags"])
        self.assertEqual(link["mtu"], 1400)
        addrs = lab.host.addrs(br)
        for a in ("fe80::1/64", f"{cnitest.slice_gw(slice_)}/64"):
            self.assertIn(a, addrs)
            self.assertTrue(addrs[a].get("nodad"), addrs[a])
            self.assertFalse(addrs[a].get("tentative"), addrs[a])
        self.assertEqual(lab.host.sysctl(f"{br}.accept_ra"), 0)
        self.assertEqual(lab.host.sysctl(f"{br}.forwarding"), 1)
        self.assertEqual(lab.host.sysctl("all.forwarding"), 1)
        # the host end: on the bridge, MTU, alias naming the attachment
        h = lab.host.link(host_end(res))
        self.assertEqual(h["master"], br)
        self.assertEqual(h["mtu"], 1400)
        self.assertEqual(h.get("ifalias"), f"v6pd:{lab.net}:eth0:{cid}")
        # the container end: MAC from MAC=, MTU, up, address /64 nodad, default via fe80::1
        c = ns.link("eth0")
        self.assertEqual(c["address"], mac)
        self.assertEqual(c["mtu"], 1400)
        self.assertIn("UP", c["flags"])
        self.assertEqual(ns.routes("default"),
                         [dict(ns.routes("default")[0], dst="default", gateway="fe80::1",
                               dev="eth0")])
        # the host reaches the container over the slice's gateway
        self.assertTrue(lab.host.ping(addr), f"host -> {addr}")

    def test_default_bridge_name_and_mtu(self):
        lab = Lab(self)
        conf = lab.conf(mode=None, mtu=None)  # bridge mode and MTU 1500 by default
        ns = lab.netns()
        res, cid = lab.add(conf, ns)
        br = f"v6pd-{lab.net}"[:15]
        self.assertIn(br, lab.host_bridges())
        check_add_result(self, lab, res, "1.1.0", ns, "eth0", "bridge", mtu=1500)

    def test_two_containers_ping_and_gateway_mac_stable(self):
        lab = Lab(self)
        br = lab.name("br")
        conf = lab.conf(bridge=br)
        a, b, c = lab.netns(), lab.netns(), lab.netns()
        ra, ca = lab.add(conf, a)
        rb, cb = lab.add(conf, b)
        rc, cc = lab.add(conf, c)
        aa, ab = ra["ips"][0]["address"].split("/")[0], rb["ips"][0]["address"].split("/")[0]
        self.assertNotEqual(aa, ab)
        self.assertTrue(a.ping(ab), f"{a.name} -> {ab}")
        self.assertTrue(b.ping(aa), f"{b.name} -> {aa}")
        # the gateway's MAC does not follow the ports: a container leaving changes nothing
        # for the others
        gw_mac = lab.host.link(br)["address"]
        for r in (ra, rb, rc):
            self.assertEqual(r["interfaces"][0], dict(r["interfaces"][0], name=br, mac=gw_mac))
        for cid, ns in ((ca, a), (cc, c)):
            self.assertEqual(lab.cni("DEL", conf, ns, cid).rc, 0)
            self.assertEqual(lab.host.link(br)["address"], gw_mac)
        neigh = b.ip("-6", "neigh", "show", "fe80::1", "dev", "eth0")
        for n in neigh:
            self.assertEqual(n.get("lladdr"), gw_mac, neigh)

    def test_readd_after_del_same_address_and_mac_arg_capability(self):
        lab = Lab(self)
        conf = lab.conf(bridge=lab.name("br"))
        ns = lab.netns()
        rc = {"mac": "02:00:00:aa:bb:cc"}
        res, cid = lab.add(dict(conf, runtimeConfig=rc), ns)
        self.assertEqual(ns.link("eth0")["address"], rc["mac"])
        self.assertEqual(lab.cni("DEL", conf, ns, cid).rc, 0)
        res2, _ = lab.add(conf, ns, cid)
        self.assertEqual(res2["ips"], res["ips"])


class Routed(unittest.TestCase):
    def uplink(self, lab):
        """A global address for the host netns, on an uplink veth to an 'upstream' netns."""
        up = lab.netns("up")
        name = lab.name("u")
        lab.host.ipc("link", "add", name, "type", "veth", "peer", "name", "wan",
                     "netns", up.name)
        lab.host.ipc("link", "set", name, "up")
        up.ipc("link", "set", "wan", "up")
        return name, up

    def test_routed_host_end_route_and_ping(self):
        lab = Lab(self)
        conf = lab.conf(mode="routed", mtu=1450)
        upl, _ = self.uplink(lab)
        lab.host.ipc("addr", "add", "2001:db8:ffff::1/128", "dev", "lo")
        ns = lab.netns()
        res, cid = lab.add(conf, ns)
        addr = check_add_result(self, lab, res, "1.1.0", ns, "eth0", "routed", mtu=1450)
        host = host_end(res)
        h = lab.host.link(host)
        self.assertNotIn("master", h)
        addrs = lab.host.addrs(host)
        self.assertIn("fe80::1/64", addrs)
        self.assertTrue(addrs["fe80::1/64"].get("nodad"))
        self.assertEqual(lab.host.sysctl(f"{host}.accept_ra"), 0)
        self.assertEqual(lab.host.sysctl("all.forwarding"), 1)
        self.assertEqual([r["dev"] for r in lab.host.routes(f"{addr}/128")], [host])
        # the container: /128, nothing on-link but fe80::/64, default via fe80::1
        self.assertEqual(set(ns.addrs("eth0")) - {a for a in ns.addrs("eth0")
                                                  if a.startswith("fe80:")},
                         {f"{addr}/128"})
        self.assertTrue(lab.host.ping(addr), f"host -> {addr}")
        self.assertTrue(ns.ping("2001:db8:ffff::1"), "container -> host")
        # a second container reaches the first through the host
        ns2 = lab.netns()
        res2, _ = lab.add(conf, ns2)
        self.assertTrue(ns2.ping(addr), "container -> container through the host")
        # DEL takes the route with the host end
        self.assertEqual(lab.cni("DEL", conf, ns, cid).rc, 0)
        self.assertEqual(lab.host.routes(f"{addr}/128"), [])
        self.assertIsNone(lab.host.link(host))

    def test_per_container_slice(self):
        lab = Lab(self)
        conf = lab.conf(mode="routed", perContainerSlice=True, sliceLength=80)
        lab.host.ipc("addr", "add", "2001:db8:ffff::1/128", "dev", "lo")
        a, b = lab.netns(), lab.netns()
        ra, ca = lab.add(conf, a)
        rb, cb = lab.add(conf, b)
        slices = []
        for res, cid, ns in ((ra, ca, a), (rb, cb, b)):
            lease = lab.lease_for(cid)
            slice_ = ipaddress.IPv6Network(lease["slice"])
            slices.append(slice_)
            self.assertEqual(slice_.prefixlen, 80)
            self.assertTrue(slice_.subnet_of(ipaddress.IPv6Network(lab.prefix)))
            addr, plen = cnitest.addr_of(res)
            self.assertEqual((addr, plen), (lease["address"], 80))
            self.assertIn(ipaddress.IPv6Address(addr), slice_)
            self.assertIn(f"{addr}/80", ns.addrs("eth0"))
            host = host_end(res)
            self.assertEqual([r["dev"] for r in lab.host.routes(str(slice_))], [host])
            self.assertTrue(lab.host.ping(addr), f"host -> {addr}")
            # the whole slice is the container's: another address of it is routed there
            other = str(slice_.network_address + 0x77)
            ns.ipc("addr", "add", f"{other}/128", "dev", "eth0", "nodad")
            self.assertTrue(lab.host.ping(other), f"host -> {other} in the container's slice")
        self.assertNotEqual(slices[0], slices[1])
        self.assertTrue(a.ping(cnitest.addr_of(rb)[0]))

    def test_ndp_proxy(self):
        lab = Lab(self)
        upl, up = self.uplink(lab)
        # the delegated prefix is on-link upstream: the router expects the host to answer
        # neighbour solicitations for container addresses
        p64 = ipaddress.IPv6Network(lab.prefix)
        conf = lab.conf(mode="routed", ndpProxy=upl, subnetId=0)
        up.ipc("addr", "add", f"{p64.network_address + 0xfffe}/64", "dev", "wan", "nodad")
        lab.host.ipc("addr", "add", f"{p64.network_address + 0xfffd}/64", "dev", upl, "nodad")
        ns = lab.netns()
        res, cid = lab.add(conf, ns)
        addr = cnitest.addr_of(res)[0]
        self.assertEqual(lab.host.sysctl(f"{upl}.proxy_ndp"), 1)
        proxy = lab.host.ip("-6", "neigh", "show", "proxy")
        self.assertIn({"dst": addr, "dev": upl}, [{"dst": p["dst"], "dev": p["dev"]}
                                                  for p in proxy])
        # the upstream router, with the /64 on-link, reaches the container by proxy NDP
        self.assertTrue(up.ping(addr, tries=3), f"upstream -> {addr} through proxy NDP")
        nb = up.ip("-6", "neigh", "show", addr)
        self.assertEqual([n.get("lladdr") for n in nb], [lab.host.link(upl)["address"]])
        self.assertEqual(lab.cni("DEL", conf, ns, cid).rc, 0)
        self.assertEqual([p for p in lab.host.ip("-6", "neigh", "show", "proxy")
                          if p["dst"] == addr], [])

    def test_ndp_proxy_removed_when_lease_released_first(self):
        # an operator released the lease (v6pdctl lease release) before the runtime's DEL:
        # the DEL still takes the proxy entry off the uplink
        lab = Lab(self)
        upl, _ = self.uplink(lab)
        conf = lab.conf(mode="routed", ndpProxy=upl)
        ns = lab.netns()
        res, cid = lab.add(conf, ns, args="K8S_POD_NAME=p1")
        addr = cnitest.addr_of(res)[0]
        self.assertEqual([p["dst"] for p in lab.host.ip("-6", "neigh", "show", "proxy")],
                         [addr])
        lab.ctl("lease", "release", lab.net, "p1")
        self.assertEqual(lab.cni("DEL", conf, ns, cid, args="K8S_POD_NAME=p1").rc, 0)
        self.assertEqual(lab.host.ip("-6", "neigh", "show", "proxy"), [])
        self.assertEqual(lab.host_veths(), {})


if __name__ == "__main__":
    cnitest.main()
