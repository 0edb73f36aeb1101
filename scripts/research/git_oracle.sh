#!/usr/bin/env bash
# GIT against CE-DRS and its oracle control on the paper's proportions (issue #19), resumable:
# the runs behind docs/results/git-oracle-{bg,dil}/ and the Fashion-MNIST-BG row.
#
# For each ROW, seeds two at a time, all three methods per pair (so every finished pair of
# seeds is complete and paired): CE-DRS-GIT, CE-DRS and GIT's oracle control, on the 26-epoch
# schedule of configs/default-bg-long.toml (DRS and the mixed rows enter after E1 = 14). Then
# `invlab report` against CE-DRS with the control as the reference (paired intervals, sign
# tests, the share of the gap GIT closes, the generator coverage table) into RESULTS/git-oracle-ROW.
# Runs already finished in RUNS are kept; a killed one continues from its checkpoint (--continue),
# so the same command picks up where an interrupted one stopped.
#
# Usage: scripts/research/git_oracle.sh [--rows "bg dil fashion-mnist-bg"] [--seeds "0 1 ... 9"]
#            [--runs DIR] [--results DIR] [--report-only]
#   rows: bg, dil (the built-in glyphs) and fashion-mnist-bg (configs/fashion-mnist-bg-long.toml;
#         Debian's dataset-fashion-mnist); rot (the built-in glyphs: its GIT is outside the paper,
#         which trains no rotation generator, so it is measured beside the oracle control)
set -euo pipefail
cd "$(dirname "$0")/../.."
rows="bg dil"
seeds="0 1 2 3 4 5 6 7 8 9"
runs=runs-git-oracle
results=docs/results
report_only=false
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rows) rows="$2"; shift 2 ;;
    --seeds) seeds="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --results) results="$2"; shift 2 ;;
    --report-only) report_only=true; shift ;;
    *) echo "git_oracle.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
scripts/setup.sh
cargo build --release --quiet
invlab=target/release/invlab

# row -> config and overrides, and the run names' stem
declare -A row_args=(
  [bg]="configs/default-bg-long.toml"
  [dil]="configs/default-bg-long.toml --set data.transform=dil"
  [fashion-mnist-bg]="configs/fashion-mnist-bg-long.toml"
  [rot]="configs/default-bg-long.toml --set data.transform=rot"
)
declare -A row_stem=(
  [bg]="default-bg-long"
  [dil]="default-dil-long"
  [fashion-mnist-bg]="fashion-mnist-bg-long"
  [rot]="default-rot-long"
)
declare -A method_suffix=([ce-drs-git]=git [ce-drs]=drs [ce-drs-git-oracle]=git-oracle)

read -r -a seed_list <<< "$seeds"
for row in $rows; do
  [[ -n "${row_args[$row]:-}" ]] || { echo "git_oracle.sh: unknown row $row" >&2; exit 2; }
  read -r -a args <<< "${row_args[$row]}"
  stem=${row_stem[$row]}
  mkdir -p "$runs/$row"
  if ! $report_only; then
    for ((i = 0; i < ${#seed_list[@]}; i += 2)); do
      pair=$(IFS=,; echo "${seed_list[*]:i:2}")
      for preset in ce-drs-git ce-drs ce-drs-git-oracle; do
        "$invlab" --batch "${args[@]}" --set "method.preset=$preset" \
          --set "name=\"$stem-${method_suffix[$preset]}\"" \
          --sweep "seed=$pair" --jobs 2 --threads 1 --continue --out "$runs/$row"
      done
    done
  fi
  dirs=()
  for s in "${seed_list[@]}"; do
    for kind in drs git git-oracle; do
      d="$runs/$row/$stem-$kind-seed$s"
      [[ -f "$d/summary.json" ]] && dirs+=("$d")
    done
  done
  # GIT runs made before the coverage diagnostic get their record from the cached generator.
  for d in "${dirs[@]}"; do
    if [[ "$d" == *-git-seed* && ! -f "$d/generator-coverage.json" ]]; then
      "$invlab" eval "$d" --no-ekld > /dev/null
    fi
  done
  "$invlab" report "${dirs[@]}" --baseline "$stem-drs" --reference "$stem-git-oracle" \
    --out "$results/git-oracle-$row"
done
