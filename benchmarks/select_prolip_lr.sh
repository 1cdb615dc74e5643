#!/usr/bin/env bash
# ProLIP's learning rate for the model-zoo CLIP, chosen on the val200 split (never on test): the size task,
# K = 4 and 16, seed 1, lr in {1e-5, 1e-4, 1e-3, 1e-2}. Prints "K lr val-top-1" rows.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-work_dirs/select_prolip_lr}
for k in 4 16; do
  for lr in 1e-5 1e-4 1e-3 1e-2; do
    python tools/train.py configs/prolip/prolip_clip_tiny_shapes.py --work-dir "$out/k${k}_lr${lr}" \
      --cfg-options data.train.shots=$k optimizer.lr=$lr data.test.split=val200 > /dev/null 2>&1
    acc=$(python -c "import json,glob,sys; f=sorted(glob.glob('$out/k${k}_lr${lr}/*/results.json'))[-1]; print(json.load(open(f))['metrics']['test/acc'])")
    echo "$k $lr $acc"
  done
done
