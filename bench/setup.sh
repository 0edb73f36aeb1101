#!/usr/bin/env bash
# Creates the Python reference environment for the benchmarks in a separate, git-ignored venv
# (.bench-venv at the project root): PyTorch 2.13.0 (the same libtorch version invlab links),
# Pillow and NumPy.
#
#   bench/setup.sh          the CPU-capable set: torch without its CUDA extras (~600 MB)
#   bench/setup.sh --cuda   torch with every CUDA library (~2.7 GB)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
TORCH_VERSION=2.13.0
if [ ! -x .bench-venv/bin/python ]; then
  "$PY" -m venv .bench-venv
fi
.bench-venv/bin/python -m pip install --quiet --upgrade pip
if [ "${1:-}" = "--cuda" ]; then
  .bench-venv/bin/python -m pip install --quiet "torch==$TORCH_VERSION" pillow numpy
else
  # libtorch_cpu.so links the CUDA runtime and CUPTI; the rest of the CUDA set is not needed
  # on a CPU. torch's own pure-Python dependencies are listed by hand because of --no-deps.
  .bench-venv/bin/python -m pip install --quiet --no-deps "torch==$TORCH_VERSION" \
    "nvidia-cuda-runtime==13.0.96.*" "nvidia-cuda-cupti==13.0.85.*"
  .bench-venv/bin/python -m pip install --quiet typing_extensions sympy networkx jinja2 \
    filelock fsspec pillow numpy
fi
.bench-venv/bin/python -c 'import torch, PIL, numpy; print("torch", torch.__version__, "pillow", PIL.__version__, "numpy", numpy.__version__)'
