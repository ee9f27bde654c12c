#!/usr/bin/env bash
# Everything a fresh Debian/Ubuntu machine needs for synth and tests: the Debian packages the tests
# use as real tools (cloud-init schema, shellcheck, openssl, etcd, sshd) and the npm dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cloud-init shellcheck openssl etcd-server etcd-client openssh-server)
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

npm ci --no-audit --no-fund
