# TENT (tta.md 1.3) with its CIFAR10-C settings (cfgs/tent.yaml): BatchNorm affine parameters, test-batch statistics,
# Adam lr 1e-3, betas (0.9, 0.999), one entropy step per batch, never reset (continual).
_base_ = ["../_base_/tta/shapes_c_cnn.py"]
method = dict(type="tent", optimizer=dict(type="Adam", lr=1e-3, betas=(0.9, 0.999), weight_decay=0.0), steps=1)
