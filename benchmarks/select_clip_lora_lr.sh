#!/usr/bin/env bash
# CLIP-LoRA's learning rate for the model-zoo CLIP, chosen on the val200 split (never on test): the size task,
# K = 4, seed 1, lr in {2e-4 (the reference's, tuned for ViT-B/16), 1e-3, 5e-3}. Prints "K lr val-top-1" rows.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-work_dirs/select_clip_lora_lr}
k=4
for lr in 2e-4 1e-3 5e-3; do
  python tools/train.py configs/clip_lora/clip_lora_clip_tiny_shapes.py --work-dir "$out/k${k}_lr${lr}" \
    --cfg-options data.train.shots=$k optimizer.lr=$lr \
    data.test.split=val200 > /dev/null 2>&1
  acc=$(python -c "import json,glob; f=sorted(glob.glob('$out/k${k}_lr${lr}/*/results.json'))[-1]; print(json.load(open(f))['metrics']['test/acc'])")
  echo "$k $lr $acc"
done
