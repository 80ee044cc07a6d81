#!/bin/sh
# Copies the plugin into the node's CNI bin dir (atomically: temp + rename, so a kubelet
# never runs a half-written binary), its PowerDNS helper v6pd-dns-http beside it (where the
# plugin looks for it; first, so a new plugin never runs without it) and v6pdctl next to
# them, then sleeps so the DaemonSet pod stays Running. The node's store lives in
# /var/lib/v6pd (a hostPath); the helper, started by the plugin, lingers there for a minute
# after its last call (its socket: /var/lib/v6pd/dns-http-*.sock). v6pd-dns-http and v6pdctl
# need the node's libjansson4 and libcurl4 (the PowerDNS API) and v6pdctl's libraries.
set -eu
cni_bin=${CNI_BIN_DIR:-/host/opt/cni/bin}
for f in v6pd-dns-http v6pd v6pdctl; do
	cp "/usr/local/lib/v6pd/$f" "$cni_bin/.$f.tmp"
	chmod 0755 "$cni_bin/.$f.tmp"
	mv -f "$cni_bin/.$f.tmp" "$cni_bin/$f"
done
echo "v6pd installed in $cni_bin"
exec sleep infinity
