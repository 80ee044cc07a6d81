"""The lingering v6pd-dns-http of a state directory, seen from the tests: found by its
command line in /proc (not by what it writes about itself), stopped by its PID.

It is started by the plugin (common/dns_spawn.c) as `v6pd-dns-http --serve
STATE_DIR/dns-http-NETNS.sock`, NETNS being the inode number of the network namespace it
serves, and, after its parent is gone, belongs to PID 1: its end is seen in /proc (gone, or a
zombie), not by waiting for it.
"""
import os
import signal

from cniserve import alive, lingering, wait_gone  # noqa: F401 (the same /proc lookups)

HELPER = "v6pd-dns-http"


def socket_path(state_dir, netns):
    """The socket of the helper serving state_dir in network namespace netns (a name under
    /run/netns, or None for this process's own)."""
    ns = f"/run/netns/{netns}" if netns else "/proc/self/ns/net"
    return os.path.join(state_dir, f"dns-http-{os.stat(ns).st_ino}.sock")


def daemons(state_dir):
    """PIDs of the lingering helpers serving a socket in state_dir, sorted."""
    return lingering(state_dir, "dns-http-", exe=HELPER)



def stop(pid, sig=signal.SIGTERM, timeout=10.0):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    if not wait_gone(pid, timeout):
        os.kill(pid, signal.SIGKILL)
        wait_gone(pid, timeout)


def stop_all(state_dir):
    """Stops every helper serving state_dir (a test's cleanup)."""
    for pid in daemons(state_dir):
        stop(pid)

IDLE_ENV = "V6PD_DNS_HTTP_IDLE"
