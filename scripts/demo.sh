#!/usr/bin/env bash
# `pnpm demo` for a fresh machine: installs what is missing, builds, and replays the factory
# incident through the real host and servers (see examples/factory/demo/run.mjs).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/bootstrap.sh
exec node examples/factory/demo/run.mjs "$@"
