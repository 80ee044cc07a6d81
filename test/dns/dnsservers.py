"""Real DNS servers on loopback for the DNS tests (label real-client), each started by the
test, in a network namespace of the test's own or the host's, and stopped by its PID.

Recipes: ../shared/TESTING.md "DNS servers on loopback". Every server gets a private
directory, a port of its own, and nothing that reaches beyond loopback (PowerDNS's security
poll is off). `dig` queries them; `Server.query()` returns the answers' data.
"""
import base64
import json
import os
import secrets
import shutil
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request

PDNS_SCHEMA = "/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql"


def netns_argv(netns):
    return ["ip", "netns", "exec", netns] if netns else []


def free_port(netns=None):
    """A port free for UDP and TCP on 127.0.0.1 (in the root netns; a private netns has
    every port free)."""
    if netns:
        return 20000 + secrets.randbelow(30000)
    for _ in range(100):
        port = 20000 + secrets.randbelow(30000)
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u, \
                    socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                u.bind(("127.0.0.1", port))
                t.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port")


def tsig_secret():
    return base64.b64encode(secrets.token_bytes(32)).decode()


def write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


def bind_key_text(name, secret, alg="hmac-sha256"):
    return f'key "{name}" {{\n\talgorithm {alg};\n\tsecret "{secret}";\n}};\n'


class Server:
    """A DNS server process: start() waits until it answers, stop() ends it by PID."""

    name = "server"

    def __init__(self, workdir, netns=None):
        self.dir = os.path.join(workdir, f"{self.name}-{secrets.token_hex(3)}")
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        self.netns = netns
        self.port = free_port(netns)
        self.proc = None
        self.log = os.path.join(self.dir, "log")

    def argv(self):
        raise NotImplementedError

    def ready(self):
        """Whether the server answers (a SOA query for a zone it serves)."""
        return self.dig("SOA", self.ready_name(), "+time=1", "+tries=1", check=False) \
            .returncode == 0

    def ready_name(self):
        return "."

    def start(self, timeout=20):
        assert self.proc is None or self.proc.poll() is not None
        log = open(self.log, "a", encoding="utf-8")
        self.proc = subprocess.Popen(netns_argv(self.netns) + self.argv(), stdout=log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.proc.returncode}:\n"
                                   f"{self.log_tail()}")
            if self.ready():
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer within {timeout} s:\n"
                           f"{self.log_tail()}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)

    def log_tail(self, n=30):
        try:
            with open(self.log, encoding="utf-8", errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def dig(self, qtype, name, *opts, check=True):
        argv = netns_argv(self.netns) + ["dig", "@127.0.0.1", "-p", str(self.port),
                                         "+norecurse", *opts, qtype, name]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        if check and p.returncode != 0:
            raise AssertionError(f"{' '.join(argv)}: exit {p.returncode}: {p.stderr}")
        return p

    def query(self, qtype, name):
        """The data of the answer's records of qtype (sorted), e.g. ["2001:db8::1"]."""
        out = self.dig(qtype, name, "+noall", "+answer").stdout
        got = []
        for line in out.splitlines():
            f = line.split()
            if len(f) >= 5 and f[3] == qtype:
                got.append(" ".join(f[4:]))
        return sorted(got)

    def serial(self, zone):
        """The zone's SOA serial."""
        soa = self.query("SOA", zone.rstrip(".") + ".")
        return int(soa[0].split()[2]) if soa else None

    def ptr(self, addr):
        import ipaddress
        return self.query("PTR", ipaddress.IPv6Address(addr).reverse_pointer + ".")


class Dnsmasq(Server):
    """dnsmasq --hostsdir: serves the hosts files v6pd writes (AAAA and PTR)."""

    name = "dnsmasq"

    def __init__(self, workdir, zone, netns=None):
        super().__init__(workdir, netns)
        self.zone = zone.rstrip(".")
        self.hostsdir = os.path.join(self.dir, "hosts")
        os.makedirs(self.hostsdir)
        os.chmod(self.hostsdir, 0o755)

    def argv(self):
        return ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
                "--no-hosts", "--no-poll", "--listen-address=127.0.0.1", "--bind-interfaces",
                f"--port={self.port}", f"--hostsdir={self.hostsdir}",
                f"--local=/{self.zone}/", "--local=/ip6.arpa/", "--pid-file=",
                "--log-facility=-", "--user=nobody"]

    def ready_name(self):
        return self.zone + "."


