# Baseline: only the mask decoder trains (the image encoder stays the source model's), prompt-free.
_base_ = ["../_base_/schedules/sam_adamw_20e.py", "../_base_/models/sam_tiny_shapes.py",
          "../_base_/datasets/shapes_shadow.py"]
adapter = dict(type="parameters")
task = dict(type="SegmentationTask", prompt=dict(mode="none"), train_decoder=True, loss=dict(bce=1.0, dice=1.0))
