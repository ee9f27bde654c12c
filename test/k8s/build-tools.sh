#!/usr/bin/env bash
# Builds the `tool` directives of test/k8s/<set>/go.mod (and of the modules its build.env names)
# into a cache outside the repo, rebuilt only when a go.mod, go.sum or build.env changes:
#   ${CDKTF_KUBEADM_CACHE:-~/.cache/cdktf-kubeadm}/<set>/bin/   (printed)
# build.env (optional): TAGS (build tags), CGO_TOOLS (tools that need cgo, e.g. runc),
# MODULES (more module directories under test/k8s, for tools whose dependencies clash),
# PACKAGES (packages of the set's own module, e.g. ./pause), GENERATED (packages of the set's
# module that build.env's generate() writes from upstream source before the build: gitignored),
# LDFLAGS (more linker flags, e.g. -X for a version string).
set -euo pipefail
set_name="${1:?usage: build-tools.sh <set>   (a directory under test/k8s)}"
here="$(cd "$(dirname "$0")" && pwd)"
module_dir="$here/$set_name"
[ -f "$module_dir/go.mod" ] || { echo "build-tools.sh: no $module_dir/go.mod" >&2; exit 1; }
TAGS="" CGO_TOOLS="" MODULES="" PACKAGES="" GENERATED="" LDFLAGS=""
# shellcheck source=/dev/null
[ ! -f "$module_dir/build.env" ] || . "$module_dir/build.env"
out="${CDKTF_KUBEADM_CACHE:-$HOME/.cache/cdktf-kubeadm}/$set_name"
bin="$out/bin"
inputs=("$module_dir/go.mod" "$module_dir/go.sum")
[ ! -f "$module_dir/build.env" ] || inputs+=("$module_dir/build.env")
for m in $MODULES; do inputs+=("$here/$m/go.mod" "$here/$m/go.sum"); done
for p in $PACKAGES; do inputs+=("$module_dir/$p"/*.go); done
stamp="$( (cat "${inputs[@]}"; echo "-trimpath -ldflags=-s,-w") | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$out/stamp" 2>/dev/null)" = "$stamp" ]; then echo "$bin"; exit 0; fi
mkdir -p "$out"
exec 9>"$out/lock"
flock 9
if [ "$(cat "$out/stamp" 2>/dev/null)" = "$stamp" ]; then echo "$bin"; exit 0; fi
started=$(date +%s)
staging="$bin.tmp"
rm -rf "$staging"; mkdir -p "$staging"
tools_of() { sed -n '/^tool (/,/^)/{/^\t/p}' "$1/go.mod" | tr -d '\t'; sed -n 's/^tool \([^(].*\)$/\1/p' "$1/go.mod"; }
build() { # DIR CGO PACKAGE...
  local dir=$1 cgo=$2
  shift 2
  [ "$#" -gt 0 ] || return 0
  (cd "$dir" && CGO_ENABLED=$cgo go build -mod=readonly -trimpath -tags "$TAGS" -ldflags "-s -w $LDFLAGS" -o "$staging/" "$@")
}
mapfile -t tools < <(tools_of "$module_dir")
plain=() cgo=()
for t in "${tools[@]}"; do
  if [[ " $CGO_TOOLS " == *" $t "* ]]; then cgo+=("$t"); else plain+=("$t"); fi
done
echo "build-tools.sh: building $set_name (${tools[*]##*/} $MODULES $PACKAGES) into $bin" >&2
# One `go build` per kind: the tools share most packages.
build "$module_dir" 0 "${plain[@]}"
build "$module_dir" 1 "${cgo[@]}"
for m in $MODULES; do
  mapfile -t more < <(tools_of "$here/$m")
  build "$here/$m" 0 "${more[@]}"
done
[ -z "$GENERATED" ] || generate
# shellcheck disable=SC2086 # lists of package paths
build "$module_dir" 0 $PACKAGES $GENERATED
rm -rf "$bin"; mv "$staging" "$bin"
echo "$stamp" >"$out/stamp"
echo "build-tools.sh: $set_name built in $(( $(date +%s) - started )) s; $bin holds $(du -sh "$bin" | cut -f1)" >&2
echo "$bin"
