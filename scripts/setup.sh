#!/usr/bin/env bash
# Installs what invlab needs to build, once: a project-local venv holding the PyPI torch==2.13.0
# wheel (the libtorch that tch 0.26 expects), and the `.libtorch` link that .cargo/config.toml
# points LIBTORCH at. Idempotent and quick when everything is already there.
#
#   scripts/setup.sh          CPU-capable set (~540 MB) unless an NVIDIA GPU is detected
#   scripts/setup.sh --cuda   the full CUDA set (~2.7 GB), also INVLAB_CUDA=1
#   scripts/setup.sh --cpu    the CPU-capable set even on a GPU machine
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH_VERSION=2.13.0
# The CPU-capable set: libtorch_cpu.so links against these two CUDA runtime libraries.
SMALL_SET=(torch==$TORCH_VERSION "nvidia-cuda-runtime==13.0.96.*" "nvidia-cuda-cupti==13.0.85.*")

want=auto
for arg in "$@"; do
  case "$arg" in
    --cuda) want=cuda ;;
    --cpu) want=cpu ;;
    *) echo "setup.sh: unknown option $arg (expected --cuda or --cpu)" >&2; exit 2 ;;
  esac
done
[[ "${INVLAB_CUDA:-}" == 1 ]] && want=cuda
if [[ $want == auto ]]; then
  if [[ -e /proc/driver/nvidia/version ]] || (command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1); then
    want=cuda
  else
    want=cpu
  fi
fi

python=""
for p in python3.11 python3 python; do
  if command -v "$p" >/dev/null && "$p" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)'; then
    python=$p; break
  fi
done
[[ -n $python ]] || { echo "setup.sh: Python 3.9+ is needed to fetch the libtorch wheel" >&2; exit 1; }

if [[ ! -x .venv/bin/python ]]; then
  echo "setup: creating .venv" >&2
  "$python" -m venv .venv
fi
site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
torch_dir="$site/torch"

installed_version() {
  [[ -f "$torch_dir/version.py" ]] && sed -n "s/^__version__ = '\([^']*\)'.*/\1/p" "$torch_dir/version.py" || true
}
has_cuda_set() { [[ -d "$site/nvidia/cudnn" ]]; }

version=$(installed_version)
if [[ $version != $TORCH_VERSION* ]] || [[ ! -f "$torch_dir/lib/libtorch_cpu.so" ]] || { [[ $want == cuda ]] && ! has_cuda_set; }; then
  .venv/bin/python -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
  if [[ $want == cuda ]]; then
    what="torch==$TORCH_VERSION with its CUDA libraries"; mb=2700
    packages=("torch==$TORCH_VERSION"); deps=()
  else
    what="torch==$TORCH_VERSION without its CUDA extras (the CPU-capable libtorch set)"; mb=540
    packages=("${SMALL_SET[@]}"); deps=(--no-deps)
  fi
  # One line on what is coming, then pip's own progress bar (on a terminal).
  echo "setup: fetching $what into .venv: about $mb MB, ~$(( (mb + 599) / 600 )) min at 10 MB/s or ~$(( (mb + 119) / 120 )) min at 2 MB/s (less if pip's cache holds it); once only" >&2
  .venv/bin/python -m pip install --disable-pip-version-check "${deps[@]}" "${packages[@]}" >&2
  echo "setup: libtorch installed" >&2
fi
[[ -f "$torch_dir/lib/libtorch_cpu.so" ]] || { echo "setup.sh: libtorch is missing from $torch_dir after install" >&2; exit 1; }

# A fixed path for LIBTORCH: re-pointing the link needs no torch-sys rebuild.
if [[ "$(readlink .libtorch 2>/dev/null)" != "$torch_dir" ]]; then
  ln -sfn "$torch_dir" .libtorch
fi
