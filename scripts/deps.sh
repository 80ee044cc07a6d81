#!/bin/sh
# Installs what v6pd needs to build (and, with "test", to run its tests) from Debian 12's
# packages. Skips apt entirely when everything is already installed.
set -eu
# The -dev packages also carry the .a archives V6PD_STATIC links v6pd and v6pdctl against;
# zlib1g-dev is there for libz.a, which sqlite3's pkg-config --static asks for; libicu-dev
# and liblzma-dev for the archives libxml2's pkg-config --static names (v6pd-libvirt-hook).
# lld: links v6pd with its hot functions together (cni-plugin/hot.syms).
# libldns-dev: RFC 2136 + TSIG (linked); libcurl4-openssl-dev: the headers of the libcurl that
# the PowerDNS backend loads at run time. The DNS tests run pdns-server (+ sqlite3 backend),
# knot, bind9 and dnsmasq on loopback and ask them with dnsutils' dig and nsupdate (bench/dns
# reads their round trips off loopback with tcpdump). The
# renumbering tests delegate prefixes with kea-dhcp6-server to dhcpcd-base and
# isc-dhcp-client. libvirt-dev: v6pdctl's libvirt verbs use the libvirt API (only v6pdctl
# links it).
pkgs="build-essential cmake pkg-config libjansson-dev libnl-3-dev libnl-route-3-dev
libsqlite3-dev libcurl4-openssl-dev libvirt-dev libxml2-dev libssl-dev iproute2
zlib1g-dev libicu-dev liblzma-dev libldns-dev lld"
if [ "${1:-}" = demo ]; then
	pkgs="$pkgs iputils-ping util-linux"
fi
if [ "${1:-}" = test ]; then
	pkgs="$pkgs libcmocka-dev python3 sqlite3 iputils-ping util-linux procps strace
containernetworking-plugins podman runc containerd busybox-static tar golang-go
golang-github-appc-cni-dev dnsmasq-base dhcpcd-base
libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 iptables
linux-image-cloud-amd64 cpio
pdns-server pdns-backend-sqlite3 knot bind9 dnsutils tcpdump
kea-dhcp6-server isc-dhcp-client"
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
