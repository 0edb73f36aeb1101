#!/usr/bin/env bash
# Fuzzes the dataset format parsers and the config loader: each target runs for SECONDS (default
# 60), or for N executions when the first argument is `runs=N`, starting from the committed seeds
# in fuzz/seeds/<target> (and the corpus earlier runs left). Prints executions, seconds and
# crashes per target and exits non-zero if any target crashed (crash inputs land in
# fuzz/artifacts/<target>/).
#
#   scripts/fuzz.sh [SECONDS | runs=N] [TARGET...]
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`). Only a stable toolchain is assumed:
# RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its unstable flags; no sanitizer is used (the code is
# safe Rust; overflow and debug assertions are on, so arithmetic overflow is caught as a crash).
set -uo pipefail

LIMIT="${1:-60}"
shift || true
case "$LIMIT" in
    runs=*) STOP=(-runs="${LIMIT#runs=}") ;;
    *) STOP=(-max_total_time="$LIMIT") ;;
esac
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
    TARGETS=(idx npy cifar ppm gt_csv config)
fi

cd "$(dirname "$0")/../fuzz" || exit 2
export RUSTC_BOOTSTRAP=1
if ! command -v cargo-fuzz >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked || exit 2
fi

FLAGS=(--sanitizer none --release --debug-assertions)
cargo fuzz build "${FLAGS[@]}" || exit 2

mkdir -p logs
status=0
printf '%-8s %14s %8s %8s\n' target executions seconds crashes
for t in "${TARGETS[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    cp -n seeds/"$t"/* "corpus/$t/" 2>/dev/null || true
    before=$(find "artifacts/$t" -type f | wc -l)
    DICT=()
    [ -f "$t.dict" ] && DICT=(-dict="$PWD/$t.dict")
    cargo fuzz run "${FLAGS[@]}" "$t" "corpus/$t" -- \
        "${STOP[@]}" "${DICT[@]}" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1 \
        >"logs/$t.log" 2>&1
    rc=$?
    after=$(find "artifacts/$t" -type f | wc -l)
    execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "logs/$t.log" | grep -oE '[0-9]+$' | tail -1)
    secs=$(grep -oE 'Done [0-9]+ runs in [0-9]+ second' "logs/$t.log" | grep -oE 'in [0-9]+' | grep -oE '[0-9]+' | tail -1)
    crashes=$((after - before))
    printf '%-8s %14s %8s %8s\n' "$t" "${execs:-?}" "${secs:-?}" "$crashes"
    if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
        status=1
        echo "  $t failed (exit $rc); see fuzz/logs/$t.log and fuzz/artifacts/$t/" >&2
    fi
done
exit $status
