#!/usr/bin/env bash
# Set up (first time only), build, and run the whole test suite (CPU, well under 15 minutes).
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
exec cargo test "$@"
