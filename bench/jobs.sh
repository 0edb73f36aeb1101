#!/usr/bin/env bash
# Throughput of a sweep run one at a time against two at a time, on this machine: the 6-run sweep
# configs/default.toml x seeds 0-2 x {ERM, CE-DRS}, with --jobs 1 (all cores to the one run)
# against --jobs 2 (the cores split between two runs), alternating the two modes ROUNDS times.
# Then once more --jobs 1 --threads T (T = the parallel runs' threads), to check that every
# parallel run's metrics equal the same point run alone with the same thread count, and to
# measure how an epoch scales from T threads to all cores (why parallel runs help or not).
# Writes bench/results/jobs.md (and prints it).
#
#   bench/jobs.sh                      # EPOCHS=5 ROUNDS=2 by default
#   EPOCHS=20 ROUNDS=3 bench/jobs.sh   # the full default config
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${EPOCHS:-5}
ROUNDS=${ROUNDS:-2}
cargo build --quiet --bin invlab
bin=target/debug/invlab
out=$(mktemp -d "${TMPDIR:-/tmp}/invlab-jobs.XXXXXX")
cores=$(nproc)
# E1 and E2 scaled to the epochs as in the default (14 and 18 of 20), so DRS switches on.
e1=$((EPOCHS * 7 / 10)); e2=$((EPOCHS * 9 / 10))
sweep=(--batch configs/default.toml --set "train.epochs=$EPOCHS" --set device=\"cpu\"
       --set "train.decay_epochs=[$e1, $e2]"
       --sweep seed=0,1,2 --sweep method.preset=erm,ce-drs)

timed() { # label, then invlab args; prints seconds
    local label=$1; shift
    local t0 t1
    t0=$(date +%s.%N)
    "$bin" "$@" >"$out/$label.out" 2>"$out/$label.err"
    t1=$(date +%s.%N)
    python3 -c "print(f'{$t1 - $t0:.1f}')"
}

declare -a seq par
for r in $(seq "$ROUNDS"); do
    seq+=("$(timed "seq-$r" "${sweep[@]}" --jobs 1 --out "$out/seq-$r")")
    par+=("$(timed "par-$r" "${sweep[@]}" --jobs 2 --out "$out/par-$r")")
    echo "round $r: --jobs 1 ${seq[-1]} s, --jobs 2 ${par[-1]} s" >&2
done
threads=$(python3 -c "import json,glob; print(json.load(open(glob.glob('$out/par-1/*/run.json')[0]))['cpu_threads'])")
alone=$(timed alone "${sweep[@]}" --jobs 1 --threads "$threads" --out "$out/alone")

python3 - "$out" "$ROUNDS" "$EPOCHS" "$cores" "$threads" "$alone" "${seq[*]}" "${par[*]}" <<'PY' | tee bench/results/jobs.md
import json, glob, os, statistics, sys, datetime
out, rounds, epochs, cores, threads, alone = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
seq = [float(x) for x in sys.argv[7].split()]
par = [float(x) for x in sys.argv[8].split()]

def metrics(run):
    def strip(v):
        if isinstance(v, dict):
            return {k: strip(x) for k, x in v.items() if 'seconds' not in k}
        if isinstance(v, list):
            return [strip(x) for x in v]
        return v
    return [strip(json.loads(l)) for l in open(os.path.join(run, 'metrics.jsonl'))]

def epoch_seconds(folder):
    return statistics.median(
        json.loads(l)['train_seconds']
        for run in glob.glob(os.path.join(folder, '*'))
        for l in open(os.path.join(run, 'metrics.jsonl')))

runs = sorted(os.path.basename(p) for p in glob.glob(os.path.join(out, 'par-1', '*')))
same = sum(metrics(os.path.join(out, 'par-1', r)) == metrics(os.path.join(out, 'alone', r)) for r in runs)
per_hour = lambda s: 6 * 3600 / s
ratio = statistics.median(seq) / statistics.median(par)
ep_all = epoch_seconds(os.path.join(out, 'seq-1'))
ep_one = epoch_seconds(os.path.join(out, 'alone'))
ep_par = epoch_seconds(os.path.join(out, 'par-1'))
print(f"# Sweep throughput: --jobs 1 against --jobs 2 ({datetime.date.today()})\n")
print(f"`bench/jobs.sh` (EPOCHS={epochs}, ROUNDS={rounds}) on a {cores}-core machine: `configs/default.toml`, "
      f"{epochs} epochs, device cpu, seeds 0-2 x {{ERM, CE-DRS}} = 6 runs per sweep, modes alternating.\n")
print("| mode | wall seconds per sweep (each round) | median | runs per hour |")
print("|---|---|---|---|")
print(f"| --jobs 1 ({cores} threads) | {', '.join(f'{s:.1f}' for s in seq)} | {statistics.median(seq):.1f} | {per_hour(statistics.median(seq)):.0f} |")
print(f"| --jobs 2 ({threads} thread(s) each) | {', '.join(f'{s:.1f}' for s in par)} | {statistics.median(par):.1f} | {per_hour(statistics.median(par)):.0f} |")
print(f"| --jobs 1 --threads {threads} (check) | {alone:.1f} | {alone:.1f} | {per_hour(alone):.0f} |")
print()
faster = "--jobs 2" if ratio > 1 else "--jobs 1"
print(f"**{faster} is faster**: --jobs 2 gives {ratio:.2f}x the runs per hour of --jobs 1 (goal >= 1.2x).\n")
print(f"Median training epoch: {ep_all:.2f} s with {cores} threads alone, {ep_one:.2f} s with {threads} thread(s) alone, "
      f"{ep_par:.2f} s with {threads} thread(s) beside another run. Scaling from {threads} to {cores} threads: "
      f"{ep_one / ep_all:.2f}x on one run (ideal {cores / threads:.0f}x); two runs side by side cost "
      f"{ep_par / ep_one:.2f}x a lone run's epoch each.\n")
print(f"Metrics (all but timings) of the {len(runs)} parallel runs equal to the same points run alone with "
      f"{threads} thread(s): **{same} of {len(runs)}**.")
PY
