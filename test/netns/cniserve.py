"""The CNI plugin's lingering servers (`v6pd --serve`, cni-plugin/serve.h), seen from the
tests: found by their command lines in /proc (not by what they write about themselves),
stopped by their PIDs.

A server is started by a call that found none, as `v6pd --serve STATE_DIR/cni-NETNS.sock`
(NETNS: the inode of the network namespace it serves), and, once its starter is gone,
belongs to PID 1: its end is seen in /proc (gone, or a zombie), not by waiting for it.
"""
import os
import time


def _argv(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def alive(pid):
    """Running: not gone, not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def lingering(state_dir, sock_prefix, exe=None):
    """PIDs of the running `EXE --serve STATE_DIR/SOCK_PREFIX....sock` processes (any EXE when
    exe is None), found by their command lines in /proc, sorted."""
    want = os.path.realpath(state_dir)
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        a = _argv(name)
        if len(a) == 3 and (exe is None or os.path.basename(a[0]) == exe) and \
                a[1] == "--serve" and os.path.basename(a[2]).startswith(sock_prefix) and \
                os.path.realpath(os.path.dirname(a[2])) == want and alive(int(name)):
            found.append(int(name))
    return sorted(found)


def servers(state_dir):
    """PIDs of the lingering `v6pd --serve STATE_DIR/cni-NETNS.sock` servers of state_dir."""
    return lingering(state_dir, "cni-")


def wait_gone(pid, timeout=10.0):
    end = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


def stop_servers(state_dir):
    """Stops the servers of state_dir by their PIDs (SIGTERM: they finish what runs)."""
    for pid in servers(state_dir):
        try:
            os.kill(pid, 15)
        except ProcessLookupError:
            continue
        if not wait_gone(pid, 10):
            os.kill(pid, 9)
