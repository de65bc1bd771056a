#!/usr/bin/env bash
# A real Kubernetes control plane (etcd + kube-apiserver + kube-controller-manager) for the
# mcp-aiqu tests. No kubelet and no scheduler run: the tests play the kubelet's part by creating a
# Node, binding pods and writing pod status through the API.
#
#   bash scripts/services/kubernetes.sh start   build (cached), start, print KEY=value lines
#   bash scripts/services/kubernetes.sh stop    stop what start began
#   bash scripts/services/kubernetes.sh build   only build the binaries into the cache
#
# The binaries are built from the Go module proxy (no prebuilt downloads): k8s.io/kubernetes
# cannot be `go install`ed because its go.mod replaces every staging module with a local path, so
# a throwaway main module requires it and replaces each staging module with its published tag.
# Binaries land in $NIGHTSHIFT_CACHE/k8s-<version>/bin, and GOMODCACHE/GOCACHE live under
# $NIGHTSHIFT_CACHE too, so a second run on the same machine starts in seconds.
set -euo pipefail

K8S_VERSION="1.34.4"
STAGING_VERSION="0.34.4"
# Kubernetes 1.31+ assumes the health endpoints backported to etcd 3.5.11; Debian ships 3.4.
ETCD_VERSION="3.6.16"
# Used only when no Go >= 1.24 is on PATH; fetched from the Go module proxy's toolchain module.
GO_TOOLCHAIN_VERSION="1.26.8"
STAGING_MODULES="api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider
cluster-bootstrap code-generator component-base component-helpers controller-manager cri-api cri-client
csi-translation-lib dynamic-resource-allocation endpointslice externaljwt kms kube-aggregator
kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics mount-utils
pod-security-admission sample-apiserver sample-cli-plugin sample-controller"

export NIGHTSHIFT_CACHE="${NIGHTSHIFT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nightshift}"
RUN_DIR="${NIGHTSHIFT_RUN_DIR:-${TMPDIR:-/tmp}/nightshift-services}/kubernetes"
K8S_DIR="$NIGHTSHIFT_CACHE/k8s-$K8S_VERSION"
BIN="$K8S_DIR/bin"
ETCD_BIN="$NIGHTSHIFT_CACHE/etcd-$ETCD_VERSION/bin/etcd"
NAMESPACE="nightshift-test"
FOREIGN_NAMESPACE="nightshift-foreign"
SERVICE_ACCOUNT="aiqu"
START_TIMEOUT="${NIGHTSHIFT_KUBERNETES_START_TIMEOUT:-120}"

log() { printf '[kubernetes] %s\n' "$*" >&2; }

go_ok() {
  command -v go >/dev/null 2>&1 || return 1
  local v
  v="$(go env GOVERSION 2>/dev/null | sed 's/^go//')"
  [ -n "$v" ] || return 1
  local major minor
  major="${v%%.*}"
  minor="${v#*.}"
  minor="${minor%%.*}"
  [ "$major" -gt 1 ] || [ "$minor" -ge 24 ]
}

ensure_go() {
  if go_ok; then return 0; fi
  local arch
  case "$(uname -m)" in
  x86_64) arch=amd64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *)
    log "unsupported architecture $(uname -m)"
    return 1
    ;;
  esac
  local root="$NIGHTSHIFT_CACHE/go-$GO_TOOLCHAIN_VERSION"
  if [ ! -x "$root/bin/go" ]; then
    log "no Go >= 1.24 on PATH; fetching go$GO_TOOLCHAIN_VERSION from the module proxy"
    local tmp
    tmp="$(mktemp -d)"
    curl -sfL --max-time 600 -o "$tmp/go.zip" \
      "https://proxy.golang.org/golang.org/toolchain/@v/v0.0.1-go$GO_TOOLCHAIN_VERSION.linux-$arch.zip"
    if command -v python3 >/dev/null 2>&1; then
      (cd "$tmp" && python3 -c 'import zipfile,sys; zipfile.ZipFile(sys.argv[1]).extractall(".")' go.zip)
    else
      command -v unzip >/dev/null 2>&1 || { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq unzip >&2; }
      (cd "$tmp" && unzip -q go.zip)
    fi
    rm -rf "$root"
    mkdir -p "$(dirname "$root")"
    mv "$tmp/golang.org/toolchain@v0.0.1-go$GO_TOOLCHAIN_VERSION.linux-$arch" "$root"
    chmod +x "$root"/bin/* "$root"/pkg/tool/*/* 2>/dev/null || true
    rm -rf "$tmp"
  fi
  export PATH="$root/bin:$PATH"
  go_ok
}

