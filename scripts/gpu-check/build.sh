#!/usr/bin/env bash
# Builds the GPU check kit: invlab and its `gpu_check` tool compiled against libtorch 2.11
# (the PyPI torch==2.11.0 wheel, with tch 0.24, the release that expects it), for GPU machines
# whose Python holds PyTorch 2.11 and that can download nothing. The normal build is not
# touched: the kit builds in a shadow copy of the working tree with its own manifest, lock file,
# target folder and venv, all under .gpu-kit/ (git-ignored).
#
#   scripts/gpu-check/build.sh            -> .gpu-kit/kit/ (binaries, configs, scripts), its size
#   KIT_TORCH=2.11.0 KIT_TCH=0.24.0 ...   another pair (they must match: tch's README table)
#
# The kit is self-contained: copy .gpu-kit/kit/ to the GPU machine and run
# `kit/run.sh OUT` there (scripts/gpu-check/README.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
KIT_TORCH=${KIT_TORCH:-2.11.0}
KIT_TCH=${KIT_TCH:-0.24.0}
# What libtorch_cpu.so needs besides itself (as scripts/setup.sh's CPU-capable set).
CUDA_RT=${CUDA_RT:-"nvidia-cuda-runtime==13.0.96.*"}
CUPTI=${CUPTI:-"nvidia-cuda-cupti==13.0.85.*"}
WORK=$ROOT/.gpu-kit
VENV=$WORK/venv
SHADOW=$WORK/src
KIT=$WORK/kit
LIMIT_MB=${LIMIT_MB:-64}
mkdir -p "$WORK"

say() { echo "gpu-check build: $*" >&2; }

# 1. libtorch 2.11 (headers and libraries), without the CUDA extras: the GPU machine brings its own.
python=""
for p in python3.11 python3 python; do
  if command -v "$p" >/dev/null; then python=$p; break; fi
done
[[ -n $python ]] || { say "Python 3 is needed to fetch the torch wheel"; exit 1; }
[[ -x $VENV/bin/python ]] || "$python" -m venv "$VENV"
site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
torch_dir=$site/torch
have=$(sed -n "s/^__version__ = '\([^']*\)'.*/\1/p" "$torch_dir/version.py" 2>/dev/null || true)
if [[ $have != "$KIT_TORCH"* ]] || [[ ! -f $torch_dir/lib/libtorch_cpu.so ]]; then
  say "fetching torch==$KIT_TORCH (CPU-capable set, ~540 MB) into $VENV"
  "$VENV/bin/python" -m pip install --disable-pip-version-check --quiet --no-deps \
    "torch==$KIT_TORCH" "$CUDA_RT" "$CUPTI" >&2
fi
[[ -f $torch_dir/lib/libtorch_cpu.so ]] || { say "no libtorch_cpu.so under $torch_dir"; exit 1; }

# 2. The shadow copy: tracked and untracked-but-not-ignored files, as they are now.
say "copying the working tree into $SHADOW"
rm -rf "$SHADOW.new"
mkdir -p "$SHADOW.new"
git ls-files -co --exclude-standard -z | python3 -c '
import os, sys
for p in sys.stdin.buffer.read().split(b"\0"):
    if p and os.path.isfile(p):
        sys.stdout.buffer.write(p + b"\0")
' | tar --null -T - -cf - | tar -xmf - -C "$SHADOW.new"
# Fresh files get the time of copying; a file whose content is the same as in the last kit
# build's copy keeps that copy's time, so cargo rebuilds exactly what changed since then.
if [[ -d $SHADOW ]]; then
  python3 - "$SHADOW" "$SHADOW.new" <<'PY'
import filecmp, os, sys
old, new = sys.argv[1], sys.argv[2]
for root, _, files in os.walk(new):
    for name in files:
        path = os.path.join(root, name)
        before = os.path.join(old, os.path.relpath(path, new))
        if os.path.isfile(before) and filecmp.cmp(before, path, shallow=False):
            st = os.stat(before)
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
PY
fi
rm -rf "$SHADOW"
mv "$SHADOW.new" "$SHADOW"

# The other tch: the workspace pins both crates in one place.
sed -i -E "s/^tch = \"[^\"]*\"/tch = \"=$KIT_TCH\"/; s/^torch-sys = \"[^\"]*\"/torch-sys = \"=$KIT_TCH\"/" \
  "$SHADOW/Cargo.toml"
grep -q "^tch = \"=$KIT_TCH\"" "$SHADOW/Cargo.toml" || { say "could not pin tch in the shadow manifest"; exit 1; }
ln -sfn "$torch_dir" "$SHADOW/.libtorch"

# 3. Build, with the kit's own target folder (kept between builds).
say "building invlab, gpu_check and export_dataset against torch $KIT_TORCH / tch $KIT_TCH"
(
  cd "$SHADOW"
  export CARGO_TARGET_DIR=$WORK/target
  # The lock file came from the normal build: move only tch and torch-sys (and what they pull).
  cargo update --quiet -p tch -p torch-sys 2>/dev/null || cargo generate-lockfile --quiet
  cargo build --release --bin invlab
  cargo build --release -p invlab-tools --bin gpu_check --bin export_dataset
)

# 4. The kit: what run.sh needs and nothing else.
say "assembling $KIT"
rm -rf "$KIT"
mkdir -p "$KIT/bin" "$KIT/bench"
for b in invlab gpu_check export_dataset; do
  cp "$WORK/target/release/$b" "$KIT/bin/$b"
  strip "$KIT/bin/$b"
done
cp -r "$ROOT/configs" "$KIT/configs"
cp "$ROOT/scripts/gpu-check/run.sh" \
  "$ROOT/scripts/gpu-check/summarize.py" "$ROOT/scripts/gpu-check/README.md" "$KIT/"
cp "$ROOT/bench/common.py" "$ROOT/bench/ref_train.py" "$KIT/bench/"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$([[ -n $(git status --porcelain 2>/dev/null) ]] && echo true || echo false)
cat >"$KIT/BUILD.json" <<EOF
{
  "invlab_commit": "$commit",
  "working_tree_dirty": $dirty,
  "built": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "torch": "$KIT_TORCH",
  "tch": "$KIT_TCH",
  "rustc": "$(rustc --version)",
  "glibc": "$(ldd --version | head -1 | sed 's/.* //')",
  "needs_glibc": "$(objdump -T "$KIT"/bin/* | grep -o 'GLIBC_[0-9.]*' | sort -V | tail -1)"
}
EOF
bytes=$(du -sb "$KIT" | cut -f1)
mb=$(python3 -c "print(f'{$bytes / 2**20:.1f}')")
say "kit: $KIT, $mb MiB ($bytes bytes)"
du -b "$KIT"/bin/* | sed 's/^/  /' >&2
if (( bytes > LIMIT_MB * 1024 * 1024 )); then
  say "the kit is over $LIMIT_MB MiB"
  exit 1
fi
echo "$KIT"
