# CLIP-LoRA on the model-zoo CLIP, few-shot shapes-world size task (the offline default):
#     python tools/train.py configs/clip_lora/clip_lora_clip_tiny_shapes.py --cfg-options data.train.shots=4
# The reference recipe (configs/_base_/clip_methods/clip_lora.py) with one change: lr 1e-3 instead of 2e-4, chosen
# on val200 for this small model (benchmarks/select_clip_lora_lr.sh; docs/clip_few_shot.md).
_base_ = ["../_base_/default_runtime.py", "../_base_/models/clip_tiny_shapes.py",
          "../_base_/datasets/shapes_few_shot.py", "../_base_/clip_methods/clip_lora.py"]
backbone = dict(split_attention=True)
optimizer = dict(lr=1e-3)
trainer = dict(log_every_n_steps=50)
seed = 1
