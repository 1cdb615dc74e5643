# AdaptFormer: a bottleneck parallel to each MLP, fed the un-normalised residual stream (input of norm2), scale 0.1.
_base_ = [
    "../_base_/models/vit_tiny_shapes.py",
    "../_base_/datasets/shapes_count.py",
    "../_base_/schedules/adamw_cosine_20e.py",
]
adapter = dict(type="adaptformer", hidden_dim=8, scale=0.1, target_modules=["blocks.*.mlp"], input_from="norm2")
