# ETA (tta.md 1.8): EATA without the Fisher regulariser, on LayerNorm affine params. E0 = 0.4 ln C (C = 8),
# d_margin 0.05, SGD lr 2.5e-4 momentum 0.9, batch 64 (ImageNet defaults of EATA main.py).
_base_ = ["../_base_/tta/shapes_c.py"]
method = dict(type="eta", e_margin_factor=0.4, d_margin=0.05, optimizer=dict(type="SGD", lr=0.00025, momentum=0.9))
