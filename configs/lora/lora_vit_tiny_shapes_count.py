# LoRA on the fused qkv projection of every block (the visual-table "LoRA-8" convention: scale alpha/r = 1).
_base_ = [
    "../_base_/models/vit_tiny_shapes.py",
    "../_base_/datasets/shapes_count.py",
    "../_base_/schedules/adamw_cosine_20e.py",
]
adapter = dict(type="lora", r=8, alpha=8, target_modules=["blocks.*.attn.qkv"])
