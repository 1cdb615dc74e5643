# LoRA on the q and v slices of the fused qkv projection only (the original LoRA recipe: W_q and W_v).
_base_ = [
    "../_base_/models/vit_tiny_shapes.py",
    "../_base_/datasets/shapes_count.py",
    "../_base_/schedules/adamw_cosine_20e.py",
]
adapter = dict(type="lora", r=8, alpha=8, target_modules=["blocks.*.attn.qkv"], qkv_slices=["q", "v"])
