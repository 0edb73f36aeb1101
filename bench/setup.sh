#!/usr/bin/env bash
# Creates the Python reference environment for the benchmarks in a separate, git-ignored venv
# (.bench-venv at the project root): PyTorch 2.13.0 (the same libtorch version invlab links),
# Pillow and NumPy. About 2.7 GB to download, ~2 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .bench-venv/bin/python ]; then
  "$PY" -m venv .bench-venv
fi
.bench-venv/bin/python -m pip install --quiet --upgrade pip
.bench-venv/bin/python -m pip install --quiet "torch==2.13.0" pillow numpy
.bench-venv/bin/python -c 'import torch, PIL, numpy; print("torch", torch.__version__, "pillow", PIL.__version__, "numpy", numpy.__version__)'
