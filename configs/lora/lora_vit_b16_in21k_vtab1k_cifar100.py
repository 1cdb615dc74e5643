# LoRA-8 on qkv (scale 1) with ViT-B/16 IN-21k on VTAB-1k CIFAR-100, the NOAH recipe (AdamW lr 1e-3, wd 1e-4,
# batch 64, 100 epochs, no augmentation). Needs the VTAB-1k lists under data/vtab-1k/cifar and the local
# weights named in _base_/models/vit_b16_in21k.py. Not run in tests. For comparison, the published LoRA-8 VTAB-1k
# group means (V-PETL Bench table): natural 79.5, specialized 84.6, structured 59.8, mean of group means 74.60.
_base_ = [
    "../_base_/models/vit_b16_in21k.py",
    "../_base_/datasets/vtab_1k.py",
    "../_base_/schedules/adamw_cosine_100e.py",
]
adapter = dict(type="lora", r=8, alpha=8, target_modules=["blocks.*.attn.qkv"])
trainer = dict(precision="bf16-mixed")
