# The model-zoo SAM on its own source task (object masks), nothing trained: how well it segments what it was
# pretrained on, per prompt mode (--cfg-options task.prompt.mode=box, or points).
_base_ = ["../_base_/default_runtime.py", "../_base_/models/sam_tiny_shapes.py",
          "../_base_/datasets/shapes_segmentation.py"]
adapter = dict(type="parameters")  # nothing trains
task = dict(type="SegmentationTask", prompt=dict(mode="none", positives=2, negatives=1), train_decoder=False)
trainer = dict(max_steps=0, enable_progress_bar=False)
