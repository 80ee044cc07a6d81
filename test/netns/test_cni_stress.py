#!/usr/bin/env python3
"""The real v6pd binary under concurrency and crashes: 20 parallel ADDs into 20 namespaces
on one (new) network, all reachable, then 20 parallel DELs; SIGKILL in the middle of ADD,
30 times, then DEL and GC: nothing left behind and the store still opens."""
import os
import random
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cnitest  # noqa: E402
from cnitest import Lab  # noqa: E402

N_PARALLEL = 20
N_KILL = 30


def setUpModule():
    cnitest.require_root()


class Parallel(unittest.TestCase):
    def parallel(self, mode):
        lab = Lab(self)
        if mode == "routed":
            lab.host.ipc("addr", "add", "2001:db8:ffff::1/128", "dev", "lo")
        conf = lab.conf(mode=mode, bridge=lab.name("br"))
        nss = [lab.netns() for _ in range(N_PARALLEL)]
        cids = [f"par-{i}" for i in range(N_PARALLEL)]
        t0 = time.monotonic()
        procs = [lab.popen("ADD", conf, ns, cid, args=f"K8S_POD_NAME=pod{i}")
                 for i, (ns, cid) in enumerate(zip(nss, cids))]
        results = [lab.finish(p) for p in procs]
        t_add = time.monotonic() - t0
        for r in results:
            self.assertEqual(r.rc, 0, r)
        addrs = [cnitest.addr_of(r.json)[0] for r in results]
        self.assertEqual(len(set(addrs)), N_PARALLEL, addrs)
        plen = 64 if mode == "bridge" else 128
        leases = {l["containerId"]: l for l in lab.leases()}
        for ns, cid, a in zip(nss, cids, addrs):
            self.assertIn(f"{a}/{plen}", ns.addrs("eth0"))
            self.assertEqual((leases[cid]["address"], leases[cid]["state"]), (a, "active"))
            self.assertTrue(cnitest.in_prefix(a, lab.prefix))
        self.assertEqual(len(lab.host_veths()), N_PARALLEL)
        if mode == "bridge":
            # one bridge, one slice, every port on it
            self.assertEqual(len({l["slice"] for l in lab.leases()}), 1)
            ports = [l for l in lab.host_veths().values() if l.get("master") == conf["bridge"]]
            self.assertEqual(len(ports), N_PARALLEL)
        for i, ns in enumerate(nss):
            peer = addrs[(i + 1) % N_PARALLEL]
            self.assertTrue(ns.ping(peer), f"{ns.name} -> {peer}")
        t0 = time.monotonic()
        procs = [lab.popen("DEL", conf, ns, cid) for ns, cid in zip(nss, cids)]
        results = [lab.finish(p) for p in procs]
        t_del = time.monotonic() - t0
        for r in results:
            self.assertEqual((r.rc, r.stdout.strip()), (0, ""), r)
        self.assertEqual(lab.host_veths(), {})
        self.assertEqual({l["state"] for l in lab.leases()}, {"reserved"})
        for ns in nss:
            self.assertIsNone(ns.link("eth0"))
        print(f"\n# {mode}: {N_PARALLEL} parallel ADDs {t_add:.3f} s, DELs {t_del:.3f} s",
              file=sys.stderr)

    def test_bridge(self):
        self.parallel("bridge")

    def test_gc_of_another_network_during_adds(self):
        # GC removes host ends without an alias (left by killed ADDs) of any network; it must
        # never take one from an ADD that is still between creating and naming its veth
        lab = Lab(self)
        conf = lab.conf(bridge=lab.name("br"))
        other = lab.conf(name=lab.net + "-o", bridge=lab.name("bo"))
        lab.add(other, lab.netns())
        gc = dict(other, **{"cni.dev/valid-attachments": []})
        nss = [lab.netns() for _ in range(N_PARALLEL)]
        adds = [lab.popen("ADD", conf, ns, f"g{i}") for i, ns in enumerate(nss)]
        for p in adds:
            p.stdin.write(p.v6pd_input)
            p.stdin.close()
        gcs, running = 0, []
        while any(p.poll() is None for p in adds):
            while len(running) < 4:
                running.append(lab.popen("GC", gc, None, None, None))
            r = lab.finish(running.pop(0))
            self.assertEqual(r.rc, 0, r)
            gcs += 1
        for p in running:
            self.assertEqual(lab.finish(p).rc, 0)
        for p in adds:
            out = p.stdout.read()
            self.assertEqual(p.returncode, 0, (out, p.stderr.read()))
            p.stdout.close()
            p.stderr.close()
        self.assertEqual(len(lab.host_veths()), N_PARALLEL)
        for ns in nss:
            self.assertIsNotNone(ns.link("eth0"))
        print(f"\n# {gcs} GCs ran during {N_PARALLEL} ADDs", file=sys.stderr)

    def test_routed(self):
        self.parallel("routed")


