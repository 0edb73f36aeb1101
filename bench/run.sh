#!/usr/bin/env bash
# Runs invlab and the PyTorch (Python) reference side by side on this machine, alternating the
# two in pairs, with the same thread count on both sides; writes bench/results/*.json and
# regenerates the tables in BENCHMARKS.md.
#
#   bench/setup.sh          # once: the Python reference venv (.bench-venv)
#   bench/run.sh            # PAIRS=3 THREADS=2 by default
#
# Benchmarks: (a) a training epoch of configs/default.toml; (b) the full eKLD evaluation
# (49 classes x 40 images x 100 rotations).
set -euo pipefail
cd "$(dirname "$0")/.."
PAIRS=${PAIRS:-3}
THREADS=${THREADS:-2}
EPOCHS=${EPOCHS:-3}
PY=.bench-venv/bin/python
[ -x "$PY" ] || { echo "run bench/setup.sh first (no $PY)" >&2; exit 1; }
export OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS
# invlab runs its OpenMP threads with passive waits (it re-executes itself with
# OMP_WAIT_POLICY=PASSIVE unless the variable is set); give the reference the same policy.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}

cargo build --release --bin invlab --example export_dataset --example bench_transforms
BIN=target/release/invlab
WORK=$(mktemp -d "${TMPDIR:-/tmp}/invlab-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
RAW=bench/results/raw
rm -rf "$RAW"
mkdir -p "$RAW"

# The exact training set of the default run (transformed once, same seeds) and the eKLD images.
target/release/examples/export_dataset configs/default.toml "$WORK/data"

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
  echo "  \"loadavg_start\": \"$(cut -d' ' -f1-3 /proc/loadavg)\","
  echo "  \"invlab_commit\": \"$(git rev-parse --short HEAD)\","
  echo "  \"python_torch\": \"$($PY -c 'import torch; print(torch.__version__)')\""
  echo "}"
} > "$RAW/machine.json"

rust_run() {
  local i=$1
  rm -rf "$WORK/runs"
  "$BIN" --batch configs/default.toml --out "$WORK/runs" \
    --set train.epochs="$EPOCHS" --set eval.ekld_every=0 2> "$RAW/rust-$i.log"
  cp "$WORK"/runs/*/metrics.jsonl "$RAW/rust-$i.metrics.jsonl"
  target/release/examples/bench_transforms configs/default.toml "$RAW/rust-transforms-$i.json" \
    2>> "$RAW/rust-$i.log"
}
py_run() {
  local i=$1
  (cd bench && "../$PY" ref_train.py "$WORK/data" "$EPOCHS" "../$RAW/py-train-$i.json") \
    2> "$RAW/py-$i.log"
  (cd bench && "../$PY" ref_ekld.py "$WORK/data" 100 "../$RAW/py-ekld-$i.json") \
    2>> "$RAW/py-$i.log"
}

for i in $(seq 1 "$PAIRS"); do
  if [ $((i % 2)) -eq 1 ]; then first=rust second=py; else first=py second=rust; fi
  for side in $first $second; do
    echo "pair $i/$PAIRS: $side ($(cut -d' ' -f1-3 /proc/loadavg))" >&2
    ${side}_run "$i"
  done
done
sed -i "s/^}$/, \"loadavg_end\": \"$(cut -d' ' -f1-3 /proc/loadavg)\"}/" "$RAW/machine.json"
"$PY" bench/summarize.py
