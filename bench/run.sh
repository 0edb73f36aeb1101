#!/usr/bin/env bash
# Runs invlab and the PyTorch (Python) references side by side on this machine, alternating
# them in pairs, with the same thread count on both sides; writes bench/results/*.json and
# regenerates the tables in BENCHMARKS.md.
#
#   bench/setup.sh          # once: the Python reference venv (.bench-venv)
#   bench/run.sh            # PAIRS=3 THREADS=2 EPOCHS=3 ADAPTIVE_PAIRS=2 RESNET_PAIRS=2
#                           # RESNET_EPOCHS=3 by default
#   STAGES=adaptive bench/run.sh   # one stage again (pairs, resnet, adaptive; default all
#                           # three), keeping the other stages' raw files
#   SMOKE=1 bench/run.sh    # a few minutes: every stage on tiny work (one pair, 4 x 10 eKLD,
#                           # a 1-epoch model for (c)), to check the script
#                           # itself; results go to $TMPDIR/invlab-bench-smoke, BENCHMARKS.md
#                           # is left alone
#
# Benchmarks: (a) a training epoch of configs/default.toml, with its small CNN and, as (a2), with
# the paper's ResNet-20 on the same K49-LT-sized set, each against the tutorial PyTorch pipeline
# (DataLoader) and the careful peers (in-memory tensor + permutation, channels_last,
# torch.compile; bench/ref_train.py) (49 classes, Zipf a = 2, n_max 4800: 7,822
# images of 28 x 28, as the paper's K49-LT); (b) the full fixed eKLD evaluation
# (49 classes x 40 images x 100 rotations) in invlab, in a batched PyTorch peer and in the
# paper-style PIL reference; (c) adaptive against fixed 40 x 100 eKLD on one fully trained
# model per config in ADAPTIVE_CONFIGS (default: configs/default.toml, ROT, and
# configs/default-bg.toml, BG: eKLD two orders of magnitude apart; invlab only).
set -euo pipefail
cd "$(dirname "$0")/.."
SMOKE=${SMOKE:-0}
if [ "$SMOKE" = 1 ]; then
  PAIRS=1 EPOCHS=2 EKLD_IMAGES=4 EKLD_SAMPLES=10 ADAPTIVE_PAIRS=1 RESNET_PAIRS=1 RESNET_EPOCHS=2
  TRAINED_SET=(--set train.epochs=1)
  ADAPTIVE_CAPS=(eval.ekld_max_images_per_class=8 eval.ekld_max_samples=10)
  RESULTS=${TMPDIR:-/tmp}/invlab-bench-smoke
else
  EKLD_IMAGES=40 EKLD_SAMPLES=100
  TRAINED_SET=()
  ADAPTIVE_CAPS=()
  RESULTS=$PWD/bench/results
fi
PAIRS=${PAIRS:-3}
THREADS=${THREADS:-2}
EPOCHS=${EPOCHS:-3}
ADAPTIVE_PAIRS=${ADAPTIVE_PAIRS:-2}
RESNET_PAIRS=${RESNET_PAIRS:-2}
RESNET_EPOCHS=${RESNET_EPOCHS:-3}
STAGES=${STAGES:-pairs resnet adaptive}
ADAPTIVE_CONFIGS=${ADAPTIVE_CONFIGS:-configs/default.toml configs/default-bg.toml}
stage() { [[ " $STAGES " == *" $1 "* ]]; }
PY=.bench-venv/bin/python
[ -x "$PY" ] || { echo "run bench/setup.sh first (no $PY)" >&2; exit 1; }
export OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS
# invlab runs its OpenMP threads with passive waits (it re-executes itself with
# OMP_WAIT_POLICY=PASSIVE unless the variable is set); give the reference the same policy.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}

