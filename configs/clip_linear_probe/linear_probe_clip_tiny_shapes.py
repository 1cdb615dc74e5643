# Linear probe on frozen CLIP image embeddings (CoOp's baseline; clip.md 3.4): multinomial logistic regression on
# the support set's unit-length embeddings (one un-augmented view, cached), full-batch AdamW steps. CoOp searches
# sklearn's C on a few-shot val set; here the penalty is fixed (l2), a documented departure.
_base_ = ["../_base_/default_runtime.py", "../_base_/models/clip_tiny_shapes.py",
          "../_base_/datasets/shapes_few_shot.py"]
data = dict(train_transforms=None)
task = dict(type="CLIPLinearProbeTask", feature_views=1, l2=1e-3)
optimizer = dict(type="AdamW", lr=1e-2, weight_decay=0.0)
scheduler = dict(type="cosine")
trainer = dict(max_epochs=300, log_every_n_steps=50)  # one full-batch step per epoch
seed = 1
