# BN-1 / Norm (tta.md 1.2): every BatchNorm normalises with the test batch's statistics; nothing is trained.
_base_ = ["../_base_/tta/shapes_c_cnn.py"]
method = dict(type="bn")
