# Houlsby adapters: sequential bottlenecks after attention and after the MLP of every block.
_base_ = [
    "../_base_/models/vit_tiny_shapes.py",
    "../_base_/datasets/shapes_count.py",
    "../_base_/schedules/adamw_cosine_20e.py",
]
adapter = dict(type="houlsby", hidden_dim=8, target_modules=["blocks.*.attn", "blocks.*.mlp"])
