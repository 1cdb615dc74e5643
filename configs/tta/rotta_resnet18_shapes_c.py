# RoTTA (Yuan et al., CVPR 2023) with its CIFAR settings (configs/adapter/rotta.yaml): robust BN (alpha 0.05),
# CSTU memory of 64 samples with timeliness (lambda_t = lambda_u = 1), an update every 64 samples, teacher EMA
# nu 0.001, Adam lr 1e-3 on the BatchNorm affine parameters, CoTTA's strong augmentations.
_base_ = ["../_base_/tta/shapes_c_cnn.py"]
method = dict(type="rotta", capacity=64, update_frequency=64, alpha=0.05, nu=0.001, lambda_t=1.0, lambda_u=1.0,
              optimizer=dict(type="Adam", lr=1e-3, betas=(0.9, 0.999), weight_decay=0.0))
