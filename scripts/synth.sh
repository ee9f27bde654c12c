#!/usr/bin/env bash
# `npm run synth`: cdktf synth of the example stacks, quiet on an offline machine.
# - CHECKPOINT_DISABLE: no version check against checkpoint-api.hashicorp.com (offline it prints
#   "[ERROR] ... getaddrinfo ENOTFOUND").
# - A TF_CLI_CONFIG_FILE naming a file that does not exist only makes terraform (which the CLI asks
#   for its version) warn on every call, printed by cdktf as [ERROR]; terraform ignores such a
#   setting anyway, so it is dropped here with a note.
set -euo pipefail
cd "$(dirname "$0")/.."
export CHECKPOINT_DISABLE=1
if [ -n "${TF_CLI_CONFIG_FILE:-}" ] && [ ! -e "$TF_CLI_CONFIG_FILE" ]; then
  echo "synth: TF_CLI_CONFIG_FILE=$TF_CLI_CONFIG_FILE does not exist; ignoring it" >&2
  unset TF_CLI_CONFIG_FILE
fi
exec npx --no-install cdktf synth "$@"
