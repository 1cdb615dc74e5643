# Pretrains the project's tiny SAM (model_zoo/sam_tiny_shapes) from scratch on object masks of the shapes world
# (every object of 1-4 per image), promptable as SAM is: each batch is prompted with nothing, the box around the
# objects, or 2 clicks on an object and 1 on the background, and the IoU head learns to predict its mask's IoU.
# Shadows never appear. Run it with
#     python tools/make_model_zoo.py configs/pretrain/sam_tiny_shapes_pretrain.py --name sam_tiny_shapes
_base_ = ["../_base_/default_runtime.py", "../_base_/models/sam_tiny.py", "../_base_/datasets/shapes_segmentation.py"]
task = dict(type="SegmentationTask", prompt=dict(mode=["none", "box", "points"], positives=2, negatives=1),
            loss=dict(bce=1.0, dice=1.0, iou_weight=1.0))
adapter = dict(type="full")
data = dict(train=dict(split="train"), batch_size=64)  # the 20,000-image train stream
optimizer = dict(type="AdamW", lr=2e-3, weight_decay=0.05)
scheduler = dict(type="cosine", warmup_epochs=1, min_lr_ratio=0.01)
trainer = dict(max_epochs=10)
