# Linear probe on the model-zoo CLIP's frozen image embeddings, few-shot shapes-world size task.
_base_ = ["../_base_/default_runtime.py", "../_base_/models/clip_tiny_shapes.py",
          "../_base_/datasets/shapes_few_shot.py", "../_base_/clip_methods/linear_probe.py"]
data = dict(train_transforms=None)
trainer = dict(max_epochs=300, log_every_n_steps=50)  # one full-batch step per epoch
seed = 1
