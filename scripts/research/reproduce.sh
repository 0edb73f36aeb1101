#!/usr/bin/env bash
# Reproduces the paper's findings on what this machine has, and writes docs/results/reproduction.md
# with one eKLD-vs-class-size figure per dataset (docs/results/reproduction-<dataset>/ekld_vs_size.png,
# beside the per-run table and the curves that `invlab report` writes there).
#
# Rows: the built-in glyphs with ROT, BG and DIL, and Fashion-MNIST-ROT-LT (Debian's
# dataset-fashion-mnist; skipped when absent; on the default's CPU schedule, small CNN for 20
# epochs, configs/fashion-mnist-rot-lt-cpu.toml). Methods: ERM, CE-DRS, Oracle, LDAM-DRW,
# Balanced-Softmax and CE-DRS-GIT. Seeds: SEEDS for the ROT and BG rows, the first seed elsewhere.
# The statistics (mean ± sd, 95 % intervals, paired comparisons on seeds) are `invlab report`'s:
# each row's report against ERM, and CE-DRS-GIT's against CE-DRS in its vs-ce-drs/ folder;
# reproduction_table.py only reads and words them, and adds a section on GIT against its oracle
# control from the docs/results/git-oracle-ROW/ reports that scripts/research/git_oracle.sh writes.
#
# Usage: scripts/research/reproduce.sh [--seeds "0 1 2"] [--rows "glyphs-rot glyphs-bg"] [--quick]
#            [--runs DIR] [--methods "ERM LA-tau2"] [--results DIR]
#   --rows    only these rows (default: the three glyph rows, and Fashion-MNIST when present)
#   --methods only these methods: presets (crates/invlab-core/src/config/presets.rs), or
#             LA-tauT for the logit-adjusted loss at tau = T (LA at tau 1 is Balanced Softmax)
#   --quick   final (adaptive) eKLD to 15 % of each class's eKLD instead of 8 %
#   --runs    keep the run directories there (default: a temporary folder); finished runs found
#             there are reused and stopped or killed ones resumed from their last checkpoint, so
#             an interrupted reproduction continues where it stopped
#   --results where the report goes (default docs/results: reproduction.md and one
#             reproduction-ROW/ folder per row)
set -euo pipefail
cd "$(dirname "$0")/../.."
seeds="0 1 2"
quick=()
runs=""
only_rows=""
results=docs/results
methods=(ERM CE-DRS Oracle LDAM-DRW Balanced-Softmax CE-DRS-GIT)
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seeds) seeds="$2"; shift 2 ;;
    --rows) only_rows="$2"; shift 2 ;;
    --quick) quick=(--set eval.ekld_target_relative=0.15); shift ;;
    --runs) runs="$2"; shift 2 ;;
    --methods) read -r -a methods <<< "$2"; shift 2 ;;
    --results) results="$2"; shift 2 ;;
    *) echo "reproduce.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
scripts/setup.sh
cargo build --release --quiet
if [[ -z "$runs" ]]; then
  runs=$(mktemp -d)
  trap 'rm -rf "$runs"' EXIT
fi
mkdir -p "$runs" "$results"
first_seed=${seeds%% *}

# dataset row -> config and overrides; which seeds it gets
rows=(glyphs-rot glyphs-bg glyphs-dil)
declare -A row_config=(
  [glyphs-rot]="configs/default.toml"
  [glyphs-bg]="configs/default.toml --set data.transform=bg"
  [glyphs-dil]="configs/default.toml --set data.transform=dil"
  [fashion-mnist-rot]="configs/fashion-mnist-rot-lt-cpu.toml"
)
declare -A row_seeds=(
  [glyphs-rot]="$seeds" [glyphs-bg]="$seeds"
  [glyphs-dil]="$first_seed" [fashion-mnist-rot]="$first_seed"
)
if [[ -d /usr/share/datasets/fashion-mnist || -d data/fashion-mnist ]]; then
  rows+=(fashion-mnist-rot)
else
  echo "reproduce.sh: Fashion-MNIST not found; its row is skipped" >&2
fi
if [[ -n "$only_rows" ]]; then
  for row in $only_rows; do
    [[ -n "${row_config[$row]:-}" ]] || { echo "reproduce.sh: unknown row $row" >&2; exit 2; }
  done
  read -r -a rows <<< "$only_rows"
fi

for row in "${rows[@]}"; do
  dirs=()
  drs_git=()
  for method in "${methods[@]}"; do
    lower=$(echo "$method" | tr 'A-Z' 'a-z')
    case "$lower" in
      la-tau*) method_sets=(--set method.preset=la --set "method.la_tau=${lower#la-tau}") ;;
      *) method_sets=(--set "method.preset=$method") ;;
    esac
    for seed in ${row_seeds[$row]}; do
      name="$row-$lower-s$seed"
      if [[ -f "$runs/$name/summary.json" ]]; then
        dirs+=("$runs/$name")
        [[ "$lower" == ce-drs || "$lower" == ce-drs-git ]] && drs_git+=("$runs/$name")
        continue
      fi
      sets=(--set "name=\"$name\"" --set "seed=$seed" "${method_sets[@]}")
      # shellcheck disable=SC2086
      # --continue: a run stopped or killed part-way resumes from its checkpoint instead of
      # starting again beside it as NAME-2.
      dir=$(target/release/invlab --batch ${row_config[$row]} --out "$runs" --continue "${sets[@]}" "${quick[@]}")
      dirs+=("$dir")
      [[ "$lower" == ce-drs || "$lower" == ce-drs-git ]] && drs_git+=("$dir")
    done
  done
  baseline=()
  printf '%s\n' "${dirs[@]}" | grep -q -- '-erm-s' && baseline=(--baseline "$row-erm")
  target/release/invlab report "${dirs[@]}" "${baseline[@]}" --out "$results/reproduction-$row" > /dev/null
  if printf '%s\n' "${drs_git[@]}" | grep -q -- '-ce-drs-git-s' && printf '%s\n' "${drs_git[@]}" | grep -q -- '-ce-drs-s'; then
    target/release/invlab report "${drs_git[@]}" --baseline "$row-ce-drs" --out "$results/reproduction-$row/vs-ce-drs" > /dev/null
  fi
done
python3 scripts/research/reproduction_table.py "$results" "${rows[@]}" > "$results/reproduction.md"
echo "wrote $results/reproduction.md"
