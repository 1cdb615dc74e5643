# ETA (tta.md 1.8) with the CIFAR10-C settings of mariodoebler's benchmark (EATA's own repo has ImageNet only):
# E0 = 0.4 ln C (C = 8), redundancy margin d_margin 0.4, Adam lr 1e-3, BatchNorm affine parameters.
_base_ = ["../_base_/tta/shapes_c_cnn.py"]
method = dict(type="eta", e_margin_factor=0.4, d_margin=0.4,
              optimizer=dict(type="Adam", lr=1e-3, betas=(0.9, 0.999), weight_decay=0.0))
