# Pfeiffer adapter ("Adapter-8" in VPT/NOAH tables): one sequential bottleneck on each MLP output.
_base_ = [
    "../_base_/models/vit_tiny_shapes.py",
    "../_base_/datasets/shapes_count.py",
    "../_base_/schedules/adamw_cosine_20e.py",
]
adapter = dict(type="pfeiffer", hidden_dim=8, target_modules=["blocks.*.mlp"])
