# ViDA (tta.md 1.5) with its CIFAR10-C settings: Adam, lr 1e-4 for the model and 1e-5 for the adapters, EMA 0.999 /
# 0.999, 10 teacher views for the uncertainty, threshold 0.05, stochastic restore p 0.1 of every parameter, CE to
# the teacher. Starts from the warmed-up ViDA adapters of the model zoo (made by
# configs/vida/vida_warmup_vit_tiny_r_shapes.py; their export includes the head retrained during the warm-up).
# Corrected scale update by default; method.faithful=True keeps the reference's (only the low-rank scale moves).
_base_ = ["../_base_/tta/shapes_c.py"]
method = dict(type="vida", adapter_dir="vit_tiny_r_shapes_vida",
              optimizer=dict(type="Adam", lr=1e-4, betas=(0.9, 0.999), weight_decay=0.0), vida_lr=1e-5,
              mt=0.999, mt_vida=0.999, n_augmentations=10, unc_threshold=0.05, restore_p=0.1,
              views_per_chunk=1)  # as CoTTA: one view per teacher call on CPU, 0 (all at once) on a GPU
