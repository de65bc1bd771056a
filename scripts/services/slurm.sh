#!/usr/bin/env bash
# Real Slurm on 127.0.0.1 for the mcp-aiqu Slurm backend tests: munged, slurmctld and slurmd
# from Debian's slurm-wlm, one node with the machine's own CPU layout and two fake GPUs (gres).
#
#   bash scripts/services/slurm.sh start   install (apt, needs root), configure, start, print KEY=value lines
#   bash scripts/services/slurm.sh stop    stop what start began
#
# The configuration lives under $NIGHTSHIFT_RUN_DIR/slurm/etc, not /etc/slurm: the daemons get
# `-f`, the clients (sbatch, squeue, scontrol, scancel) read SLURM_CONF, which start prints, and
# gres.conf and cgroup.conf are read from the directory slurm.conf is in.
#
# Finished jobs: without slurmdbd there is no sacct, so the cluster writes the jobcomp file
# (one line per finished job with state, exit code and times) and the backend reads it together
# with `scontrol show job` for recently finished jobs. MinJobAge is short here so the tests can
# watch Slurm forget a job and the backend still answer from its own store.
set -euo pipefail

RUN_DIR="${NIGHTSHIFT_RUN_DIR:-${TMPDIR:-/tmp}/nightshift-services}/slurm"
ETC="$RUN_DIR/etc"
CONF="$ETC/slurm.conf"
START_TIMEOUT="${NIGHTSHIFT_SLURM_START_TIMEOUT:-60}"
# Seconds Slurm keeps a finished job in memory (squeue/scontrol); its default is 300.
MIN_JOB_AGE="${NIGHTSHIFT_SLURM_MIN_JOB_AGE:-30}"

log() { printf '[slurm] %s\n' "$*" >&2; }

install() {
  if command -v slurmctld >/dev/null 2>&1 && command -v slurmd >/dev/null 2>&1 &&
    command -v munged >/dev/null 2>&1 && command -v sbatch >/dev/null 2>&1; then
    return 0
  fi
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    log "slurm-wlm and munge are missing and cannot be installed here (needs root and apt-get)"
    return 1
  fi
  log "installing Debian's slurm-wlm and munge"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >&2
}

munge_works() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

start_munge() {
  if munge_works; then
    log "munged already answers"
    return 0
  fi
  [ -f /etc/munge/munge.key ] || {
    # The package's postinst creates the key; recreate it if something removed it.
    mkdir -p /etc/munge
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
    chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
  }
  # munged insists on the default socket: sbatch and friends always look there.
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge
  chmod 755 /run/munge
  su -s /bin/sh munge -c munged
  for _ in $(seq 1 50); do munge_works && break; sleep 0.1; done
  munge_works || { log "munged did not start"; return 1; }
  # Only a munged this script started is stopped by `stop`.
  cat /run/munge/munged.pid >"$RUN_DIR/munged.pid" 2>/dev/null || pgrep -x munged | head -n1 >"$RUN_DIR/munged.pid"
}

write_config() {
  local host layout cpus boards sockets cores threads memory
  # The node name must be what slurmd sees as its own short hostname.
  host="$(hostname -s)"
  # Take the layout slurmd detects, so it never drains the node for a mismatch.
  layout="$(slurmd -C | head -n1)"
  cpus="$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$layout")"
  boards="$(sed -n 's/.*Boards=\([0-9]*\).*/\1/p' <<<"$layout")"
  sockets="$(sed -n 's/.*SocketsPerBoard=\([0-9]*\).*/\1/p' <<<"$layout")"
  cores="$(sed -n 's/.*CoresPerSocket=\([0-9]*\).*/\1/p' <<<"$layout")"
  threads="$(sed -n 's/.*ThreadsPerCore=\([0-9]*\).*/\1/p' <<<"$layout")"
  memory="$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$layout")"
  # Announce less memory than there is (never more, or slurmd drains), capped to keep jobs small.
  [ "$memory" -gt 4000 ] && memory=4000
  mkdir -p "$ETC" "$RUN_DIR/state" "$RUN_DIR/spool" "$RUN_DIR/log" "$RUN_DIR/jobs"
  cat >"$CONF" <<EOF
