#!/bin/sh
# SPDX-License-Identifier: MIT
# A private one-node Slurm cluster for tests and benchmarks.
#
#   cluster.sh run -- COMMAND [ARG...]
#
# Enters a private network namespace (unshare -n), brings loopback up,
# writes a Slurm and munge configuration into a fresh temporary directory,
# starts munged, slurmctld and slurmd by hand (no systemd, no /etc file, no
# default path, no port in the machine's own namespace), waits until the
# node is idle, runs COMMAND with SLURM_CONF pointing at the private
# configuration, then stops the daemons by pid and removes the directory.
# Exits with COMMAND's status.
#
# When the cluster cannot start here (not root, no unshare, packages
# missing) COMMAND still runs, with CUPRUM_SLURM_SKIP set to the reason, so
# that the tests skip saying why instead of passing silently.
#
# Timing: CUPRUM_SLURM_TIMING=1 prints the seconds from start to idle.
set -u

die_skip() {
  # Run COMMAND anyway (after stopping what started), telling it why there
  # is no cluster.
  CUPRUM_SLURM_SKIP="$1"
  shift
  if [ -n "${dir:-}" ]; then trap - EXIT; stop; fi
  export CUPRUM_SLURM_SKIP
  unset SLURM_CONF
  exec "$@"
}

if [ "${1:-}" = run ] && [ "${2:-}" = -- ]; then
  shift 2
  [ $# -gt 0 ] || { echo "usage: cluster.sh run -- COMMAND [ARG...]" >&2; exit 2; }
  for p in unshare munged slurmctld slurmd srun sinfo scancel squeue ip; do
    command -v "$p" >/dev/null 2>&1 ||
      PATH="$PATH:/usr/sbin:/sbin" command -v "$p" >/dev/null 2>&1 ||
      die_skip "slurm cluster: '$p' is not installed (scripts/deps.sh test group)" "$@"
  done
  [ "$(id -u)" = 0 ] || die_skip "slurm cluster: needs root (slurmd runs steps as their user)" "$@"
  unshare -n true 2>/dev/null ||
    die_skip "slurm cluster: unshare -n is not permitted here" "$@"
  exec unshare -n "$0" inside -- "$@"
fi

[ "${1:-}" = inside ] && [ "${2:-}" = -- ] || {
  echo "usage: cluster.sh run -- COMMAND [ARG...]" >&2; exit 2; }
shift 2
PATH="$PATH:/usr/sbin:/sbin"

t0=$(date +%s.%N)
ip link set lo up || die_skip "slurm cluster: cannot bring loopback up" "$@"
# The daemons listen on every address of the namespace; they are reached
# on a second loopback address so nothing depends on 127.0.0.1.
ip addr add 127.0.0.2/8 dev lo 2>/dev/null || true

dir=$(mktemp -d /tmp/cuprum-slurm.XXXXXX) || exit 125
chmod 0755 "$dir"   # munged's socket directory must be searchable
mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/log"
chmod 0755 "$dir/munge"
chmod 0700 "$dir/state" "$dir/spool"
node=$(hostname -s)
ncpu=$(nproc 2>/dev/null || echo 1)
mem=1024

stop() {
  # TERM all three at once (their state is thrown away), KILL what is left
  # after 5 s, and wait until every pid is gone.
  pids=
  for f in slurmd slurmctld munged; do
    p=$(cat "$dir/$f.pid" 2>/dev/null) && kill -TERM "$p" 2>/dev/null &&
      pids="$pids $p"
  done
  i=0
  for p in $pids; do
    while kill -0 "$p" 2>/dev/null && [ $i -lt 100 ]; do
      sleep 0.05; i=$((i + 1))
    done
    kill -KILL "$p" 2>/dev/null || true
  done
  if [ "${CUPRUM_SLURM_KEEP:-}" != 1 ]; then rm -rf "$dir"; fi
}
trap stop EXIT
trap 'exit 143' TERM INT HUP

dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 2>/dev/null
chmod 0400 "$dir/munge/munge.key"

cat > "$dir/slurm.conf" <<CONF
ClusterName=cuprum
SlurmctldHost=$node(127.0.0.2)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.sock
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
SchedulerType=sched/builtin
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=30
KillWait=2
Waittime=0
NodeName=$node NodeAddr=127.0.0.2 NodeHostname=$node CPUs=$ncpu RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:16
CONF
SLURM_CONF="$dir/slurm.conf"
export SLURM_CONF

munged --socket="$dir/munge/munge.sock" --key-file="$dir/munge/munge.key" \
  --pid-file="$dir/munged.pid" --log-file="$dir/log/munged.log" \
  --seed-file="$dir/munge/munge.seed" --force 2>"$dir/log/munged.err" ||
  die_skip "slurm cluster: munged did not start: $(cat "$dir/log/munged.err")" "$@"
slurmctld -f "$SLURM_CONF" -i 2>"$dir/log/slurmctld.err" ||
  die_skip "slurm cluster: slurmctld did not start" "$@"
slurmd -f "$SLURM_CONF" -N "$node" 2>"$dir/log/slurmd.err" ||
  die_skip "slurm cluster: slurmd did not start" "$@"

limit=$(($(date +%s) + 30))
until [ "$(timeout 5 sinfo -h -N -o %T 2>/dev/null)" = idle ]; do
  if [ "$(date +%s)" -gt $limit ]; then
    msg="slurm cluster: the node did not become idle in 30 s; $(tail -n 3 "$dir/log/slurmd.log" 2>/dev/null | tr '\n' ' ')"
    die_skip "$msg" "$@"
  fi
  sleep 0.05
done
t1=$(date +%s.%N)
if [ "${CUPRUM_SLURM_TIMING:-}" = 1 ]; then
  echo "slurm cluster: idle after $(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }") s" >&2
fi
CUPRUM_SLURM_DIR="$dir"
export CUPRUM_SLURM_DIR
"$@"
status=$?
exit $status
