#!/usr/bin/env bash
# Writes test/k8s/vX.Y.Z/go.mod (+ go.sum): a module of ours that requires k8s.io/kubernetes at one
# release and replaces every staging module with its matching v0.Y.Z, since k/k's own go.mod points
# them at ./staging and cannot be `go install`ed. Run once per version; the result is committed.
set -euo pipefail
version="${1:?usage: gen-module.sh vX.Y.Z}"
here="$(cd "$(dirname "$0")" && pwd)"
dir="$here/$version"
staging_version="v0.${version#v1.}"
mkdir -p "$dir"
cd "$dir"
rm -f go.mod go.sum
go mod init "cdktf-kubeadm.test/k8s/kubernetes-${version//./-}" 2>/dev/null
kube_mod="$(go mod download -json "k8s.io/kubernetes@$version" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
go_version="$(sed -n 's/^go //p' "$kube_mod")"
go mod edit -go="$go_version" -require="k8s.io/kubernetes@$version"
sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$kube_mod" | while read -r staging; do
  go mod edit -replace="$staging=$staging@$staging_version"
done
for tool in kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy; do
  go mod edit -tool="k8s.io/kubernetes/cmd/$tool"
done
# etcd at the version k/k itself requires (the one kubeadm pins as its default for this minor).
go mod edit -tool="go.etcd.io/etcd/server/v3"
go mod tidy
