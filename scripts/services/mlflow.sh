#!/usr/bin/env bash
# A real MLflow tracking server for the mlflow-client and mcp-mlflow tests, plus a second one
# running MLflow's basic-auth app so the credential path is exercised against the real thing.
#
#   bash scripts/services/mlflow.sh start   install (cached), start both, print KEY=value lines
#   bash scripts/services/mlflow.sh stop    stop what start began
#
# The venv lives outside the repo under $NIGHTSHIFT_CACHE, keyed by the pinned version, so a
# fresh machine pays the pip install once. `mlflow[auth]` (not mlflow-skinny, which cannot serve a
# SQL store) brings Flask, SQLAlchemy, alembic and the basic-auth app's Flask-WTF.
set -euo pipefail

MLFLOW_VERSION="3.17.2"
export NIGHTSHIFT_CACHE="${NIGHTSHIFT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nightshift}"
RUN_DIR="${NIGHTSHIFT_RUN_DIR:-${TMPDIR:-/tmp}/nightshift-services}/mlflow"
VENV="$NIGHTSHIFT_CACHE/mlflow-venv-$MLFLOW_VERSION"
# Migrations on a new SQLite database take a while on two cores; give the first start room.
START_TIMEOUT="${NIGHTSHIFT_MLFLOW_START_TIMEOUT:-240}"
ADMIN_USER="admin"

log() { printf '[mlflow] %s\n' "$*" >&2; }

pick_python() {
  for candidate in "${NIGHTSHIFT_PYTHON:-}" python3.12 python3.11 python3.10 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

install() {
  # The marker is written last, so an interrupted install is redone rather than half-used.
  if [ -f "$VENV/.nightshift-complete" ] && [ -x "$VENV/bin/mlflow" ]; then
    return 0
  fi
  local python
  if ! python="$(pick_python)"; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      log "no python3 >= 3.10; installing Debian's python3"
      apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >&2
      python="$(pick_python)"
    else
      log "python3 >= 3.10 is required"
      return 1
    fi
  fi
  log "installing mlflow[auth]==$MLFLOW_VERSION into $VENV with $python"
  # A venv is not relocatable (its scripts carry absolute shebangs): build it at its final path.
  rm -rf "$VENV"
  if ! "$python" -m venv "$VENV" >&2; then
    # Debian ships venv (ensurepip) as a separate package.
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      local minor
      minor="$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
      apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "python$minor-venv" >&2
      rm -rf "$VENV"
      "$python" -m venv "$VENV" >&2
    else
      return 1
    fi
  fi
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "mlflow[auth]==$MLFLOW_VERSION" >&2
  touch "$VENV/.nightshift-complete"
}

free_port() {
  "$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_healthy() {
  local uri="$1" pid="$2" logfile="$3" waited=0
  # The venv's Python polls, so the script needs no curl on a fresh machine.
  until "$VENV/bin/python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$uri/health" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "server at $uri exited; last log lines:"
      tail -n 30 "$logfile" >&2 || true
      return 1
    fi
    if [ "$waited" -ge "$START_TIMEOUT" ]; then
      log "server at $uri not healthy after ${START_TIMEOUT}s"
      tail -n 30 "$logfile" >&2 || true
      return 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
  log "server at $uri healthy after ${waited}s"
}

# start_server NAME PORT [extra args...]
start_server() {
  local name="$1" port="$2"
  shift 2
  local dir="$RUN_DIR/$name"
  mkdir -p "$dir/artifacts"
  # Job execution (huey workers for the GenAI features) is not needed by clients and costs
  # processes on a small CI machine.
  # setsid: the server runs in its own process group so stop can end uvicorn and its workers.
  (
    cd "$dir"
    MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false exec setsid "$VENV/bin/mlflow" server --host 127.0.0.1 --port "$port" \
      --backend-store-uri "sqlite:///$dir/mlflow.db" \
      --serve-artifacts --artifacts-destination "$dir/artifacts" \
      --workers 1 "$@" >"$dir/server.log" 2>&1
  ) &
  echo $! >"$dir/pid"
}

start() {
  install
  stop_servers
  rm -rf "$RUN_DIR" && mkdir -p "$RUN_DIR/plain" "$RUN_DIR/auth"
  local port auth_port
  port="$(free_port)"
  auth_port="$(free_port)"
  while [ "$auth_port" = "$port" ]; do auth_port="$(free_port)"; done

  start_server plain "$port"

  # MLflow ships no default admin password and refuses the old documented one: make one per run.
  local admin_password
  admin_password="ns-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
  cat >"$RUN_DIR/auth/basic_auth.ini" <<EOF
[mlflow]
default_permission = READ
database_uri = sqlite:///$RUN_DIR/auth/basic_auth.db
admin_username = $ADMIN_USER
admin_password = $admin_password
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
# Without the cache every request pays a PBKDF2 hash check: slow on a busy two-core machine.
auth_cache_ttl_seconds = 60
EOF
  MLFLOW_AUTH_CONFIG_PATH="$RUN_DIR/auth/basic_auth.ini" \
    MLFLOW_FLASK_SERVER_SECRET_KEY="nightshift-test-$(date +%s%N)" \
    start_server auth "$auth_port" --app-name basic-auth

  wait_healthy "http://127.0.0.1:$port" "$(cat "$RUN_DIR/plain/pid")" "$RUN_DIR/plain/server.log"
  wait_healthy "http://127.0.0.1:$auth_port" "$(cat "$RUN_DIR/auth/pid")" "$RUN_DIR/auth/server.log"

  echo "NIGHTSHIFT_TEST_MLFLOW_URI=http://127.0.0.1:$port"
  echo "NIGHTSHIFT_TEST_MLFLOW_AUTH_URI=http://127.0.0.1:$auth_port"
  echo "NIGHTSHIFT_TEST_MLFLOW_AUTH_USERNAME=$ADMIN_USER"
  echo "NIGHTSHIFT_TEST_MLFLOW_AUTH_PASSWORD=$admin_password"
  echo "NIGHTSHIFT_TEST_MLFLOW_VERSION=$MLFLOW_VERSION"
  # MLflow depends on numpy, so its venv also runs the example trainer in the end-to-end tests.
  echo "NIGHTSHIFT_TEST_TRAINER_PYTHON=$VENV/bin/python"
}

stop_servers() {
  local name pid
  for name in plain auth; do
    [ -f "$RUN_DIR/$name/pid" ] || continue
    pid="$(cat "$RUN_DIR/$name/pid")"
    # The subshell exec'd setsid, which exec'd mlflow: pid leads its own process group.
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    rm -f "$RUN_DIR/$name/pid"
  done
}

case "${1:-}" in
start) start ;;
stop) stop_servers ;;
*)
  echo "usage: $0 start|stop" >&2
  exit 2
  ;;
esac
