_base_ = ["../default_runtime.py"]  # the schedule sets the run length, so it extends the runtime trainer
# The common VTAB-1k recipe length (NOAH/SSF: 100 epochs, 10 warm-up).
optimizer = dict(type="AdamW", lr=1e-3, weight_decay=1e-4)
scheduler = dict(type="cosine", warmup_epochs=10, min_lr_ratio=0.0)
trainer = dict(max_epochs=100)
