#!/usr/bin/env bash
# The README's test command. On a fresh machine it installs what is missing (Node, pnpm,
# dependencies), starts the real services the tests use on 127.0.0.1 (scripts/services/*.sh),
# runs every test runner, and ends with one line: "N passed, N failed, N skipped".
#
#   bash scripts/test.sh                 everything
#   bash scripts/test.sh --filter @nightshift/mcp-git   one package (turbo filter)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/bootstrap.sh

export NIGHTSHIFT_RUN_DIR="${NIGHTSHIFT_RUN_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/nightshift-test.XXXXXX")}"
mkdir -p "$NIGHTSHIFT_RUN_DIR"
results="$PWD/.test-results"
rm -rf "$results" && mkdir -p "$results"
env_file="$NIGHTSHIFT_RUN_DIR/services.env"
: >"$env_file"

started=()
stop_services() {
  for name in "${started[@]}"; do
    bash "scripts/services/$name.sh" stop >/dev/null 2>&1 || true
  done
}
trap stop_services EXIT

# Each service script prints KEY=value lines (the settings tests read) on stdout and logs to
# stderr. A service that cannot start here is fatal in CI and skips its tests elsewhere.
for script in scripts/services/*.sh; do
  [ -e "$script" ] || continue
  name="$(basename "$script" .sh)"
  if [ -n "${NIGHTSHIFT_SERVICES:-}" ] && [[ ",$NIGHTSHIFT_SERVICES," != *",$name,"* ]]; then continue; fi
  echo "[test] starting service: $name" >&2
  if bash "$script" start >"$NIGHTSHIFT_RUN_DIR/$name.env" 2>"$NIGHTSHIFT_RUN_DIR/$name.log"; then
    started+=("$name")
    cat "$NIGHTSHIFT_RUN_DIR/$name.env" >>"$env_file"
  else
    echo "[test] service $name did not start; its log: $NIGHTSHIFT_RUN_DIR/$name.log" >&2
    tail -n 20 "$NIGHTSHIFT_RUN_DIR/$name.log" >&2 || true
    # Whatever it started before failing is stopped too.
    bash "$script" stop >/dev/null 2>&1 || true
    if [ "${NIGHTSHIFT_REQUIRE_SERVICES:-0}" = 1 ]; then exit 1; fi
  fi
done
set -a
# shellcheck disable=SC1090
. "$env_file"
set +a

status=0
pnpm exec turbo run test --concurrency=1 --output-logs=full "$@" || status=$?

# Python runners (the job reporter and anything else under clients/python).
if [ -z "${1:-}" ] && [ -d clients/python ] && [ -x "${NIGHTSHIFT_PYTHON:-/nonexistent}" ]; then
  (cd clients/python && "$NIGHTSHIFT_PYTHON" -m pytest -q --junitxml="$results/pytest.xml") || status=$?
fi

node scripts/test-summary.mjs "$results" || status=$?
exit "$status"