class KilledAdd(unittest.TestCase):
    @staticmethod
    def wait_reading_stdin(p, timeout=5.0):
        """Waits until the plugin itself (not `ip netns exec` before its exec, not the dynamic
        loader) sits in read(0, ...): the 0-5 ms before the kill then fall in ADD's work."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                exe = os.readlink(f"/proc/{p.pid}/exe")
                with open(f"/proc/{p.pid}/syscall") as f:
                    sc = f.read().split()
            except OSError:
                sc, exe = [], ""
            if os.path.basename(exe) == "v6pd" and sc[:2] == ["0", "0x0"]:
                return True
            time.sleep(0.0005)
        return False

    def kill_adds(self, lab, conf, mode):
        nss, cids, outcomes = [], [], {"killed": 0, "finished": 0}
        for i in range(N_KILL):
            ns = lab.netns()
            cid = f"kill-{mode}-{i}"
            p = lab.popen("ADD", conf, ns, cid, args=f"K8S_POD_NAME=k{i}")
            self.assertTrue(self.wait_reading_stdin(p), "the plugin never read its stdin")
            p.stdin.write(p.v6pd_input)
            p.stdin.close()
            time.sleep(random.uniform(0, 0.005))
            p.kill()
            p.wait()
            p.stdout.close()
            p.stderr.close()
            outcomes["killed" if p.returncode < 0 else "finished"] += 1
            nss.append(ns)
            cids.append(cid)
        # what the kills left, before any cleanup: proof they hit ADD half-way
        left = {"active leases": sum(l["state"] == "active" for l in lab.leases()),
                "host veths": len(lab.host_veths()),
                "container links": sum(ns.link("eth0") is not None for ns in nss),
                "container addresses": sum(bool(ns.link("eth0")) and any(
                    not a.startswith("fe80") for a in ns.addrs("eth0")) for ns in nss)}
        print(f"\n# {mode}: {outcomes}, left behind: {left}", file=sys.stderr)
        return nss, cids

    def check_clean(self, lab, nss):
        self.assertEqual(lab.host_veths(), {})
        leases = lab.leases()  # v6pdctl opens and checks the store
        self.assertEqual([l for l in leases if l["state"] == "active"], [])
        for ns in nss:
            self.assertIsNone(ns.link("eth0"), ns.name)
        self.assertEqual([r for r in lab.host.routes() if r.get("dev", "").startswith("v6pd")
                          and not r["dev"].startswith("v6pd-")], [])
        proxies = [p for p in lab.host.ip("-6", "neigh", "show", "proxy")]
        self.assertEqual(proxies, [])

    def works_after(self, lab, conf):
        ns = lab.netns()
        res, cid = lab.add(conf, ns)
        a = cnitest.addr_of(res)[0]
        self.assertTrue(lab.host.ping(a), f"host -> {a} after the crashes")
        self.assertEqual(lab.cni("DEL", conf, ns, cid).rc, 0)

    def uplink(self, lab):
        name = lab.name("up")
        lab.host.ipc("link", "add", name, "type", "veth", "peer", "name", lab.name("upp"))
        lab.host.ipc("addr", "add", "2001:db8:ffff::1/128", "dev", "lo")
        return name

    def test_kill_then_del_and_gc(self):
        for mode in ("bridge", "routed"):
            with self.subTest(mode=mode):
                lab = Lab(self)
                extra = {"ndpProxy": self.uplink(lab)} if mode == "routed" else {}
                conf = lab.conf(mode=mode, bridge=lab.name("br"), **extra)
                nss, cids = self.kill_adds(lab, conf, mode)
                for i, (ns, cid) in enumerate(zip(nss, cids)):
                    r = lab.cni("DEL", conf, ns, cid, args=f"K8S_POD_NAME=k{i}")
                    self.assertEqual((r.rc, r.stdout.strip()), (0, ""), r)
                r = lab.cni("GC", dict(conf, **{"cni.dev/valid-attachments": []}))
                self.assertEqual(r.rc, 0, r)
                self.check_clean(lab, nss)
                self.works_after(lab, conf)

    def test_kill_then_gc_only(self):
        # containerd with a detached task sends no DEL at all: GC alone must clean up
        lab = Lab(self)
        conf = lab.conf(bridge=lab.name("br"))
        nss, _ = self.kill_adds(lab, conf, "gc-only")
        r = lab.cni("GC", dict(conf, **{"cni.dev/valid-attachments": []}))
        self.assertEqual(r.rc, 0, r)
        self.check_clean(lab, nss)
        self.works_after(lab, conf)


if __name__ == "__main__":
    cnitest.main()
