#!/usr/bin/env bash
# The baseline of the VM e2e: Kubernetes set up by hand the way kubeadm's documentation says
# ("Installing kubeadm", "Creating a cluster with kubeadm"), no cdktf-kubeadm, on the same image
# and from the same site mirrors, so the e2e can print our overhead next to it. Run as root on a
# VM booted with an empty user-data. Prints "plain-kubeadm: <step> <seconds>" per step.
# Usage: plain-kubeadm.sh init MIRROR_URL REGISTRY VERSION POD_CIDR
#        plain-kubeadm.sh join MIRROR_URL REGISTRY VERSION ENDPOINT TOKEN CA_HASH
set -euo pipefail
role=$1 mirror=$2 registry=$3 version=$4
shift 4
minor=${version%.*}
step() { local name=$1 started=$SECONDS; shift; "$@"; echo "plain-kubeadm: $name $((SECONDS - started))"; }

prepare() {
  modprobe overlay
  modprobe br_netfilter
  printf 'net.ipv4.ip_forward = 1\nnet.bridge.bridge-nf-call-iptables = 1\n' >/etc/sysctl.d/k8s.conf
  sysctl -q --system
}
packages() {
  install -d -m 0755 /etc/apt/keyrings
  curl -fsSL "$mirror/pkgs/core:/stable:/v$minor/deb/Release.key" | gpg --batch --yes --dearmor -o /etc/apt/keyrings/kubernetes-apt-keyring.gpg
  echo "deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] $mirror/pkgs/core:/stable:/v$minor/deb/ /" >/etc/apt/sources.list.d/kubernetes.list
  curl -fsSL "$mirror/docker/debian/gpg" | gpg --batch --yes --dearmor -o /etc/apt/keyrings/docker.gpg
  echo "deb [signed-by=/etc/apt/keyrings/docker.gpg] $mirror/docker/debian bookworm stable" >/etc/apt/sources.list.d/docker.list
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "kubelet=$version-1.1" "kubeadm=$version-1.1" "kubectl=$version-1.1" containerd.io
}
runtime() {
  mkdir -p /etc/containerd
  containerd config default >/etc/containerd/config.toml
  sed -i -E 's/^(\s*SystemdCgroup\s*=).*/\1 true/' /etc/containerd/config.toml
  sed -i -E "s#^(\\s*config_path\\s*=\\s*)(\"\"|'')\\s*\$#\\1\"/etc/containerd/certs.d\"#" /etc/containerd/config.toml
  mkdir -p /etc/containerd/certs.d/registry.k8s.io
  printf 'server = "https://registry.k8s.io"\n[host."http://%s"]\n  capabilities = ["pull", "resolve"]\n' "$registry" >/etc/containerd/certs.d/registry.k8s.io/hosts.toml
  systemctl restart containerd
}
# The same TCG settings as the e2e's cluster: kubeadm's API and control-plane health timeouts, no
# leader election.
init() {
  cat >/root/kubeadm.yaml <<YAML
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
timeouts: { kubernetesAPICall: 5m, controlPlaneComponentHealthCheck: 10m }
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v$version
networking: { podSubnet: "$1" }
controllerManager: { extraArgs: [{ name: leader-elect, value: "false" }] }
scheduler: { extraArgs: [{ name: leader-elect, value: "false" }] }
YAML
  kubeadm init --config /root/kubeadm.yaml
}
join() {
  kubeadm join "$1" --token "$2" --discovery-token-ca-cert-hash "$3"
}

started=$SECONDS
step prepare prepare
step packages packages
step runtime runtime
step "kubeadm-$role" "$role" "$@"
echo "plain-kubeadm: total $((SECONDS - started))"
