#!/usr/bin/env bash
# Builds the air-gap test tools from test/k8s/airgap/go.mod (its `tool` directives: containerd,
# ctr, the runc shim, crictl, distribution's registry, crane; and CoreDNS from test/k8s/coredns,
# the version kubeadm 1.36 pins) into a cache outside the repo:
#   ${CDKTF_KUBEADM_CACHE:-~/.cache/cdktf-kubeadm}/airgap/bin/   (printed)
# Rebuilt only when go.mod, go.sum or the build flags change (stamp). Also our pause program
# (airgap/pause: what Kubernetes' pause image runs), stamped by its source.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
module_dir="$here/airgap"
out="${CDKTF_KUBEADM_CACHE:-$HOME/.cache/cdktf-kubeadm}/airgap"
bin="$out/bin"
build_flags="CGO_ENABLED=0 -trimpath -ldflags=-s,-w -tags=no_btrfs"
coredns_dir="$here/coredns"
stamp="$( (cat "$module_dir/go.mod" "$module_dir/go.sum" "$coredns_dir/go.mod" "$coredns_dir/go.sum"; echo "$build_flags") | sha256sum | cut -d' ' -f1)"
pause_stamp="$(sha256sum <"$module_dir/pause/main.go" | cut -d' ' -f1)"
build_pause() {
  [ "$(cat "$out/pause.stamp" 2>/dev/null)" != "$pause_stamp" ] || [ ! -x "$bin/pause" ] || return 0
  (cd "$module_dir" && CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags "-s -w" -o "$bin/pause" ./pause)
  echo "$pause_stamp" >"$out/pause.stamp"
}
if [ "$(cat "$out/stamp" 2>/dev/null)" = "$stamp" ]; then build_pause; echo "$bin"; exit 0; fi
mkdir -p "$out"
exec 9>"$out/lock"
flock 9
if [ "$(cat "$out/stamp" 2>/dev/null)" = "$stamp" ]; then build_pause; echo "$bin"; exit 0; fi
started=$(date +%s)
cd "$module_dir"
mapfile -t packages < <(sed -n '/^tool (/,/^)/{/^\t/p}' go.mod | tr -d '\t')
rm -rf "$bin.tmp"; mkdir -p "$bin.tmp"
echo "build-airgap.sh: building ${packages[*]##*/} into $bin" >&2
CGO_ENABLED=0 go build -mod=readonly -trimpath -tags no_btrfs -ldflags "-s -w" -o "$bin.tmp/" "${packages[@]}"
# CoreDNS in a module of its own: its dependencies do not build together with containerd's.
(cd "$coredns_dir" && CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags "-s -w" -o "$bin.tmp/coredns" github.com/coredns/coredns)
rm -rf "$bin"; mv "$bin.tmp" "$bin"
echo "$stamp" >"$out/stamp"
rm -f "$out/pause.stamp"
build_pause
echo "build-airgap.sh: built in $(( $(date +%s) - started )) s; $bin holds $(du -sh "$bin" | cut -f1)" >&2
echo "$bin"