cargo build --release --bin invlab
cargo build --release -p invlab-tools --bin export_dataset --bin bench_ekld_adaptive
BIN=target/release/invlab
WORK=$(mktemp -d "${TMPDIR:-/tmp}/invlab-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
# raw/: the files bench/summarize.py computes the tables from (committed); logs/: each
# program's stderr, for looking into a run (not committed, .gitignore).
RAW=$RESULTS/raw
LOGS=$RESULTS/logs
mkdir -p "$RAW" "$LOGS"
# Only the stages run now lose their old files (machine.json belongs to the pairs and the
# ResNet stage, machine-adaptive.json to the adaptive stage).
if stage pairs; then rm -f "$RAW"/rust-* "$RAW"/py-* "$RAW"/machine.json; fi
# steal.jsonl: the stages run now lose their lines.
if [ -f "$RAW/steal.jsonl" ]; then
  pattern='^$'
  if stage pairs; then pattern="$pattern|\"pairs_\""; fi
  if stage resnet; then pattern="$pattern|\"resnet_\""; fi
  grep -Ev "$pattern" "$RAW/steal.jsonl" > "$RAW/steal.tmp" || true
  mv "$RAW/steal.tmp" "$RAW/steal.jsonl"
fi
# (py-* covers the small CNN's peers, py-peer-*; resnet-* the ResNet-20's, resnet-peer-*.)
if stage resnet; then rm -f "$RAW"/resnet-*; fi
if stage adaptive; then rm -f "$RAW"/*adaptive*; fi
# The fixed eKLD design of benchmark (b), for every program that reads the config.
EKLD_DESIGN=(eval.ekld_images_per_class="$EKLD_IMAGES" eval.ekld_samples="$EKLD_SAMPLES")

# The exact training set of the default run (transformed once, same seeds) and the eKLD images.
target/release/export_dataset configs/default.toml "$WORK/data" "${EKLD_DESIGN[@]}"

# machine_info FILE: the machine, threads, design and build a stage ran with.
machine_info() {
{
  echo "{"
  echo "  \"date\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\","
  echo "  \"nproc\": $(nproc),"
  echo "  \"cpu\": \"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')\","
  echo "  \"cpu_flags_avx512f\": $(grep -qw avx512f /proc/cpuinfo && echo true || echo false),"
  echo "  \"mem_gib\": $(awk '/MemTotal/ {printf "%.1f", $2/1048576}' /proc/meminfo),"
  echo "  \"threads\": $THREADS,"
  echo "  \"omp_wait_policy\": \"$OMP_WAIT_POLICY\","
  echo "  \"pairs\": $PAIRS,"
  echo "  \"epochs_per_run\": $EPOCHS,"
  echo "  \"adaptive_pairs\": $ADAPTIVE_PAIRS,"
  echo "  \"resnet_pairs\": $RESNET_PAIRS,"
  echo "  \"resnet_epochs_per_run\": $RESNET_EPOCHS,"
  echo "  \"smoke\": $([ "$SMOKE" = 1 ] && echo true || echo false),"
  echo "  \"loadavg_start\": \"$(cut -d' ' -f1-3 /proc/loadavg)\","
  echo "  \"invlab_commit\": \"$(git rev-parse --short HEAD)\","
  echo "  \"python_torch\": \"$($PY -c 'import torch; print(torch.__version__)')\""
  echo "}"
} > "$1"
}
if stage pairs || stage resnet; then machine_info "$RAW/machine.json"; fi
if stage adaptive; then machine_info "$RAW/machine-adaptive.json"; fi

rust_run() {
  local i=$1
  rm -rf "$WORK/runs"
  # The final eKLD is the fixed design (the default config samples adaptively; that is (c)).
  "$BIN" --batch configs/default.toml --out "$WORK/runs" \
    --set train.epochs="$EPOCHS" --set eval.ekld_every=0 --set eval.ekld_sampling=fixed \
    --set "${EKLD_DESIGN[0]}" --set "${EKLD_DESIGN[1]}" 2> "$LOGS/rust-$i.log"
  cp "$WORK"/runs/*/metrics.jsonl "$RAW/rust-$i.metrics.jsonl"
}
py_ekld_pil() {
  (cd bench && "../$PY" ref_ekld.py "$WORK/data" "$EKLD_SAMPLES" "$RAW/py-ekld-$1.json") \
    2>> "$LOGS/py-$1.log"
}
# The batched peer with the small CNN in the plain layout (py-ekld-batched-N.json) and in
# invlab's (py-ekld-batched-layout-N.json).
py_ekld_batched() {
  (cd bench && "../$PY" ref_ekld_batched.py "$WORK/data" "$EKLD_SAMPLES" \
    "$RAW/py-ekld-batched-$1.json" plain) 2>> "$LOGS/py-$1.log"
  (cd bench && "../$PY" ref_ekld_batched.py "$WORK/data" "$EKLD_SAMPLES" \
    "$RAW/py-ekld-batched-layout-$1.json" invlab) 2>> "$LOGS/py-$1.log"
}
# The reference epoch with the plain small CNN (py-train-N.json) and with invlab's layout of
# the same function (py-train-layout-N.json): the ratio between them is what the layout buys.
py_train_as() {
  local pair=$1 name=$2 arch=$3; shift 3
  (cd bench && "../$PY" ref_train.py "$WORK/data" "$EPOCHS" "$RAW/$name-$pair.json" "$arch" "$@") \
    2>> "$LOGS/py-$pair.log"
}
# The careful peers (issue #22): the whole set in one tensor indexed by a permutation, plain,
# channels_last, in invlab's layout and under torch.compile (py-peer-VARIANT-N.json).
py_peers() {
  py_train_as "$1" py-peer-tensor small-cnn --loader tensor
  py_train_as "$1" py-peer-tensor-cl small-cnn --loader tensor --channels-last
  py_train_as "$1" py-peer-tensor-layout small-cnn-invlab-layout --loader tensor
  py_train_as "$1" py-peer-tensor-compile small-cnn --loader tensor --compile
}
py_train() {
  if [ $(($1 % 2)) -eq 1 ]; then
    py_train_as "$1" py-train small-cnn; py_train_as "$1" py-train-layout small-cnn-invlab-layout
    py_peers "$1"
  else
    py_peers "$1"
    py_train_as "$1" py-train-layout small-cnn-invlab-layout; py_train_as "$1" py-train small-cnn
  fi
}
py_run() {
  local i=$1
  : > "$LOGS/py-$i.log"
  py_train "$i"
  # The two Python eKLD styles alternate their order too.
  if [ $((i % 2)) -eq 1 ]; then py_ekld_pil "$i"; py_ekld_batched "$i"
  else py_ekld_batched "$i"; py_ekld_pil "$i"; fi
}