go_env() {
  export GOMODCACHE="$NIGHTSHIFT_CACHE/go-mod"
  export GOCACHE="$NIGHTSHIFT_CACHE/go-build"
  export GOTOOLCHAIN=local
  export GOFLAGS="-buildvcs=false"
  export CGO_ENABLED=0
}

build_etcd() {
  [ -x "$ETCD_BIN" ] && return 0
  log "building etcd v$ETCD_VERSION from the module proxy"
  local work="$NIGHTSHIFT_CACHE/etcd-$ETCD_VERSION/build"
  rm -rf "$work" && mkdir -p "$work"
  (
    cd "$work"
    # server/v3 is itself package main; its go.mod replaces sibling modules, so it cannot be
    # `go install`ed either. A throwaway module ignores those replaces.
    go mod init local/etcdbin >&2
    go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" >&2
    go build -trimpath -o "$work/etcd" go.etcd.io/etcd/server/v3 >&2
  )
  mkdir -p "$(dirname "$ETCD_BIN")"
  mv "$work/etcd" "$ETCD_BIN"
  rm -rf "$work"
}

build_kubernetes() {
  if [ -x "$BIN/kube-apiserver" ] && [ -x "$BIN/kube-controller-manager" ]; then return 0; fi
  log "building kube-apiserver and kube-controller-manager v$K8S_VERSION from the module proxy (10-25 min cold)"
  local work="$K8S_DIR/build"
  rm -rf "$work" && mkdir -p "$work"
  {
    printf 'module local/k8sbin\n\ngo 1.24.0\n\ngodebug default=go1.24\n\nreplace (\n'
    for m in $STAGING_MODULES; do printf '\tk8s.io/%s => k8s.io/%s v%s\n' "$m" "$m" "$STAGING_VERSION"; done
    printf ')\n'
  } >"$work/go.mod"
  local minor="${K8S_VERSION#*.}"
  minor="${minor%%.*}"
  local ld="-s -w -X k8s.io/component-base/version.gitVersion=v$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
  (
    cd "$work"
    go get "k8s.io/kubernetes/cmd/kube-apiserver@v$K8S_VERSION" \
      "k8s.io/kubernetes/cmd/kube-controller-manager@v$K8S_VERSION" >&2
    go build -p 2 -trimpath -ldflags "$ld" -o "$work/out/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager >&2
  )
  mkdir -p "$BIN"
  mv "$work/out/kube-apiserver" "$work/out/kube-controller-manager" "$BIN/"
  rm -rf "$work"
}

build() {
  ensure_go
  go_env
  build_etcd
  build_kubernetes
}

