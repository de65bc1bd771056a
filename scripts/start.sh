#!/usr/bin/env bash
# The README's main command: installs what is missing, builds, and starts `nightshift serve` on
# the example workspace (examples/factory) with embedded defaults: local job backend, local
# datasets, the config repo as a local git remote, and a local MLflow server when python3 is here.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/bootstrap.sh
exec node examples/factory/workspace/run.mjs "$@"
