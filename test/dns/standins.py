"""Stand-ins for what no real DNS server does on purpose, for the DNS failure tests: a path
that black-holes packets and one that truncates every UDP answer. Each runs as its own
process in the test's host netns (`ip netns exec NS python3 standins.py MODE ...`), prints
"ready" once listening, and on SIGTERM prints what it saw as JSON and exits.

  blackhole PORT            UDP: reads and drops every datagram. TCP: accepts nothing (the
                            kernel completes handshakes into the backlog; no byte is read
                            or answered).
  truncate PORT UPSTREAM    UDP: answers every query with its own header, QR and TC set and
                            nothing else (RFC 1035 4.1.1: "truncated"), so the client must
                            retry over TCP. TCP: relays each connection to 127.0.0.1:UPSTREAM
                            (the real server).
"""
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


class StandIn:
    """The process, seen from the test: start() waits for "ready", stop() returns the
    counts it printed."""

    def __init__(self, netns, mode, *args):
        self.argv = ["ip", "netns", "exec", netns, sys.executable,
                     os.path.join(HERE, "standins.py"), mode, *map(str, args)]
        self.proc = None

    def start(self, timeout=10):
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, text=True)
        end = time.monotonic() + timeout
        line = self.proc.stdout.readline()
        if line.strip() != "ready" or time.monotonic() > end:
            self.stop()
            raise RuntimeError(f"{' '.join(self.argv)}: not ready ({line!r})")
        return self

    def stop(self):
        if not self.proc:
            return {}
        if self.proc.poll() is None:
            self.proc.terminate()
        out, _ = self.proc.communicate(timeout=15)
        self.proc = None
        return json.loads(out) if out.strip() else {}


def listeners(port):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", port))
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind(("127.0.0.1", port))
    t.listen(64)
    return u, t


def blackhole(port):
    seen = {"udp": 0}
    u, t = listeners(port)
    sel = selectors.DefaultSelector()
    sel.register(u, selectors.EVENT_READ)

    def on_event(key):
        u.recvfrom(65536)
        seen["udp"] += 1

    return sel, seen, on_event, t


def truncate(port, upstream):
    seen = {"udp": 0, "tcp": 0}
    u, t = listeners(port)
    sel = selectors.DefaultSelector()
    sel.register(u, selectors.EVENT_READ, "udp")
    sel.register(t, selectors.EVENT_READ, "accept")
    peers = {}

    def on_event(key):
        if key.data == "udp":
            data, addr = u.recvfrom(65536)
            seen["udp"] += 1
            if len(data) >= 12:
                flags = data[2] | 0x80 | 0x02      # QR, TC
                u.sendto(data[:2] + bytes([flags, data[3] & 0xf0]) + bytes(8), addr)
        elif key.data == "accept":
            c, _ = t.accept()
            seen["tcp"] += 1
            up = socket.create_connection(("127.0.0.1", upstream))
            peers[c], peers[up] = up, c
            sel.register(c, selectors.EVENT_READ, "relay")
            sel.register(up, selectors.EVENT_READ, "relay")
        else:
            s = key.fileobj
            data = s.recv(65536)
            other = peers.get(s)
            if data and other:
                other.sendall(data)
                return
            for x in (s, other):
                if x and x in peers:
                    sel.unregister(x)
                    peers.pop(x, None)
                    x.close()

    return sel, seen, on_event, t


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    if mode == "blackhole":
        sel, seen, on_event, _ = blackhole(port)
    elif mode == "truncate":
        sel, seen, on_event, _ = truncate(port, int(sys.argv[3]))
    else:
        sys.exit(f"standins.py: unknown mode {mode}")
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    print("ready", flush=True)
    while not stop:
        for key, _ in sel.select(timeout=0.1):
            on_event(key)
    print(json.dumps(seen), flush=True)


if __name__ == "__main__":
    main()
