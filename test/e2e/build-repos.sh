#!/usr/bin/env bash
# The air-gapped package mirrors of the end-to-end test, built from our binaries with pkgs.k8s.io's
# and Docker's names, layout and version scheme, signed with a test key (as a company mirror
# re-signs what it mirrors):
#   <out>/pkgs/core:/stable:/v1.NN/deb/   kubeadm, kubelet, kubectl (X.Y.Z-1.1), cri-tools,
#                                         kubernetes-cni; Release, InRelease, Release.key (flat repo)
#   <out>/docker/debian/                  containerd.io (containerd, ctr, shim, runc), dists/bookworm/
#                                         stable, gpg
#   <out>/signing-key.fingerprint         the key's primary fingerprint (the cluster spec's setting;
#                                         one key for every version, kept in <cache>/e2e/signing-key)
# Usage: build-repos.sh VERSION (e.g. 1.36.3). Prints <out>. Cached by its inputs.
set -euo pipefail
version="${1:?usage: build-repos.sh X.Y.Z}"
minor="${version%.*}"
here="$(cd "$(dirname "$0")" && pwd)"
cache="${CDKTF_KUBEADM_CACHE:-$HOME/.cache/cdktf-kubeadm}"
k8s="$cache/k8s/v$version/bin"
node="$cache/node/bin"
airgap="$cache/airgap/bin"
for f in "$k8s/kubeadm" "$k8s/kubelet" "$k8s/kubectl" "$node/runc" "$node/containerd" "$node/bridge" "$airgap/crictl"; do
  [ -x "$f" ] || { echo "build-repos.sh: $f is missing: run test/k8s/build-all.sh and test/k8s/build-tools.sh node" >&2; exit 1; }
done
# One signing key for every version's mirror (a site re-signs all it mirrors with one key, and the
# cluster spec names one fingerprint across an upgrade), made once.
export GNUPGHOME="$cache/e2e/signing-key"
mkdir -p "$cache/e2e"
(
  flock 9
  if [ ! -s "$GNUPGHOME/fingerprint" ]; then
    rm -rf "$GNUPGHOME"; mkdir -m 700 "$GNUPGHOME"
    gpg --batch --quiet --passphrase '' --quick-gen-key "cdktf-kubeadm e2e mirror <e2e@cdktf-kubeadm.test>" ed25519 sign never
    gpg --batch --with-colons --list-keys | awk -F: '$1=="fpr"{print $10; exit}' >"$GNUPGHOME/fingerprint"
  fi
) 9>"$cache/e2e/signing-key.lock"
fingerprint="$(cat "$GNUPGHOME/fingerprint")"
stamp="$( (cat "$0" "$k8s/../stamp" "$node/../stamp" "$airgap/../stamp"; echo "$fingerprint") | sha256sum | cut -c1-16)"
out="$cache/e2e/repos-$version-$stamp"
if [ -s "$out/signing-key.fingerprint" ]; then echo "$out"; exit 0; fi
rm -rf "$out.tmp"; mkdir -p "$out.tmp"
work="$out.tmp"

# mkdeb DIR NAME VERSION DEPENDS CONFLICTS SRC:DEST...
mkdeb() {
  local dir=$1 name=$2 deb_version=$3 depends=$4 conflicts=$5 root spec
  shift 5
  root="$work/deb-$name"
  rm -rf "$root"; mkdir -p "$root/DEBIAN"
  for spec in "$@"; do
    mkdir -p "$root/$(dirname "${spec#*:}")"
    cp "${spec%%:*}" "$root/${spec#*:}"
  done
  {
    echo "Package: $name"
    echo "Version: $deb_version"
    echo "Architecture: amd64"
    echo "Maintainer: cdktf-kubeadm e2e <e2e@cdktf-kubeadm.test>"
    [ -z "$depends" ] || echo "Depends: $depends"
    [ -z "$conflicts" ] || echo "Conflicts: $conflicts"
    echo "Description: $name built from source for the cdktf-kubeadm end-to-end test"
  } >"$root/DEBIAN/control"
  mkdir -p "$dir"
  dpkg-deb --root-owner-group -Zgzip --build "$root" "$dir/${name}_${deb_version}_amd64.deb" >/dev/null
  rm -rf "$root"
}
units="$here/units"
pkgs="$work/pkgs/core:/stable:/v$minor/deb"
mkdeb "$pkgs" kubeadm "$version-1.1" "cri-tools (>= 1.30.0)" "" "$k8s/kubeadm:usr/bin/kubeadm" "$units/10-kubeadm.conf:usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf"
mkdeb "$pkgs" kubelet "$version-1.1" "kubernetes-cni (>= 1.2.0), iptables, mount" "" "$k8s/kubelet:usr/bin/kubelet" "$units/kubelet.service:usr/lib/systemd/system/kubelet.service"
mkdeb "$pkgs" kubectl "$version-1.1" "" "" "$k8s/kubectl:usr/bin/kubectl"
mkdeb "$pkgs" cri-tools "1.37.0-1.1" "" "" "$airgap/crictl:usr/bin/crictl"
cni=()
for plugin in bridge host-local loopback portmap bandwidth; do cni+=("$node/$plugin:opt/cni/bin/$plugin"); done
mkdeb "$pkgs" kubernetes-cni "1.10.0-1.1" "" "" "${cni[@]}"
docker="$work/docker/debian"
mkdeb "$docker/pool/stable/c" containerd.io "2.3.7-1~debian.12~bookworm" "libseccomp2" "containerd, runc" \
  "$node/containerd:usr/bin/containerd" "$node/ctr:usr/bin/ctr" "$node/containerd-shim-runc-v2:usr/bin/containerd-shim-runc-v2" \
  "$node/runc:usr/bin/runc" "$units/containerd.service:lib/systemd/system/containerd.service"

sign() { # DIR: Release -> InRelease, Release.gpg
  gpg --batch --yes --quiet --clearsign -o "$1/InRelease" "$1/Release"
  gpg --batch --yes --quiet -abs -o "$1/Release.gpg" "$1/Release"
}
(cd "$pkgs" && apt-ftparchive packages . >Packages && gzip -9kn Packages && apt-ftparchive release . >Release)
sign "$pkgs"
gpg --batch --armor --export "$fingerprint" >"$pkgs/Release.key"
dist="$docker/dists/bookworm"
mkdir -p "$dist/stable/binary-amd64"
(cd "$docker" && apt-ftparchive packages pool/stable >"dists/bookworm/stable/binary-amd64/Packages" && gzip -9kn "dists/bookworm/stable/binary-amd64/Packages")
apt-ftparchive -o APT::FTPArchive::Release::Origin=Docker -o APT::FTPArchive::Release::Suite=bookworm \
  -o APT::FTPArchive::Release::Codename=bookworm -o APT::FTPArchive::Release::Components=stable \
  -o APT::FTPArchive::Release::Architectures=amd64 release "$dist" >"$work/Release.docker"
mv "$work/Release.docker" "$dist/Release"
sign "$dist"
gpg --batch --armor --export "$fingerprint" >"$docker/gpg"
echo "$fingerprint" >"$work/signing-key.fingerprint"
rm -rf "$out"; mv "$work" "$out"
echo "$out"
