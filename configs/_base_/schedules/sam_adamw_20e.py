_base_ = ["../default_runtime.py"]  # the schedule sets the run length, so it extends the runtime trainer
# SAM adaptation on the offline shapes world: AdamW with cosine decay to 1e-2 of the peak (SAM-Adapter: AdamW,
# cosine), 1 warm-up epoch, 20 epochs of 800 images. lr 1e-2: what benchmarks/sam_shadow.py chose on val200 for
# every adapter recipe (grid 1e-3 / 3e-3 / 1e-2; benchmarks/results/sam_shadow/selection.csv).
optimizer = dict(type="AdamW", lr=1e-2, weight_decay=1e-4)
scheduler = dict(type="cosine", warmup_epochs=1, min_lr_ratio=0.01)
trainer = dict(max_epochs=20)
