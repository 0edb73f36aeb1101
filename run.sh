#!/usr/bin/env bash
# Set up (first time only), build, and open the lab. Arguments go to invlab, e.g.
#   ./run.sh --batch configs/default.toml
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
binary="${CARGO_TARGET_DIR:-target}/release/invlab"
# A first build takes minutes: show cargo's progress then. When the binary is newer than every
# source, manifest and lock file, start it without a word from cargo.
stale=1
if [[ -x "$binary" ]] && [[ -z "$(find Cargo.toml Cargo.lock build.rs src crates themes configs \
  -newer "$binary" -print -quit 2>/dev/null)" ]]; then
  stale=0
fi
if [[ "$stale" == 1 ]]; then
  echo "run.sh: building invlab (release; the first build takes several minutes)" >&2
  cargo build --release --bin invlab
fi
exec "$binary" "$@"
