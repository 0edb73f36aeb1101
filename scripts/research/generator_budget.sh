#!/usr/bin/env bash
# GIT's generator within a CPU budget (issue #19, item 4): the small preset against the
# variants the issue names, each trained from scratch on the same data and seed, resumably.
#
# Variants (each a `[git]` override of the small preset; every one is part of the cache key):
#   preset      the small preset: 3-layer discriminator (its critic scores 3x3 patches), 1,000
#               iterations of 8 images
#   dis4        the paper's 4-layer discriminator (28 -> 14 -> 7 -> 3 -> 1: one score for the
#               whole image)
#   dis4-1500   dis4 for 1,500 iterations
#   batch16     the preset at 16 images an iteration
#   style4      the style reconstruction weighted 4 instead of MUNIT's 1 (a deviation from the
#               paper, labelled as one)
# Each run is a CE-DRS-GIT run on configs/default-bg-long-git.toml cut to 3 classifier epochs
# (E1 = 1), enough for the generator phase: it trains the generator into a cache of its own
# (RUNS/generators, so nothing is reused from earlier runs and every time is a training time),
# and measures its coverage diagnostic. Then `invlab report` tables the coverage per transform
# (RESULTS/generator-budget/TRANSFORM/coverage.csv) and generator_budget_table.py writes the time, the
# losses over the last 100 iterations (each domain's style reconstruction against the 0.80 of
# an encoder that answers 0) and the coverage into RESULTS/generator-budget/README.md.
#
# Usage: scripts/research/generator_budget.sh [--transforms "bg dil"] [--seeds "0"]
#            [--variants "preset dis4 ..."] [--runs DIR] [--results DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
transforms="bg dil"
seeds="0"
variants="preset dis4 dis4-1500 batch16 style4"
runs=runs-generator-budget
results=docs/results
while [[ $# -gt 0 ]]; do
  case "$1" in
    --transforms) transforms="$2"; shift 2 ;;
    --seeds) seeds="$2"; shift 2 ;;
    --variants) variants="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --results) results="$2"; shift 2 ;;
    *) echo "generator_budget.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
scripts/setup.sh
cargo build --release --quiet
invlab=target/release/invlab

declare -A variant_sets=(
  [preset]=""
  [dis4]="git.dis_layers=4"
  [dis4-1500]="git.dis_layers=4 git.iterations=1500"
  [batch16]="git.batch_size=16"
  [style4]="git.recon_s_weight=4"
)
for variant in $variants; do
  [[ -v "variant_sets[$variant]" ]] || { echo "generator_budget.sh: unknown variant $variant" >&2; exit 2; }
done
mkdir -p "$runs/generators"
runs=$(cd "$runs" && pwd)
read -r -a seed_list <<< "$seeds"
sweep_seeds=$(IFS=,; echo "${seed_list[*]}")
out="$results/generator-budget"
all_dirs=()
for transform in $transforms; do
  dirs=()
  for variant in $variants; do
    sets=(--set "data.transform=$transform" --set train.epochs=3 --set "train.decay_epochs=[1,2]"
      --set "git.cache_dir=\"$runs/generators\"" --set "name=\"genbudget-$transform-$variant\"")
    for s in ${variant_sets[$variant]}; do sets+=(--set "$s"); done
    # One at a time: the seconds an iteration are compared between variants.
    "$invlab" --batch configs/default-bg-long-git.toml "${sets[@]}" --sweep "seed=$sweep_seeds" \
      --jobs 1 --continue --out "$runs"
    for s in "${seed_list[@]}"; do dirs+=("$runs/genbudget-$transform-$variant-seed$s"); done
  done
  # One report per transform: its coverage.csv feeds the table (the classifier's 3 epochs
  # compare nothing, so no baseline is named).
  "$invlab" report "${dirs[@]}" --out "$out/$transform" > /dev/null
  all_dirs+=("${dirs[@]}")
done
python3 scripts/research/generator_budget_table.py "$out" "${all_dirs[@]}"
