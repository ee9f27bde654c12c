#!/usr/bin/env bash
# Builds real Kubernetes commands (and etcd) of one release from test/k8s/<version>/go.mod into a
# cache outside the repo, so that only the first run pays for the build:
#   ${CDKTF_KUBEADM_CACHE:-~/.cache/cdktf-kubeadm}/k8s/<version>/bin/
# Usage: build.sh vX.Y.Z [TOOL...]   (default: every tool below). Prints the bin directory.
# A stamp over go.mod, go.sum and the build flags decides whether a cached build is still the one
# they describe; tools missing from the cache are built, the others reused.
set -euo pipefail
version="${1:?usage: build.sh vX.Y.Z [tool...]}"
shift
all_tools=(kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy etcd)
tools=("$@")
[ "${#tools[@]}" -gt 0 ] || tools=("${all_tools[@]}")
here="$(cd "$(dirname "$0")" && pwd)"
module_dir="$here/$version"
[ -f "$module_dir/go.mod" ] || { echo "build.sh: no module for $version (run test/k8s/gen-module.sh $version)" >&2; exit 1; }
cache_root="${CDKTF_KUBEADM_CACHE:-$HOME/.cache/cdktf-kubeadm}"
out="$cache_root/k8s/$version"
bin="$out/bin"
major="${version#v}"; major="${major%%.*}"
minor="${version#v*.}"; minor="${minor%%.*}"
build_flags="CGO_ENABLED=0 -trimpath -ldflags=-s,-w,version-vars"
stamp="$( (cat "$module_dir/go.mod" "$module_dir/go.sum"; echo "$build_flags") | sha256sum | cut -d' ' -f1)"

missing() {
  local tool
  if [ "$(cat "$out/stamp" 2>/dev/null)" != "$stamp" ]; then printf '%s\n' "${tools[@]}"; return; fi
  for tool in "${tools[@]}"; do [ -x "$bin/$tool" ] || echo "$tool"; done
}
[ -n "$(missing)" ] || { echo "$bin"; exit 0; }

# One builder at a time per version: parallel test runs may ask at once.
mkdir -p "$out"
exec 9>"$out/lock"
flock 9
mapfile -t todo < <(missing)
[ "${#todo[@]}" -gt 0 ] || { echo "$bin"; exit 0; }
if [ "$(cat "$out/stamp" 2>/dev/null)" != "$stamp" ]; then rm -rf "$bin" "$out/stamp"; fi

started=$(date +%s)
cd "$module_dir"
# The tag's own time keeps the binaries reproducible (and `kubeadm version` honest).
build_date="$(go mod download -json "k8s.io/kubernetes@$version" | sed -n 's/.*"Time": "\(.*\)".*/\1/p' | head -1)"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitVersion=$version"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
done
staging="$out/bin.tmp"
rm -rf "$staging"; mkdir -p "$staging"
packages=()
for tool in "${todo[@]}"; do
  case "$tool" in
    etcd) ;;
    kube*) packages+=("k8s.io/kubernetes/cmd/$tool") ;;
    *) echo "build.sh: unknown tool $tool (known: ${all_tools[*]})" >&2; exit 1 ;;
  esac
done
echo "build.sh: building ${todo[*]} $version into $bin (cold: minutes per command)" >&2
export CGO_ENABLED=0
# One `go build` for all commands: they share most packages.
[ "${#packages[@]}" -eq 0 ] || go build -mod=readonly -trimpath -ldflags "$ldflags" -o "$staging/" "${packages[@]}"
# etcd at the version k/k itself requires (what kubeadm pins as this minor's default).
if printf '%s\n' "${todo[@]}" | grep -qx etcd; then
  go build -mod=readonly -trimpath -ldflags "-s -w" -o "$staging/etcd" go.etcd.io/etcd/server/v3
fi
mkdir -p "$bin"
mv "$staging"/* "$bin/"
rmdir "$staging"
echo "$stamp" > "$out/stamp"
echo "build.sh: ${todo[*]} $version built in $(( $(date +%s) - started )) s; $bin holds $(du -sh "$bin" | cut -f1)" >&2
echo "$bin"
