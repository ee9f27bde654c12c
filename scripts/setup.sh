#!/usr/bin/env bash
# Everything a fresh Debian/Ubuntu machine needs for synth and tests: the Debian packages the tests
# use as real tools (cloud-init schema, shellcheck, openssl, etcd, sshd, ip/unshare for the
# real-Kubernetes node namespaces) and the npm dependencies. npm test builds Kubernetes itself
# (test/k8s/build-all.sh: Go from the machine, modules from the Go proxy).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cloud-init shellcheck openssl etcd-server etcd-client openssh-server iproute2 util-linux
  # the VM end-to-end: image (debootstrap), VMs (QEMU, TCG), seed ISOs, package mirrors, runc's libseccomp
  debootstrap qemu-system-x86 qemu-utils genisoimage apt-utils gnupg libseccomp-dev pkg-config
  # the e2e's images: the userland kube-proxy and flannel exec (iptables), a shell and HTTP for test pods
  iptables busybox-static)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# --- Python test tools (moto, boto3): a project venv, pinned -----------------------------------
# The apply tests run moto (the AWS API emulator) and boto3 from .venv-test/ only, never from the
# PATH. requirements-test.txt pins every package with hashes; the venv is rebuilt when that file
# changes (the stamp holds its sha256) and left alone otherwise.
venv=.venv-test
want="$(sha256sum requirements-test.txt | cut -d' ' -f1)"
if [ "$(cat "$venv/.requirements-sha256" 2>/dev/null)" != "$want" ]; then
  python=""
  for candidate in "${PYTHON:-}" python3 /usr/bin/python3; do
    if [ -n "$candidate" ] && "$candidate" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
      python="$candidate"
      break
    fi
  done
  if [ -z "$python" ]; then
    echo "setup: no python3 (>= 3.9, with venv and ensurepip) found; install python3-venv or set PYTHON" >&2
    exit 1
  fi
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes -r requirements-test.txt
  echo "$want" >"$venv/.requirements-sha256"
fi
# --- end of Python test tools ------------------------------------------------------------------

npm ci --no-audit --no-fund
