#!/usr/bin/env bash
# The VM image of the end-to-end test: Debian 12 (bookworm) from Debian's mirror with debootstrap,
# with what a stock cloud image has (systemd, cloud-init, the cloud kernel) plus the tools kubeadm's
# preflight and our bootstrap expect to find installed (an air-gapped site has them in its base
# image or its OS mirror). Its apt sources are emptied: the nodes reach no Debian mirror, only the
# repositories the cluster spec names. Cached by package list in
#   ${CDKTF_KUBEADM_CACHE:-~/.cache/cdktf-kubeadm}/e2e/image-<stamp>/{disk.img,vmlinuz,initrd.img}
# Prints that directory. Needs root, debootstrap and e2fsprogs.
set -euo pipefail
packages=(
  systemd-sysv udev dbus linux-image-cloud-amd64 initramfs-tools cloud-init python3-cffi-backend
  ifupdown iproute2 iptables ca-certificates curl gpg kmod conntrack ethtool socat ebtables procps
  util-linux mount e2fsprogs less openssh-server sudo
)
suite=bookworm
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
stamp="$(printf '%s\n' "$suite" "${packages[@]}" "recipe 1" | sha256sum | cut -c1-16)"
out="${CDKTF_KUBEADM_CACHE:-$HOME/.cache/cdktf-kubeadm}/e2e/image-$stamp"
if [ -s "$out/disk.img" ] && [ -s "$out/vmlinuz" ] && [ -s "$out/initrd.img" ]; then echo "$out"; exit 0; fi
mkdir -p "$out"
exec 9>"$out/lock"
flock 9
if [ -s "$out/disk.img" ] && [ -s "$out/vmlinuz" ] && [ -s "$out/initrd.img" ]; then echo "$out"; exit 0; fi
started=$(date +%s)
rootfs="$out/rootfs"
rm -rf "$rootfs"
include="$(IFS=,; echo "${packages[*]}")"
echo "build-image.sh: debootstrap $suite into $rootfs" >&2
debootstrap --variant=minbase --include="$include" "$suite" "$rootfs" "$mirror" >"$out/debootstrap.log" 2>&1 ||
  { tail -20 "$out/debootstrap.log" >&2; exit 1; }
# No Debian mirror on the nodes: the cluster's own repositories only.
rm -f "$rootfs/etc/apt/sources.list" "$rootfs"/etc/apt/sources.list.d/*
: >"$rootfs/etc/apt/sources.list"
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
# cloud-init: NoCloud only (no network probing of other datasources), the serial console for logs.
printf 'datasource_list: [ NoCloud, None ]\n' >"$rootfs/etc/cloud/cloud.cfg.d/90-cdktf-kubeadm-e2e.cfg"
echo "/dev/vda / ext4 defaults 0 1" >"$rootfs/etc/fstab"
ln -sf /lib/systemd/system/serial-getty@.service "$rootfs/etc/systemd/system/getty.target.wants/serial-getty@ttyS0.service"
cp -L "$rootfs/vmlinuz" "$out/vmlinuz"
cp -L "$rootfs/initrd.img" "$out/initrd.img"
rm -f "$out/disk.img"
mkfs.ext4 -q -L root -d "$rootfs" "$out/disk.img" 8G
rm -rf "$rootfs"
echo "build-image.sh: image built in $(( $(date +%s) - started )) s: $(du -sh --apparent-size "$out/disk.img" | cut -f1) (sparse: $(du -sh "$out/disk.img" | cut -f1))" >&2
echo "$out"
