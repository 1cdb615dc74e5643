# The frozen source model on the shifted task: the model-zoo SAM (pretrained to segment objects) asked, prompt-free,
# for the shadows. Nothing trains; the same runner tests it.
_base_ = ["../_base_/default_runtime.py", "../_base_/models/sam_tiny_shapes.py", "../_base_/datasets/shapes_shadow.py"]
adapter = dict(type="parameters")  # nothing trains
task = dict(type="SegmentationTask", prompt=dict(mode="none"), train_decoder=False)
trainer = dict(max_steps=0)
