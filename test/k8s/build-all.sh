#!/usr/bin/env bash
# The real Kubernetes builds the tests use (test/support/kubernetes.ts), built once and cached
# outside the repo (test/k8s/build.sh). Cold on 2 cores: about 7 minutes for the test version, 2-3 minutes
# for each extra kubeadm, 3 for the air-gap tools; warm: well under a second.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
command -v go >/dev/null || { echo "build-all.sh: Go is needed to build Kubernetes for the tests (https://go.dev/dl/, or Debian's golang >= 1.26)" >&2; exit 1; }
# shellcheck source=test/k8s/versions.env disable=SC1091
. "$here/versions.env"
started=$(date +%s)
# The test version: every command (kubeadm, the control plane, kubelet, kube-proxy, kubectl, etcd).
bash "$here/build.sh" "v$KUBERNETES_TEST_VERSION" >/dev/null
# The newest and the oldest minor built here: kubeadm only, for config validation.
bash "$here/build.sh" "v$KUBERNETES_NEXT_VERSION" kubeadm >/dev/null
bash "$here/build.sh" "v$KUBERNETES_OLDEST_VERSION" kubeadm >/dev/null
# etcdctl and etcdutl of the etcd release the test version pins (the backup agent's tools): about 35 s cold.
bash "$here/build-tools.sh" etcd >/dev/null
# containerd, ctr, the runc shim, crictl, distribution's registry, crane, CoreDNS and our pause.
bash "$here/build-tools.sh" airgap >/dev/null
# The nodes' runtime for the VM end-to-end: containerd 2.3 (what the library installs), runc, CNI plugins.
bash "$here/build-tools.sh" node >/dev/null
# flanneld, install-conf and the flannel CNI plugin: the VM end-to-end's CNI (its images are built from them).
bash "$here/build-tools.sh" flannel >/dev/null
# OpenTofu, the second engine the Terraform tests run on (npm run test:tofu): about 4 minutes cold.
bash "$here/build-tools.sh" opentofu >/dev/null
echo "build-all.sh: Kubernetes for the tests ready in $(( $(date +%s) - started )) s (${CDKTF_KUBEADM_CACHE:-$HOME/.cache/cdktf-kubeadm}/k8s)" >&2
