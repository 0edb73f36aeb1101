#!/usr/bin/env bash
# Set up (first time only), build, and open the lab. Arguments go to invlab, e.g.
#   ./run.sh --batch configs/default.toml
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
exec cargo run --release --quiet -- "$@"
