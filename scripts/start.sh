#!/usr/bin/env bash
# The README's main command: installs what is missing, builds, and starts `nightshift serve`
# on the example workspace (examples/factory) with embedded defaults.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/bootstrap.sh
exec node packages/agent-host/bin/nightshift.js serve --workspace examples/factory "$@"
