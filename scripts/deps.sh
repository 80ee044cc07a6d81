#!/bin/sh
# Installs what v6pd needs to build (and, with "test", to run its tests) from Debian 12's
# packages. Skips apt entirely when everything is already installed.
set -eu
# The -dev packages also carry the .a archives V6PD_STATIC links v6pd and v6pdctl against;
# zlib1g-dev is there for libz.a, which sqlite3's pkg-config --static asks for.
pkgs="build-essential cmake pkg-config libjansson-dev libnl-3-dev libnl-route-3-dev
libsqlite3-dev libcurl4-openssl-dev libvirt-dev libxml2-dev libssl-dev iproute2
zlib1g-dev"
if [ "${1:-}" = demo ]; then
	pkgs="$pkgs iputils-ping"
fi
if [ "${1:-}" = test ]; then
	pkgs="$pkgs libcmocka-dev python3 sqlite3 iputils-ping util-linux procps
containernetworking-plugins podman runc containerd busybox-static tar golang-go
golang-github-appc-cni-dev"
fi
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
apt-get install -y --no-install-recommends $missing ||
	{ apt-get update && apt-get install -y --no-install-recommends $missing; }
