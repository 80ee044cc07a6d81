#!/bin/sh
# Copies the plugin into the node's CNI bin dir (atomically: temp + rename, so a kubelet
# never runs a half-written binary) and v6pdctl next to it, then sleeps so the DaemonSet pod
# stays Running. The node's store lives in /var/lib/v6pd (a hostPath).
set -eu
cni_bin=${CNI_BIN_DIR:-/host/opt/cni/bin}
for f in v6pd v6pdctl; do
	cp "/usr/local/lib/v6pd/$f" "$cni_bin/.$f.tmp"
	chmod 0755 "$cni_bin/.$f.tmp"
	mv -f "$cni_bin/.$f.tmp" "$cni_bin/$f"
done
echo "v6pd installed in $cni_bin"
exec sleep infinity
