#!/usr/bin/env bash
# The GPU check: one prepared script of a few minutes, run from the kit that build.sh makes
# (.gpu-kit/kit/). Writes OUT/summary.json, OUT/summary.md, OUT/lab.txt (the lab drawn once),
# OUT/run.log (every command's output) and OUT/details.tar.gz (the runs' directories and the
# raw step files). On a machine without a usable GPU the GPU steps are reported as skipped and
# the rest runs on the CPU at small sizes, which is how the kit is checked where it is built.
#
#   kit/run.sh OUT
#   TORCH_LIB=/path/to/torch/lib kit/run.sh OUT     libtorch 2.11's folder (default: the one
#                                                  of `$PYTHON -c 'import torch'`)
#   PYTHON=python3                                 the Python of the PyTorch references (torch,
#                                                  numpy); without them those steps are skipped
#   QUICK=1                                        the CPU sizes on a GPU too (a minute's check)
set -uo pipefail
KIT=$(cd "$(dirname "$0")" && pwd)
OUT=${1:?usage: run.sh OUT}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
PYTHON=${PYTHON:-python3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/invlab-gpu-check.XXXXXX")
STEPS=$WORK/steps
mkdir -p "$STEPS" "$WORK/runs"
LOG=$OUT/run.log
: >"$LOG"
T0=$(date +%s)
say() { echo "[$(($(date +%s) - T0)) s] $*" | tee -a "$LOG" >&2; }
# step_file NAME STATUS [REASON]: a step's outcome when it has no figures of its own.
step_file() {
  "$PYTHON_PLAIN" -c 'import json,sys; json.dump({"status": sys.argv[2], "reason": sys.argv[3]}, open(sys.argv[1], "w"))' \
    "$STEPS/$1.json" "$2" "${3:-}"
}
# Plain Python (no torch needed) for the JSON plumbing.
PYTHON_PLAIN=$(command -v python3 || command -v "$PYTHON")

# 0. Libraries: the kit's binaries load the machine's libtorch 2.11.
if [[ -z ${TORCH_LIB:-} ]]; then
  TORCH_LIB=$("$PYTHON" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))' 2>/dev/null || true)
fi
[[ -n $TORCH_LIB && -f $TORCH_LIB/libtorch_cpu.so ]] || {
  say "no libtorch found (TORCH_LIB=${TORCH_LIB:-unset}): set TORCH_LIB to torch 2.11's lib folder"
  exit 1
}
export LD_LIBRARY_PATH=$TORCH_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
INVLAB=$KIT/bin/invlab
PROBE=$KIT/bin/gpu_check
EXPORT=$KIT/bin/export_dataset
say "kit $(tr -d '\n ' <"$KIT/BUILD.json" | cut -c1-200)"
say "libtorch from $TORCH_LIB"
ldd "$INVLAB" >"$WORK/ldd.txt" 2>&1
if grep -q "not found" "$WORK/ldd.txt"; then
  say "missing libraries:"; grep "not found" "$WORK/ldd.txt" | tee -a "$LOG" >&2
  exit 1
fi
{ echo; uname -a; nvidia-smi -L 2>&1 || echo "no nvidia-smi"; } >>"$WORK/ldd.txt" 2>&1
"$INVLAB" --version >>"$LOG" 2>&1 || { say "invlab does not start"; exit 1; }

# The PyTorch references need torch and numpy in $PYTHON.
if "$PYTHON" -c 'import torch, numpy' 2>/dev/null; then
  REF_OK=1
  say "references: $("$PYTHON" -c 'import torch; print("torch", torch.__version__)')"
else
  REF_OK=0
  say "references skipped: $PYTHON has no torch and numpy"
fi

