# One-shot video tuning (SimDA's car-turn recipe, scaled to the tiny model): AdamW (betas 0.9/0.999, weight decay
# 1e-2), constant lr, gradient clipping 1.0, batch one clip, 300 steps (3 epochs of the clip repeated 100 times).
_base_ = ["../default_runtime.py"]
optimizer = dict(type="AdamW", lr=1e-3, weight_decay=1e-2)
scheduler = None
trainer = dict(max_epochs=3, gradient_clip_val=1.0, log_every_n_steps=10)