(cd bench && "../$PY" ref_ekld_batched.py --check "$WORK/data") 2> "$LOGS/py-rotation-check.log"
# CPU time the hypervisor gave to other guests ("steal"), and all CPU time, in clock ticks
# since boot: on a shared virtual machine it is what makes one run slower than its pair.
cpu_ticks() { awk '/^cpu / {t = 0; for (i = 2; i <= NF; i++) t += $i; print $9, t}' /proc/stat; }
# alternate LABEL PREFIX N: N pairs of ${PREFIX}rust_run / ${PREFIX}py_run, invlab first in odd
# pairs and the reference first in even ones. Each side's steal share goes to steal.jsonl (the
# conditional is in parentheses: a bare `>` in awk's printf arguments is an output redirection).
alternate() {
  local label=$1 prefix=$2 pairs=$3 i first second side before after
  for i in $(seq 1 "$pairs"); do
    if [ $((i % 2)) -eq 1 ]; then first=rust second=py; else first=py second=rust; fi
    for side in $first $second; do
      echo "${label}pair $i/$pairs: $side ($(cut -d' ' -f1-3 /proc/loadavg))" >&2
      before=$(cpu_ticks)
      "${prefix}${side}_run" "$i"
      after=$(cpu_ticks)
      echo "$before $after" | awk -v stage="${prefix:-pairs_}" -v pair="$i" -v side="$side" \
        '{d = $4 - $2; printf "{\"stage\": \"%s\", \"pair\": %d, \"side\": \"%s\", \"steal_percent\": %.2f}\n", stage, pair, side, (d > 0 ? 100 * ($3 - $1) / d : 0)}' \
        >> "$RAW/steal.jsonl"
    done
  done
}
if stage pairs; then alternate "" "" "$PAIRS"; fi

