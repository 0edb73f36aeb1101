#!/usr/bin/env bash
# Brings up a single-node Slurm on this machine (Debian's slurm-wlm + munge, daemons in the
# foreground-mode -D, in the background; no systemd), submits the README's job-array recipe
# with a short time limit so its tasks are really signalled, stopped (exit 75), requeued and
# resumed, then a one-node several-slot recipe (--jobs), and checks that every sweep point
# finished with each epoch exactly once in metrics.jsonl. Stops the daemons it started.
#
# Needs root (it writes /etc/munge and runs slurmctld/slurmd). Takes about 10 minutes: Slurm
# holds a requeued task for ~2 minutes (BeginTime) before it restarts.
#
#   scripts/slurm-check.sh            # uses target/debug/invlab (built first)
#   INVLAB_BIN=/path/to/invlab scripts/slurm-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

if [ "$(id -u)" -ne 0 ]; then
    echo "slurm-check: needs root (it starts munged, slurmctld and slurmd); skipped" >&2
    exit 0
fi
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    echo "slurm-check: installing slurm-wlm and munge (Debian)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends slurm-wlm munge >/dev/null
fi
if [ -z "${INVLAB_BIN:-}" ]; then
    cargo build --quiet --bin invlab
    INVLAB_BIN=$root/target/debug/invlab
fi

work=$(mktemp -d /tmp/invlab-slurm.XXXXXX)
export SLURM_CONF=$work/etc/slurm.conf
mkdir -p "$work/etc" "$work/state" "$work/spool" "$work/bin" "$work/job/logs"
host=$(hostname -s)
cpus=$(nproc)
mem=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512))

pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

# munge: a key if there is none, and the daemon unless one runs.
if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
fi
chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
mkdir -p /run/munge && chown munge:munge /run/munge
if ! pgrep -x munged >/dev/null; then
    runuser -u munge -- munged --foreground &
    pids+=($!)
    sleep 1
fi

cat >"$SLURM_CONF" <<CONF
ClusterName=invlab-check
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
JobRequeue=1
ReturnToService=2
MpiDefault=none
KillWait=30
MinJobAge=600
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=check Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF

slurmctld -D -f "$SLURM_CONF" &
pids+=($!)
slurmd -D -f "$SLURM_CONF" &
pids+=($!)
for _ in $(seq 60); do
    if sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed)'; then break; fi
    sleep 1
done
sinfo

# A config whose points each outlive one time limit: ~2-3 minutes of training at 1 thread.
cat >"$work/job/check.toml" <<'TOML'
name = "slurm"
seed = 0
device = "cpu"
[data]
dataset = "glyphs"
transform = "rot"
profile = "zipf"
zipf_a = 1.0
max_per_class = 120
min_per_class = 4
test_per_class = 6
[model]
arch = "small-cnn"
[train]
epochs = 150
batch_size = 64
lr = 0.05
warmup_epochs = 1
decay_epochs = [100, 140]
[eval]
ekld_every = 50
ekld_images_per_class = 3
ekld_samples = 4
TOML

# The README's recipe, as written, with this check's array, limit, config and sweep.
awk '/^#SBATCH --job-name=invlab-sweep/{p=1; print "#!/bin/bash"} p&&/^```/{exit} p' README.md \
    | sed -e 's/--array=0-5/--array=0-1/' \
          -e 's/--time=01:00:00/--time=00:02:00/' \
          -e 's/--signal=TERM@120/--signal=TERM@60/' \
          -e 's#configs/default.toml --sweep seed=0,1,2 --sweep method.rule=none,drs#check.toml --sweep seed=0,1 --threads 1#' \
          -e "s#srun invlab#srun $INVLAB_BIN#" \
    >"$work/job/array.sh"
echo "--- the job script submitted (from README.md) ---"
cat "$work/job/array.sh"
echo "---"

# One node, several slots: one job, points run --jobs at a time (on GPUs add --gres=gpu:N and
# --devices auto; here CPU slots).
cat >"$work/job/node.sh" <<JOB
#!/bin/bash
#SBATCH --job-name=invlab-node
#SBATCH --cpus-per-task=$cpus
#SBATCH --output=logs/%x-%j.log
srun $INVLAB_BIN --batch check.toml --set train.epochs=20 --sweep seed=10,11,12,13 \\
     --jobs 2 --continue --out runs-node
JOB

cd "$work/job"
array=$(sbatch --parsable array.sh)
echo "submitted array job $array"
deadline=$((SECONDS + 1500))
while squeue -h -j "$array" 2>/dev/null | grep -q .; do
    if [ $SECONDS -gt $deadline ]; then echo "slurm-check: array job still queued after 25 min" >&2; squeue; exit 1; fi
    sleep 5
done
node=$(sbatch --parsable node.sh)
echo "submitted node job $node"
while squeue -h -j "$node" 2>/dev/null | grep -q .; do
    if [ $SECONDS -gt $deadline ]; then echo "slurm-check: node job still queued" >&2; exit 1; fi
    sleep 5
done

echo "--- logs ---"
tail -n 4 logs/*.log
echo "--- sacct-less accounting: slurmctld's record of each task ---"
grep -hE "Requeu|requeue|_exit|WEXITSTATUS|done" "$work/slurmctld.log" | tail -n 20 || true

status=0
check_point() {
    local dir=$1 epochs=$2
    local state
    state=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['status'])" "$dir/state.json" 2>/dev/null || echo missing)
    local lines unique
    lines=$(wc -l <"$dir/metrics.jsonl" 2>/dev/null || echo 0)
    unique=$(python3 -c "import json,sys; e=[json.loads(l)['epoch'] for l in open(sys.argv[1])]; print(len(set(e)) if e==sorted(set(e)) else -1)" "$dir/metrics.jsonl" 2>/dev/null || echo -1)
    echo "$dir: state $state, $lines metrics lines, $unique distinct epochs in order (want $epochs)"
    if [ "$state" != finished ] || [ "$lines" -ne "$epochs" ] || [ "$unique" -ne "$epochs" ]; then status=1; fi
}
for s in 0 1; do check_point "runs/slurm-seed$s" 150; done
for s in 10 11 12 13; do check_point "runs-node/slurm-seed$s" 20; done
stops=$(grep -h "stopped with" logs/invlab-sweep-*.log | wc -l)
echo "array tasks stopped at a time limit and requeued: $stops time(s)"
if [ "$stops" -lt 1 ]; then echo "slurm-check: no task was signalled; the check proved nothing" >&2; status=1; fi
if [ $status -eq 0 ]; then echo "slurm-check: OK ($work)"; else echo "slurm-check: FAILED ($work)" >&2; fi
exit $status
