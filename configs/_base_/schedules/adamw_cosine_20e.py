_base_ = ["../default_runtime.py"]  # the schedule sets the run length, so it extends the runtime trainer
optimizer = dict(type="AdamW", lr=1e-3, weight_decay=1e-4)
scheduler = dict(type="cosine", warmup_epochs=2, min_lr_ratio=0.01)
trainer = dict(max_epochs=20)
