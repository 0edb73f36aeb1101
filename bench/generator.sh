#!/usr/bin/env bash
# GIT's generator phase, timed cold: configs/default-bg-git.toml (the small preset) with a fresh
# data folder each time (no cached generator, no cached dataset), the run stopped by SIGTERM
# once its generator is trained (the classifier phase is not timed here). Writes
# bench/results/generator.json: per run the generator's own seconds (generator.json), the wall
# time from start to the generator's end, and the last logged losses.
#
#   bench/generator.sh                 ITERATIONS=1500 RUNS=2 THREADS=2 (libtorch's default)
#   BIN=/path/to/other/invlab bench/generator.sh   an older build, for an A/B
set -euo pipefail
cd "$(dirname "$0")/.."
ITERATIONS=${ITERATIONS:-1500}
RUNS=${RUNS:-2}
THREADS=${THREADS:-2}
OUT=${OUT:-bench/results/generator.json}
if [[ -z ${BIN:-} ]]; then
  cargo build --release --bin invlab
  BIN=target/release/invlab
fi
export OMP_NUM_THREADS=$THREADS OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/invlab-generator-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
results=()
for i in $(seq 1 "$RUNS"); do
  data=$WORK/data-$i
  mkdir -p "$data"
  start=$(date +%s.%N)
  INVLAB_DATA_DIR=$data "$BIN" --batch configs/default-bg-git.toml --out "$WORK/runs-$i" \
    --set git.iterations="$ITERATIONS" 2>"$WORK/log-$i.txt" &
  pid=$!
  run=$WORK/runs-$i/default-bg-git
  while [[ ! -f $run/generator.json ]] && kill -0 $pid 2>/dev/null; do sleep 0.5; done
  end=$(date +%s.%N)
  kill -TERM $pid 2>/dev/null || true
  wait $pid || true
  [[ -f $run/generator.json ]] || { cat "$WORK/log-$i.txt" >&2; exit 1; }
  results+=("$(python3 - "$run" "$start" "$end" <<'PY'
import json, sys
run, start, end = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
g = json.load(open(f"{run}/generator.json"))
losses = [json.loads(l) for l in open(f"{run}/generator-losses.jsonl") if l.strip()]
print(json.dumps({"generator_seconds": g["seconds"], "iterations": g["iterations"],
                  "ms_per_iteration": 1000 * g["seconds"] / g["iterations"],
                  "wall_to_generator_seconds": end - start, "last_losses": losses[-1]}))
PY
)")
  echo "run $i: ${results[-1]}" >&2
done
python3 - "$OUT" "$BIN" "$THREADS" "${results[@]}" <<'PY'
import json, platform, statistics, subprocess, sys, time
out, binary, threads, *runs = sys.argv[1:]
runs = [json.loads(r) for r in runs]
version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
json.dump({
    "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "invlab": version, "cpu": cpu, "nproc": __import__("os").cpu_count(), "threads": int(threads),
    "config": "configs/default-bg-git.toml (small preset), cold: fresh data folder each run",
    "runs": runs,
    "median_generator_seconds": statistics.median(r["generator_seconds"] for r in runs),
    "median_ms_per_iteration": statistics.median(r["ms_per_iteration"] for r in runs),
}, open(out, "w"), indent=2)
print(open(out).read())
PY
