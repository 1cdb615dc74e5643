# Full fine-tuning: every parameter trains (the reference point of PEFT tables).
_base_ = [
    "../_base_/models/vit_tiny_shapes.py",
    "../_base_/datasets/shapes_count.py",
    "../_base_/schedules/adamw_cosine_20e.py",
]
adapter = dict(type="full")
optimizer = dict(lr=3e-4)
