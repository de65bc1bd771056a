#!/usr/bin/env bash
# Debian's Chromium for the web chat tests, driven headless by playwright-core (no browser
# download: playwright-core is pointed at this binary).
#
#   bash scripts/services/chromium.sh start   install if missing (apt, needs root), print KEY=value lines
#   bash scripts/services/chromium.sh stop    nothing to stop: each test launches its own browser
set -euo pipefail

log() { printf '[chromium] %s\n' "$*" >&2; }

find_chromium() {
  for candidate in "${NIGHTSHIFT_TEST_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then
      printf '%s\n' "$candidate"
      return 0
    fi
  done
  return 1
}

start() {
  local binary
  if ! binary="$(find_chromium)"; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      log "installing Debian's chromium"
      apt-get update -qq >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2
      binary="$(find_chromium)"
    else
      log "chromium is not installed and cannot be installed here (needs root and apt-get)"
      return 1
    fi
  fi
  # A browser that cannot start headless here is as good as none.
  if ! "$binary" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --dump-dom about:blank >/dev/null 2>&1; then
    log "$binary does not start headless"
    return 1
  fi
  log "using $("$binary" --version 2>/dev/null || echo "$binary")"
  printf 'NIGHTSHIFT_TEST_CHROMIUM=%s\n' "$binary"
}

case "${1:-}" in
  start) start ;;
  stop) : ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
