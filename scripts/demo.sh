#!/bin/sh
# The demo behind ./run-demo: three throwaway containers (network namespaces) attached
# through the real v6pd CNI plugin, exactly as a runtime calls it, on the embedded default:
# the prefix 2001:db8:1200::/56 and the SQLite store. Everything runs inside a "host"
# namespace of its own, so the machine's links and sysctls are left as they were.
set -eu
BIN=${1:?usage: demo.sh BUILD_BIN_DIR}
BIN=$(cd "$BIN" && pwd)
PREFIX=2001:db8:1200::/56
tag=v6demo$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
host=${tag}-host
state=$(mktemp -d /tmp/v6pd-demo.XXXXXX)
names="web1 web2 db1"

cleanup() {
	# the plugin's lingering server (v6pd --serve), by the PID in its lock file
	for lock in "$state"/cni-*.lock; do
		[ -s "$lock" ] && kill "$(cat "$lock")" 2>/dev/null || true
	done
	for n in $names; do ip netns del "${tag}-$n" 2>/dev/null || true; done
	ip netns del "$host" 2>/dev/null || true
	rm -rf "$state"
}
trap cleanup EXIT INT TERM

conf='{"cniVersion":"1.1.0","name":"demo","type":"v6pd","mode":"bridge","stateDir":"'$state'"}'

# cni VERB CONTAINER_ID NAME: one plugin call, as containerd or Podman makes it (in the
# host netns, in the caller's mount namespace: the first call starts the plugin's lingering
# server, which runs the next ones).
cni() {
	printf '%s' "$conf" | nsenter --net="/run/netns/$host" env CNI_COMMAND="$1" CNI_CONTAINERID="$2" \
		CNI_NETNS="/run/netns/${tag}-$3" CNI_IFNAME=eth0 CNI_PATH="$BIN" \
		CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAME=$3" "$BIN/v6pd"
}

addr_of() {
	ip netns exec "${tag}-$1" ip -6 -o addr show dev eth0 scope global |
		awk '{ sub("/.*", "", $4); print $4 }'
}

attach_all() {
	for n in $names; do
		cni ADD "$n-$1" "$n" >/dev/null
		printf '  %-5s %s\n' "$n" "$(addr_of "$n")"
	done
}

ip netns add "$host"
for n in $names; do ip netns add "${tag}-$n"; done
# v6pdctl runs where the plugin does: a renumbering moves the bridge's gateway there too.
ctl() { ip netns exec "$host" "$BIN/v6pdctl" --state-dir "$state" "$@"; }

echo "== the host's delegated prefix"
ctl prefix set "$PREFIX"
echo
echo "== attach three containers (CNI ADD through $BIN/v6pd)"
attach_all first
first=$(for n in $names; do addr_of "$n"; done)
echo
echo "== web1 pings the others over their global addresses"
for n in web2 db1; do
	ip netns exec "${tag}-web1" ping -6 -c 1 -W 2 "$(addr_of "$n")" >/dev/null
	echo "  web1 -> $n ($(addr_of "$n")): ok"
done
echo
echo "== detach all (CNI DEL), then attach again as new containers with the same names"
for n in $names; do cni DEL "$n-first" "$n"; done
attach_all second
second=$(for n in $names; do addr_of "$n"; done)
if [ "$first" = "$second" ]; then
	echo "  same addresses as before"
else
	echo "  ADDRESSES CHANGED" >&2
	exit 1
fi
echo
echo "== the ISP delegates a new prefix: every container moves in place, same interface identifier"
ctl prefix set 2001:db8:4500::/56
for n in $names; do
	printf '  %-5s %s\n' "$n" "$(ip netns exec "${tag}-$n" ip -6 -o addr show dev eth0 scope global |
		awk '{ d = ($0 ~ /deprecated/) ? " (old, deprecated)" : ""; printf "%s%s  ", $4, d }')"
done
new_web2=$(ip netns exec "${tag}-web2" ip -6 -o addr show dev eth0 scope global -deprecated |
	awk '{ sub("/.*", "", $4); print $4 }')
ip netns exec "${tag}-web1" ping -6 -c 1 -W 2 "$new_web2" >/dev/null
echo "  web1 -> web2 at its new address ($new_web2): ok, no restart"
ip netns exec "$host" ping -6 -c 1 -W 2 "$new_web2" >/dev/null
echo "  host -> web2 at its new address: ok (the bridge carries the new slice's ::1)"
ctl prefix set "$PREFIX" >/dev/null
echo
echo "== v6pdctl leases"
ctl leases
for n in $names; do cni DEL "$n-second" "$n"; done
echo
echo "== after DEL the leases stay reserved for their names (retention 7d)"
ctl leases