ClusterName=nightshift
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=${NIGHTSHIFT_SLURMCTLD_PORT:-6817}
SlurmdPort=${NIGHTSHIFT_SLURMD_PORT:-6818}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# Without a default a job takes all of RealMemory and the next one waits for Resources.
DefMemPerCPU=500
GresTypes=gpu
StateSaveLocation=$RUN_DIR/state
SlurmdSpoolDir=$RUN_DIR/spool
SlurmctldPidFile=$RUN_DIR/slurmctld.pid
SlurmdPidFile=$RUN_DIR/slurmd.pid
SlurmctldLogFile=$RUN_DIR/log/slurmctld.log
SlurmdLogFile=$RUN_DIR/log/slurmd.log
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$RUN_DIR/jobcomp.txt
# Polls each step's memory and kills one that exceeds its request: the job ends OUT_OF_MEMORY,
# as under a cgroup limit on a real cluster.
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
JobAcctGatherParams=OverMemoryKill
MinJobAge=$MIN_JOB_AGE
KillWait=5
MpiDefault=none
ReturnToService=2
SchedulerParameters=sched_interval=2
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus Boards=$boards SocketsPerBoard=$sockets CoresPerSocket=$cores ThreadsPerCore=$threads RealMemory=$memory Gres=gpu:fake:2 State=UNKNOWN
PartitionName=gpu Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  # One line per fake device: a single line with Count= and one File fails.
  cat >"$ETC/gres.conf" <<EOF
NodeName=$host Name=gpu Type=fake File=/dev/null
NodeName=$host Name=gpu Type=fake File=/dev/zero
EOF
  # `CgroupPlugin=disabled` is not a plugin in 22.05; slurmd refuses it.
  cat >"$ETC/cgroup.conf" <<EOF
CgroupPlugin=cgroup/v1
CgroupAutomount=no
IgnoreSystemd=yes
EOF
}

wait_idle() {
  local waited=0 state
  while :; do
    state="$(SLURM_CONF="$CONF" sinfo -h -o '%T' 2>/dev/null | head -n1 || true)"
    case "$state" in
    idle | mixed | allocated) break ;;
    esac
    if [ "$waited" -ge "$START_TIMEOUT" ]; then
      log "node not idle after ${START_TIMEOUT}s (state: ${state:-none}); last log lines:"
      tail -n 20 "$RUN_DIR/log/slurmctld.log" "$RUN_DIR/log/slurmd.log" >&2 || true
      return 1
    fi
    # A node left down by an earlier run comes back once told to.
    if [ "$state" = down ] || [ "$state" = drained ]; then
      SLURM_CONF="$CONF" scontrol update nodename="$(hostname -s)" state=resume >/dev/null 2>&1 || true
    fi
    sleep 1
    waited=$((waited + 1))
  done
  log "node $state after ${waited}s"
}

start() {
  install
  stop_daemons
  rm -rf "$RUN_DIR" && mkdir -p "$RUN_DIR"
  start_munge
  write_config
  # -c: a clean start, ignoring saved state; both daemonise and write their pid files.
  SLURM_CONF="$CONF" slurmctld -c -f "$CONF"
  SLURM_CONF="$CONF" slurmd -c -f "$CONF"
  wait_idle
  echo "NIGHTSHIFT_TEST_SLURM=1"
  echo "SLURM_CONF=$CONF"
  echo "NIGHTSHIFT_TEST_SLURM_CONF=$CONF"
  echo "NIGHTSHIFT_TEST_SLURM_JOBCOMP=$RUN_DIR/jobcomp.txt"
  echo "NIGHTSHIFT_TEST_SLURM_MIN_JOB_AGE=$MIN_JOB_AGE"
  echo "NIGHTSHIFT_TEST_SLURM_JOBS_DIR=$RUN_DIR/jobs"
}

stop_pidfile() {
  local file="$1" pid
  [ -f "$file" ] || return 0
  pid="$(cat "$file" 2>/dev/null || true)"
  rm -f "$file"
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.25; done
  kill -KILL "$pid" 2>/dev/null || true
}

stop_daemons() {
  # slurmd first, so it does not spend its shutdown retrying a controller that is gone.
  stop_pidfile "$RUN_DIR/slurmd.pid"
  stop_pidfile "$RUN_DIR/slurmctld.pid"
  stop_pidfile "$RUN_DIR/munged.pid"
}

case "${1:-}" in
start) start ;;
stop) stop_daemons ;;
*)
  echo "usage: $0 start|stop" >&2
  exit 2
  ;;
esac