free_port() {
  node -e 'const s=require("node:net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

wait_for() {
  local what="$1" pid="$2" logfile="$3"
  shift 3
  local waited=0
  until "$@" >/dev/null 2>&1; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "$what exited; last log lines:"
      tail -n 30 "$logfile" >&2 || true
      return 1
    fi
    if [ "$waited" -ge "$START_TIMEOUT" ]; then
      log "$what not ready after ${START_TIMEOUT}s; last log lines:"
      tail -n 30 "$logfile" >&2 || true
      return 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
}

# A CA and a serving certificate for 127.0.0.1, so clients verify TLS as they would in production.
make_certs() {
  local d="$RUN_DIR/pki"
  mkdir -p "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=nightshift-test-ca" \
    -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" -keyout "$d/apiserver.key" \
    -out "$d/apiserver.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default\nextendedKeyUsage=serverAuth\n' >"$d/ext.cnf"
  openssl x509 -req -in "$d/apiserver.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
    -extfile "$d/ext.cnf" -out "$d/apiserver.crt" 2>/dev/null
  # A serving certificate for the tests' stand-in kubelet (pod logs), trusted by the apiserver.
  openssl req -newkey rsa:2048 -nodes -subj "/CN=nightshift-test-kubelet" -keyout "$d/kubelet.key" \
    -out "$d/kubelet.csr" 2>/dev/null
  openssl x509 -req -in "$d/kubelet.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
    -extfile "$d/ext.cnf" -out "$d/kubelet.crt" 2>/dev/null
  openssl genrsa -out "$d/sa.key" 2048 2>/dev/null
  openssl rsa -in "$d/sa.key" -pubout -out "$d/sa.pub" 2>/dev/null
}

write_kubeconfig() {
  local file="$1" server="$2" user="$3" token="$4" namespace="$5"
  local ca
  ca="$(base64 -w0 <"$RUN_DIR/pki/ca.crt")"
  cat >"$file" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
  - name: nightshift-test
    cluster:
      server: $server
      certificate-authority-data: $ca
users:
  - name: $user
    user:
      token: $token
contexts:
  - name: nightshift-test
    context:
      cluster: nightshift-test
      user: $user
      namespace: $namespace
current-context: nightshift-test
KUBECONFIG
  chmod 600 "$file"
}

api() {
  local method="$1" path="$2" body="${3:-}"
  curl -sf --max-time 20 --cacert "$RUN_DIR/pki/ca.crt" -H "Authorization: Bearer $ADMIN_TOKEN" \
    -H 'Content-Type: application/json' -X "$method" "$SERVER$path" ${body:+--data "$body"}
}

provision() {
  local ns
  for ns in "$NAMESPACE" "$FOREIGN_NAMESPACE"; do
    api POST /api/v1/namespaces "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"$ns\"}}" >/dev/null
  done
  api POST "/api/v1/namespaces/$NAMESPACE/serviceaccounts" \
    "{\"apiVersion\":\"v1\",\"kind\":\"ServiceAccount\",\"metadata\":{\"name\":\"$SERVICE_ACCOUNT\"}}" >/dev/null
  # Least privilege for the aiqu backend: Jobs, their pods and pod logs, in one namespace.
  api POST "/apis/rbac.authorization.k8s.io/v1/namespaces/$NAMESPACE/roles" "$(
    cat <<ROLE
{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"nightshift-aiqu"},
 "rules":[
  {"apiGroups":["batch"],"resources":["jobs"],"verbs":["get","list","watch","create","delete","patch"]},
  {"apiGroups":[""],"resources":["pods"],"verbs":["get","list","watch","delete"]},
  {"apiGroups":[""],"resources":["pods/log"],"verbs":["get"]}]}
ROLE
  )" >/dev/null
  api POST "/apis/rbac.authorization.k8s.io/v1/namespaces/$NAMESPACE/rolebindings" "$(
    cat <<BINDING
{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"nightshift-aiqu"},
 "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"nightshift-aiqu"},
 "subjects":[{"kind":"ServiceAccount","name":"$SERVICE_ACCOUNT","namespace":"$NAMESPACE"}]}
BINDING
  )" >/dev/null
  # A bound token from the TokenRequest API (no token controller needed).
  local sa_token
  sa_token="$(api POST "/api/v1/namespaces/$NAMESPACE/serviceaccounts/$SERVICE_ACCOUNT/token" \
    '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":172800}}' |
    node -e 'let s="";process.stdin.on("data",c=>s+=c).on("end",()=>console.log(JSON.parse(s).status.token))')"
  [ -n "$sa_token" ] || {
    log "TokenRequest for the ServiceAccount failed"
    return 1
  }
  write_kubeconfig "$RUN_DIR/aiqu.kubeconfig" "$SERVER" "system:serviceaccount:$NAMESPACE:$SERVICE_ACCOUNT" \
    "$sa_token" "$NAMESPACE"
}

