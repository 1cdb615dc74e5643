# TENT (tta.md 1.3) on the ViT's LayerNorm affine parameters (mariodoebler's extension to LN), model in eval(),
# one entropy step per batch, SGD lr 1e-4 momentum 0.9 (the ViT setting, ViDA repo cfgs/vit/tent.yaml), batch 64.
_base_ = ["../_base_/tta/shapes_c.py"]
method = dict(type="tent", optimizer=dict(type="SGD", lr=1e-4, momentum=0.9), steps=1)