class PowerDNS(Server):
    """PowerDNS 4.7 with the gsqlite3 backend, its HTTP API and RFC 2136 updates."""

    name = "pdns"

    def __init__(self, workdir, netns=None):
        super().__init__(workdir, netns)
        self.api_port = free_port(netns)
        self.api_key = secrets.token_hex(16)
        self.db = os.path.join(self.dir, "pdns.sqlite3")
        con = sqlite3.connect(self.db)
        with open(PDNS_SCHEMA, encoding="utf-8") as f:
            con.executescript(f.read())
        con.close()
        self.zones = []
        with open(os.path.join(self.dir, "pdns.conf"), "w", encoding="utf-8") as f:
            f.write(f"""launch=gsqlite3
gsqlite3-database={self.db}
local-address=127.0.0.1:{self.port}
daemon=no
guardian=no
api=yes
api-key={self.api_key}
webserver=yes
webserver-address=127.0.0.1
webserver-port={self.api_port}
webserver-allow-from=127.0.0.1,::1
dnsupdate=yes
allow-dnsupdate-from=127.0.0.1/32,::1/128
socket-dir={self.dir}
security-poll-suffix=
""")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.api_port}"

    def argv(self):
        return ["pdns_server", f"--config-dir={self.dir}"]

    def ready(self):
        try:
            self.api("GET", "")
            return True
        except Exception:
            return False

    def api(self, method, path, body=None):
        """The API, reached through the server's netns: `ip netns exec` runs a Python one."""
        url = f"{self.url}/api/v1/servers/localhost{path}"
        if self.netns:
            code = ("import sys,urllib.request as u;r=u.Request(sys.argv[1],data=sys.stdin.buffer"
                    ".read() or None,method=sys.argv[2],headers={'X-API-Key':sys.argv[3],"
                    "'Content-Type':'application/json'});\ntry:\n o=u.urlopen(r,timeout=5)\n"
                    " sys.stdout.write(str(o.status)+'\\n'+o.read().decode())\nexcept "
                    "u.HTTPError as e:\n sys.stdout.write(str(e.code)+'\\n'+e.read().decode())")
            p = subprocess.run(netns_argv(self.netns) + ["python3", "-c", code, url, method,
                                                         self.api_key],
                               input=json.dumps(body).encode() if body is not None else b"",
                               capture_output=True, timeout=30)
            if p.returncode != 0:
                raise RuntimeError(p.stderr.decode())
            status, _, text = p.stdout.decode().partition("\n")
            status = int(status)
        else:
            req = urllib.request.Request(url, method=method,
                                         data=json.dumps(body).encode() if body is not None
                                         else None,
                                         headers={"X-API-Key": self.api_key,
                                                  "Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=5) as o:
                    status, text = o.status, o.read().decode()
            except urllib.error.HTTPError as e:
                status, text = e.code, e.read().decode()
        if status >= 300:
            raise RuntimeError(f"PowerDNS API {method} {path}: {status} {text}")
        return json.loads(text) if text.strip() else None

    def add_zone(self, zone, tsig_key=None):
        zone = zone.rstrip(".") + "."
        self.api("POST", "/zones", {"name": zone, "kind": "Native",
                                    "nameservers": ["ns1.example.net."]})
        if tsig_key:
            self.api("PUT", f"/zones/{zone}/metadata/TSIG-ALLOW-DNSUPDATE",
                     {"kind": "TSIG-ALLOW-DNSUPDATE", "metadata": [tsig_key]})
        self.zones.append(zone)

    def add_tsig_key(self, name, secret, alg="hmac-sha256"):
        self.api("POST", "/tsigkeys", {"name": name, "algorithm": alg, "key": secret})

    def api_key_file(self, path, key=None):
        return write_private(path, (key or self.api_key) + "\n")

    def ready_name(self):
        return "."


class Knot(Server):
    """Knot DNS 3.2 accepting RFC 2136 updates signed with one TSIG key."""

    name = "knot"

    def __init__(self, workdir, zones, key_name, secret, netns=None, alg="hmac-sha256"):
        super().__init__(workdir, netns)
        self.zones = [z.rstrip(".") + "." for z in zones]
        conf = [f"""server:
    rundir: "{self.dir}"
    listen: 127.0.0.1@{self.port}
    user: root:root
log:
  - target: stdout
    any: info
database:
    storage: "{self.dir}"
key:
  - id: {key_name}
    algorithm: {alg}
    secret: {secret}
acl:
  - id: update
    key: {key_name}
    action: update
template:
  - id: default
    storage: "{self.dir}"
    semantic-checks: off
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: changes
zone:"""]
        for z in self.zones:
            fname = z.rstrip(".") + ".zone"
            with open(os.path.join(self.dir, fname), "w", encoding="utf-8") as f:
                f.write(f"$ORIGIN {z}\n$TTL 300\n@ SOA ns1.example.net. hostmaster.example.net."
                        f" 1 3600 600 86400 300\n@ NS ns1.example.net.\n")
            conf.append(f"  - domain: {z}\n    file: {fname}\n    acl: update")
        with open(os.path.join(self.dir, "knot.conf"), "w", encoding="utf-8") as f:
            f.write("\n".join(conf) + "\n")

    def argv(self):
        return ["knotd", "-c", os.path.join(self.dir, "knot.conf")]

    def ready_name(self):
        return self.zones[0]


class Bind(Server):
    """BIND 9.18 accepting RFC 2136 updates signed with one TSIG key."""

    name = "named"

    def __init__(self, workdir, zones, key_name, secret, netns=None, alg="hmac-sha256"):
        super().__init__(workdir, netns)
        self.zones = [z.rstrip(".") + "." for z in zones]
        conf = [f"""options {{
    directory "{self.dir}";
    pid-file "{self.dir}/named.pid";
    listen-on port {self.port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
    notify no;
}};
key "{key_name}" {{ algorithm {alg}; secret "{secret}"; }};
controls {{ }};
"""]
        for z in self.zones:
            fname = z.rstrip(".") + ".zone"
            # the NS needs an address, or the zone silently fails to load (TESTING.md)
            with open(os.path.join(self.dir, fname), "w", encoding="utf-8") as f:
                f.write(f"$ORIGIN {z}\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 300\n"
                        f"@ NS ns1\nns1 A 127.0.0.1\n")
            conf.append(f'zone "{z}" {{ type primary; file "{fname}"; '
                        f'update-policy {{ grant {key_name} zonesub ANY; }}; }};')
        with open(os.path.join(self.dir, "named.conf"), "w", encoding="utf-8") as f:
            f.write("\n".join(conf) + "\n")

    def argv(self):
        return ["named", "-g", "-u", "root", "-c", os.path.join(self.dir, "named.conf")]

    def ready_name(self):
        return self.zones[0]


def which_missing(*tools):
    return [t for t in tools if not shutil.which(t)]
