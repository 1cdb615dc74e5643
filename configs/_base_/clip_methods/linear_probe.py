# Linear probe on frozen CLIP image embeddings (CoOp's baseline; clip.md 3.4): multinomial logistic regression on
# the support set's unit-length embeddings (one un-augmented view, cached), full-batch AdamW steps with an L2
# penalty. CoOp searches sklearn's C on a few-shot val set; here the penalty is fixed (l2), a documented departure.
# Experiment configs set data.train_transforms=None and trainer.max_epochs (one full-batch step per epoch).
task = dict(type="CLIPLinearProbeTask", feature_views=1, l2=1e-3)
optimizer = dict(type="AdamW", lr=1e-2, weight_decay=0.0)
scheduler = dict(type="cosine")
