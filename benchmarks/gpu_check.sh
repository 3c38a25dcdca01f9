#!/usr/bin/env bash
# One-shot device check for a bare GPU machine: its own Python with torch, torchvision, timm, transformers, pandas,
# pillow, tensorboard and torchmetrics, no network, no pip, only this repository's tree.
#
#     benchmarks/gpu_check.sh OUT_DIR        (from the repository root; PYTHON=... to choose the interpreter)
#
# Runs, in at most 8 minutes: the CUDA tests (pytest -m gpu, when pytest is there), the headline command
# `flash-train image_classification --backbone resnet18 --gpus 1` on the bundled sample and on a generated 224 px
# JPEG folder (2 epochs), Trainer.fit vs a hand-written CUDA loop (resnet18, bf16), the input-bound ratio with the
# default pipeline, training images/s with CPU-decoded vs GPU-decoded JPEGs (nvjpeg, decode_on_device=True), and
# one 16-mixed step with gradient scaling; writes OUT_DIR/gpu_check.json (see benchmarks/gpu_check.py). Without
# CUDA it runs a short CPU version of the same steps.
set -euo pipefail
if [ $# -lt 1 ]; then
    echo "usage: benchmarks/gpu_check.sh OUT_DIR" >&2
    exit 2
fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mkdir -p "$1"
export PYTHONPATH="$root/packages/core/src:$root/packages/tasks/src:$root/packages/cli/src${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1
cd "$root"
# 470 s for the steps, the rest of the 8 minutes for starting Python and writing the JSON
exec timeout --signal=TERM "${GPU_CHECK_TIMEOUT:-470}" "${PYTHON:-python}" benchmarks/gpu_check.py "$1"