# 1. Devices, as libtorch and NVML see them.
"$PROBE" devices >"$STEPS/devices.json" 2>>"$LOG"
GPUS=$("$PYTHON_PLAIN" -c 'import json,sys; print(json.load(open(sys.argv[1]))["libtorch"]["device_count"])' "$STEPS/devices.json" 2>/dev/null || echo 0)
if [[ ${GPUS:-0} -gt 0 ]]; then
  MODE=gpu DEV=cuda:0
  UUID0=$("$PYTHON_PLAIN" -c '
import json, sys
d = json.load(open(sys.argv[1]))["nvml"]["devices"]
print(next((g["uuid"] for g in d if g["cuda_ordinal"] == 0), ""))' "$STEPS/devices.json")
  # The same under CUDA_VISIBLE_DEVICES: by index, and by the first GPU's UUID.
  CUDA_VISIBLE_DEVICES=0 "$PROBE" devices >"$STEPS/devices-visible-0.json" 2>>"$LOG"
  [[ -n $UUID0 ]] && CUDA_VISIBLE_DEVICES=$UUID0 "$PROBE" devices >"$STEPS/devices-visible-uuid.json" 2>>"$LOG"
else
  MODE=cpu DEV=cpu
fi
QUICK=${QUICK:-$([[ $MODE == cpu ]] && echo 1 || echo 0)}
say "mode $MODE ($GPUS CUDA device(s)), device $DEV, quick=$QUICK"

# Sizes: the real ones on a GPU, small ones on the CPU (the kit's own check).
if [[ $QUICK == 1 ]]; then
  DEFAULT_SET=(--set train.epochs=2 --set train.decay_epochs=[1,2] --set eval.ekld_every=0)
  REF_EPOCHS=2
  CIFAR=(--train-per-class 300 --test-per-class 50)
  RESNET_KV=(data.max_per_class=300 train.epochs=2 train.decay_epochs=[1,2])
  RESNET_EPOCHS=2
  GEN_ITERS=10
  LAB_SECONDS=3
else
  DEFAULT_SET=()
  REF_EPOCHS=5
  CIFAR=()
  RESNET_KV=(train.epochs=4 train.decay_epochs=[3,4])
  RESNET_EPOCHS=4
  GEN_ITERS=300
  LAB_SECONDS=10
fi

# batch NAME [ARGS...]: one batch run into $WORK/runs/NAME, output to the log.
batch() {
  local name=$1; shift
  "$INVLAB" --batch --out "$WORK/runs" --set name="$name" "$@" >>"$LOG" 2>&1
}

cd "$KIT"

# 1b. `auto` picks a GPU where there is one; a bad cuda:N is a clear error.
say "step 1: device = auto, and a device that is not there"
batch auto configs/default.toml --set device=auto --set train.epochs=1 --set eval.ekld_every=0 \
  --set eval.ekld_images_per_class=1 --set eval.ekld_samples=1 || true
BAD=cuda:$GPUS
"$INVLAB" --batch --out "$WORK/runs" --set name=bad-device "$KIT/configs/default.toml" \
  --set device="$BAD" --set train.epochs=1 >"$WORK/bad-device.txt" 2>&1
echo "exit $?" >>"$WORK/bad-device.txt"

# 2. The default config on the device, sampled by the product's NVML sampler; the references.
say "step 2: configs/default.toml on $DEV"
timeout 300 "$PROBE" sample "$STEPS/default-sample.json" -- \
  "$INVLAB" --batch --out "$WORK/runs" --set name=default configs/default.toml \
  --set device="$DEV" "${DEFAULT_SET[@]}" >>"$LOG" 2>&1 || say "default run failed (see run.log)"
if [[ $REF_OK == 1 ]]; then
  "$EXPORT" configs/default.toml "$WORK/data-default" >>"$LOG" 2>&1
  # The tutorial pipeline with the plain model, and the careful one with invlab's layout of the
  # same function (channels-last weights: what tensor cores want too).
  for ref in "dataloader small-cnn" "tensor small-cnn-invlab-layout"; do
    set -- $ref
    (cd bench && timeout 240 "$PYTHON" ref_train.py "$WORK/data-default" "$REF_EPOCHS" \
      "$STEPS/ref-default-$1.json" "$2" --loader "$1" --device "$DEV") >>"$LOG" 2>&1 \
      || say "reference ($ref) failed"
  done
fi

# 3. ResNet-32 on CIFAR-shaped data: epoch time against PyTorch; deterministic twice; stop / resume.
say "step 3: ResNet-32 on generated CIFAR-10-shaped data"
"$PROBE" make-cifar "$WORK/cifar" "${CIFAR[@]}" >>"$LOG" 2>&1
# The config's overrides as KEY=VALUE (export_dataset's form) and as --set flags (invlab's).
RESNET_KV=(data.root="$WORK/cifar" device="$DEV" train.crop_flip=false eval.ekld_every=0 "${RESNET_KV[@]}")
RESNET=(configs/cifar10-lt.toml)
for kv in "${RESNET_KV[@]}"; do RESNET+=(--set "$kv"); done
timeout 300 "$PROBE" sample "$STEPS/resnet-sample.json" -- \
  "$INVLAB" --batch --out "$WORK/runs" --set name=resnet32 "${RESNET[@]}" >>"$LOG" 2>&1 \
  || say "ResNet-32 run failed"
if [[ $REF_OK == 1 ]]; then
  "$EXPORT" configs/cifar10-lt.toml "$WORK/data-cifar" "${RESNET_KV[@]}" >>"$LOG" 2>&1 || true
  for loader in dataloader tensor; do
    (cd bench && timeout 300 "$PYTHON" ref_train.py "$WORK/data-cifar" "$RESNET_EPOCHS" \
      "$STEPS/ref-resnet32-$loader.json" resnet32 --loader "$loader" --device "$DEV") >>"$LOG" 2>&1 \
      || say "ResNet-32 reference ($loader) failed"
  done
fi
DET=("${RESNET[@]}" --set train.deterministic=true)
batch det-a "${DET[@]}" || say "deterministic run a failed"
batch det-b "${DET[@]}" || say "deterministic run b failed"
# Stopped by SIGTERM once a checkpoint is written, then resumed.
"$INVLAB" --batch --out "$WORK/runs" --set name=det-stopped "${DET[@]}" >>"$LOG" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  if "$PYTHON_PLAIN" -c '
import json, sys
s = json.load(open(sys.argv[1]))
sys.exit(0 if s.get("checkpoint_epoch", 0) >= 1 else 1)' "$WORK/runs/det-stopped/state.json" 2>/dev/null; then
    break
  fi
  kill -0 $pid 2>/dev/null || break
  sleep 0.2
done
kill -TERM $pid 2>/dev/null
wait $pid
echo "$?" >"$WORK/det-stopped-exit.txt"
"$INVLAB" --batch --resume "$WORK/runs/det-stopped" >>"$LOG" 2>&1 || say "resume failed"

# 4. GIT's generator: iterations per second for the small and the paper preset.
say "step 4: the generator, small and paper presets, $GEN_ITERS iterations each"
# (The shortest schedule validation accepts for GIT; the run is stopped by SIGTERM once its
# generator is trained: only the generator phase is timed.)
for preset in small paper; do
  "$INVLAB" --batch --out "$WORK/runs" --set name="gen-$preset" configs/default-bg-git.toml \
    --set device="$DEV" --set git.preset=$preset --set git.iterations=$GEN_ITERS \
    --set git.cache_dir="$WORK/generators-$preset" --set train.epochs=3 \
    --set train.decay_epochs=[1,2] --set eval.ekld_every=0 >>"$LOG" 2>&1 &
  pid=$!
  for _ in $(seq 1 1500); do
    [[ -f $WORK/runs/gen-$preset/generator.json ]] && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.2
  done
  kill -TERM $pid 2>/dev/null
  wait $pid
  [[ -f $WORK/runs/gen-$preset/generator.json ]] || say "generator ($preset) failed (run.log)"
done

# 5. Several runs sharing the GPU (--per-device): runs per hour at 1 and 4 per device.
if [[ $MODE == gpu ]]; then
  say "step 5: runs sharing $DEV"
  for k in 1 4; do
    start=$(date +%s.%N)
    timeout 400 "$INVLAB" --batch --out "$WORK/runs" configs/default.toml --set name=share$k \
      --sweep seed=0,1,2,3 --devices "$DEV" --per-device $k "${DEFAULT_SET[@]}" >>"$LOG" 2>&1 \
      || say "shared runs ($k per device) failed"
    end=$(date +%s.%N)
    "$PYTHON_PLAIN" -c 'import json,sys; json.dump({"status": "ok", "per_device": int(sys.argv[2]), "runs": 4, "wall_seconds": float(sys.argv[4]) - float(sys.argv[3])}, open(sys.argv[1], "w"))' \
      "$STEPS/share-$k.json" "$k" "$start" "$end"
  done
else
  step_file share-1 skipped "no GPU: --per-device shares a GPU"
  step_file share-4 skipped "no GPU: --per-device shares a GPU"
fi

# 6. The lab, drawn once headless while it trains on the device, with its system pane.
say "step 6: the lab drawn headless"
timeout 300 "$PROBE" lab-draw configs/default.toml "$OUT/lab.txt" --set device="$DEV" \
  --set train.epochs=3 --seconds "$LAB_SECONDS" --size 160x45 >>"$LOG" 2>&1 || say "lab draw failed"

say "summarising"
cp "$WORK/ldd.txt" "$WORK/bad-device.txt" "$WORK/det-stopped-exit.txt" "$STEPS/" 2>/dev/null
"$PYTHON_PLAIN" "$KIT/summarize.py" "$WORK" "$OUT" "$MODE" "$DEV" "$KIT/BUILD.json" \
  "$(($(date +%s) - T0))" >>"$LOG" 2>&1 \
  || say "summarize.py failed"
# The details: every run's small files (no checkpoints) and the raw step files.
(cd "$WORK" && find runs steps -type f ! -name '*.ot' ! -name '*.png' -print0 |
  tar --null -T - -czf "$OUT/details.tar.gz") 2>>"$LOG"
rm -rf "$WORK"
say "done in $(($(date +%s) - T0)) s: $OUT/summary.md"
cat "$OUT/summary.md" 2>/dev/null