need_tools() {
  local missing=()
  for tool in openssl curl; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
  [ "${#missing[@]}" -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing ${missing[*]}"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
  else
    log "missing: ${missing[*]}"
    return 1
  fi
}

start() {
  need_tools
  build
  stop_processes
  rm -rf "$RUN_DIR" && mkdir -p "$RUN_DIR"
  make_certs
  local etcd_port etcd_peer api_port kcm_port
  etcd_port="$(free_port)"
  etcd_peer="$(free_port)"
  api_port="$(free_port)"
  kcm_port="$(free_port)"
  ADMIN_TOKEN="$(openssl rand -hex 24)"
  SERVER="https://127.0.0.1:$api_port"
  printf '%s,nightshift-admin,nightshift-admin,"system:masters"\n' "$ADMIN_TOKEN" >"$RUN_DIR/tokens.csv"
  chmod 600 "$RUN_DIR/tokens.csv"

  log "starting etcd on 127.0.0.1:$etcd_port"
  "$ETCD_BIN" --name nightshift --data-dir "$RUN_DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$etcd_peer" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer" \
    --initial-cluster "nightshift=http://127.0.0.1:$etcd_peer" --unsafe-no-fsync \
    --log-level warn >"$RUN_DIR/etcd.log" 2>&1 &
  echo $! >"$RUN_DIR/etcd.pid"
  wait_for etcd "$(cat "$RUN_DIR/etcd.pid")" "$RUN_DIR/etcd.log" curl -sf "http://127.0.0.1:$etcd_port/readyz"

  log "starting kube-apiserver v$K8S_VERSION on $SERVER"
  "$BIN/kube-apiserver" --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
    --tls-cert-file "$RUN_DIR/pki/apiserver.crt" --tls-private-key-file "$RUN_DIR/pki/apiserver.key" \
    --client-ca-file "$RUN_DIR/pki/ca.crt" --kubelet-certificate-authority "$RUN_DIR/pki/ca.crt" \
    --kubelet-preferred-address-types InternalIP \
    --service-account-issuer "$SERVER" --service-account-key-file "$RUN_DIR/pki/sa.pub" \
    --service-account-signing-key-file "$RUN_DIR/pki/sa.key" \
    --service-cluster-ip-range 10.0.0.0/24 --authorization-mode RBAC \
    --token-auth-file "$RUN_DIR/tokens.csv" --disable-admission-plugins ServiceAccount \
    --allow-privileged=true --cert-dir "$RUN_DIR/certs" >"$RUN_DIR/apiserver.log" 2>&1 &
  echo $! >"$RUN_DIR/apiserver.pid"
  wait_for kube-apiserver "$(cat "$RUN_DIR/apiserver.pid")" "$RUN_DIR/apiserver.log" api GET /readyz

  write_kubeconfig "$RUN_DIR/admin.kubeconfig" "$SERVER" nightshift-admin "$ADMIN_TOKEN" "$NAMESPACE"

  log "starting kube-controller-manager (job and garbage-collector controllers)"
  "$BIN/kube-controller-manager" --kubeconfig "$RUN_DIR/admin.kubeconfig" --leader-elect=false \
    --bind-address 127.0.0.1 --secure-port "$kcm_port" \
    --controllers job-controller,garbage-collector-controller \
    --service-account-private-key-file "$RUN_DIR/pki/sa.key" \
    --root-ca-file "$RUN_DIR/pki/ca.crt" >"$RUN_DIR/controller-manager.log" 2>&1 &
  echo $! >"$RUN_DIR/controller-manager.pid"
  wait_for kube-controller-manager "$(cat "$RUN_DIR/controller-manager.pid")" "$RUN_DIR/controller-manager.log" \
    curl -sfk "https://127.0.0.1:$kcm_port/healthz"

  provision
  log "ready: $SERVER (namespace $NAMESPACE)"
  echo "NIGHTSHIFT_TEST_KUBECONFIG=$RUN_DIR/admin.kubeconfig"
  echo "NIGHTSHIFT_TEST_KUBECONFIG_LIMITED=$RUN_DIR/aiqu.kubeconfig"
  echo "NIGHTSHIFT_TEST_KUBE_NAMESPACE=$NAMESPACE"
  echo "NIGHTSHIFT_TEST_KUBE_FOREIGN_NAMESPACE=$FOREIGN_NAMESPACE"
  echo "NIGHTSHIFT_TEST_KUBELET_CERT=$RUN_DIR/pki/kubelet.crt"
  echo "NIGHTSHIFT_TEST_KUBELET_KEY=$RUN_DIR/pki/kubelet.key"
}

stop_processes() {
  local name pid
  for name in controller-manager apiserver etcd; do
    [ -f "$RUN_DIR/$name.pid" ] || continue
    pid="$(cat "$RUN_DIR/$name.pid")"
    if kill "$pid" 2>/dev/null; then
      for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
      done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$RUN_DIR/$name.pid"
  done
}

case "${1:-}" in
build) build ;;
start) start ;;
stop) stop_processes ;;
*)
  echo "usage: $0 start|stop|build" >&2
  exit 2
  ;;
esac
