# Reference point: full fine-tuning of the model-zoo SAM on shadow detection, prompt-free.
_base_ = ["../_base_/schedules/sam_adamw_20e.py", "../_base_/models/sam_tiny_shapes.py",
          "../_base_/datasets/shapes_shadow.py"]
adapter = dict(type="full")
task = dict(type="SegmentationTask", prompt=dict(mode="none"), loss=dict(bce=1.0, dice=1.0))
optimizer = dict(lr=3e-3)  # chosen on val200 by benchmarks/sam_shadow.py (grid 3e-4 / 1e-3 / 3e-3)
