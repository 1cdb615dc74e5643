# CoOp on the model-zoo CLIP, few-shot shapes-world size task. n_ctx=4 (CoOp(4), also reported by CLIP-LoRA):
# 16 context tokens would leave no room for class names in this model's 24-token text encoder.
_base_ = ["../_base_/default_runtime.py", "../_base_/models/clip_tiny_shapes.py",
          "../_base_/datasets/shapes_few_shot.py", "../_base_/clip_methods/coop.py"]
adapter = dict(n_ctx=4)
seed = 1
