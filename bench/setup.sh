#!/usr/bin/env bash
# Creates the Python reference environment for the benchmarks in a separate, git-ignored venv
# (.bench-venv at the project root): PyTorch 2.13.0 (the same libtorch version invlab links),
# Pillow and NumPy.
#
#   bench/setup.sh
#
# PyPI's Linux x86-64 torch wheel is the CUDA build (~2.7 GB with its NVIDIA libraries), and it
# needs them even on a CPU: libtorch.so and libtorch_python.so link cuDNN, cuBLAS, NCCL and the
# rest, so installing torch without them (--no-deps) fails at `import torch`
# (libcudnn.so.9 not found).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
TORCH_VERSION=2.13.0
if [ ! -x .bench-venv/bin/python ]; then
  "$PY" -m venv .bench-venv
fi
.bench-venv/bin/python -m pip install --quiet --upgrade pip
.bench-venv/bin/python -m pip install --quiet "torch==$TORCH_VERSION" pillow numpy
.bench-venv/bin/python -c 'import torch, PIL, numpy; print("torch", torch.__version__, "pillow", PIL.__version__, "numpy", numpy.__version__)'
