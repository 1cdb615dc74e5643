# Zero-shot CLIP (no training): class prompts "a photo of a {}." against the test images, through the same
# runner as the adapted models (the few-shot set is drawn but unused).
_base_ = ["../_base_/default_runtime.py", "../_base_/models/clip_tiny_shapes.py",
          "../_base_/datasets/shapes_few_shot.py"]
task = dict(type="CLIPClassificationTask", templates=["a photo of a {}."])
adapter = dict(type="parameters")  # nothing trains
trainer = dict(max_steps=0)
seed = 1