# (a2) The ResNet-20 epoch on the same set: training only (the final eKLD is one image x one
# sample, its cheapest design), same hyperparameters on both sides.
resnet_rust_run() {
  rm -rf "$WORK/runs"
  "$BIN" --batch configs/default.toml --out "$WORK/runs" --set model.arch=resnet20 \
    --set train.epochs="$RESNET_EPOCHS" --set eval.ekld_every=0 --set eval.ekld_sampling=fixed \
    --set eval.ekld_images_per_class=1 --set eval.ekld_samples=1 2> "$LOGS/resnet-rust-$1.log"
  cp "$WORK"/runs/*/metrics.jsonl "$RAW/resnet-rust-$1.metrics.jsonl"
}
resnet_py_as() {
  local pair=$1 name=$2; shift 2
  (cd bench && "../$PY" ref_train.py "$WORK/data" "$RESNET_EPOCHS" "$RAW/$name-$pair.json" \
    resnet20 "$@") 2>> "$LOGS/resnet-py-$pair.log"
}
# The DataLoader reference and the careful peers, their order turned round in even pairs.
resnet_py_run() {
  : > "$LOGS/resnet-py-$1.log"
  local runs=("resnet-py" "resnet-peer-tensor --loader tensor"
    "resnet-peer-tensor-cl --loader tensor --channels-last"
    "resnet-peer-tensor-compile --loader tensor --compile")
  local k order
  if [ $(($1 % 2)) -eq 1 ]; then order="0 1 2 3"; else order="3 2 1 0"; fi
  for k in $order; do
    # shellcheck disable=SC2086 # each entry is a name and its flags
    resnet_py_as "$1" ${runs[$k]}
  done
}
if stage resnet; then alternate "resnet-20 " resnet_ "$RESNET_PAIRS"; fi

# (c) Adaptive against fixed 40 x 100 eKLD on one fully trained model per config: the tool
# checks the checkpoint reproduces the run's test accuracy, then alternates the two designs.
# Raw files are named after the config (ekld-adaptive-default-bg.json).
if stage adaptive && [ "$ADAPTIVE_PAIRS" -gt 0 ]; then
  for config in $ADAPTIVE_CONFIGS; do
    name=$(basename "$config" .toml)
    echo "adaptive stage, $name: training ($(cut -d' ' -f1-3 /proc/loadavg))" >&2
    rm -rf "$WORK/trained"
    "$BIN" --batch "$config" --out "$WORK/trained" --set eval.ekld_sampling=fixed \
      --set eval.ekld_images_per_class=20 --set eval.ekld_samples=20 "${TRAINED_SET[@]}" \
      2> "$LOGS/adaptive-train-$name.log"
    TRAINED=$(ls -d "$WORK"/trained/*/)
    cp "$TRAINED/summary.json" "$RAW/adaptive-run-summary-$name.json"
    echo "adaptive stage, $name: $ADAPTIVE_PAIRS pairs ($(cut -d' ' -f1-3 /proc/loadavg))" >&2
    target/release/bench_ekld_adaptive "$TRAINED" "$RAW/ekld-adaptive-$name.json" \
      "$ADAPTIVE_PAIRS" "${EKLD_DESIGN[@]}" "${ADAPTIVE_CAPS[@]}" 2> "$LOGS/adaptive-$name.log"
  done
fi
for machine in "$RAW"/machine.json "$RAW"/machine-adaptive.json; do
  if [ -f "$machine" ] && ! grep -q loadavg_end "$machine"; then
    sed -i "s/^}$/, \"loadavg_end\": \"$(cut -d' ' -f1-3 /proc/loadavg)\"}/" "$machine"
  fi
done
"$PY" bench/summarize.py "$RAW"
