# DreamBooth-LoRA on the tiny model: AdamW (diffusers' script: betas 0.9/0.999, weight decay 1e-2), constant lr,
# gradient clipping 1.0, 5 images in batches of 4 (2 steps an epoch) for 150 epochs = 300 steps, evaluated at the end.
_base_ = ["../default_runtime.py"]
optimizer = dict(type="AdamW", lr=1e-3, weight_decay=1e-2)
scheduler = None
trainer = dict(max_epochs=150, check_val_every_n_epoch=150, gradient_clip_val=1.0, log_every_n_steps=10)
