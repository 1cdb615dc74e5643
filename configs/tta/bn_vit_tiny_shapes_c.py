# BN-adapt (test-batch statistics, tta.md 1.2). The zoo ViT has no BatchNorm (LayerNorm, and GroupNorm in its stem), so
# on this model `bn` is exactly the source model; kept for completeness of the table.
_base_ = ["../_base_/tta/shapes_c.py"]
method = dict(type="bn")
