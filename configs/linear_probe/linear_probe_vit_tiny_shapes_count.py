# Linear probe: only the new head trains on the frozen source features.
_base_ = [
    "../_base_/models/vit_tiny_shapes.py",
    "../_base_/datasets/shapes_count.py",
    "../_base_/schedules/adamw_cosine_20e.py",
]
adapter = dict(type="linear_probe")
optimizer = dict(lr=1e-2)
