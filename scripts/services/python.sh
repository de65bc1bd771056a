#!/usr/bin/env bash
# A Python virtualenv with pinned pytest for the tests under clients/python (the job reporter is
# standard library only; pytest is the only thing installed). scripts/test.sh runs pytest there
# with the interpreter this prints.
#
#   bash scripts/services/python.sh start   create the venv if missing, print NIGHTSHIFT_PYTHON=<venv python>
#   bash scripts/services/python.sh stop    nothing runs in the background
set -euo pipefail

export NIGHTSHIFT_CACHE="${NIGHTSHIFT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nightshift}"

log() { printf '[python] %s\n' "$*" >&2; }

pick_python() {
  for candidate in python3.13 python3.12 python3.11 python3.10 python3.9 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

start() {
  local python version pytest_version venv
  if ! python="$(pick_python)"; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      log "no python3 >= 3.9; installing Debian's python3"
      apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >&2
      python="$(pick_python)"
    else
      log "python3 >= 3.9 is required"
      return 1
    fi
  fi
  version="$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
  # pytest 9 needs Python 3.10; the reporter itself supports 3.9, tested there with pytest 8.
  if "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)'; then
    pytest_version="9.2.0"
  else
    pytest_version="8.4.2"
  fi
  venv="$NIGHTSHIFT_CACHE/py-venv-$version-pytest-$pytest_version"
  if [ ! -f "$venv/.nightshift-complete" ]; then
    log "creating $venv with $python"
    rm -rf "$venv"
    if ! "$python" -m venv "$venv" >&2; then
      if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "python$version-venv" >&2
        rm -rf "$venv"
        "$python" -m venv "$venv" >&2
      else
        return 1
      fi
    fi
    "$venv/bin/pip" install --quiet --disable-pip-version-check "pytest==$pytest_version" >&2
    touch "$venv/.nightshift-complete"
  fi
  log "using $("$venv/bin/python" --version) with pytest $pytest_version"
  printf 'NIGHTSHIFT_PYTHON=%s\n' "$venv/bin/python"
}

case "${1:-}" in
  start) start ;;
  stop) : ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
