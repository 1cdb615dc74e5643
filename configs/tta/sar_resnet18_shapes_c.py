# SAR (tta.md 1.9). SAR has no CIFAR setting; its ResNet rule is used: norm layers of `layer4` frozen, SGD momentum
# 0.9, lr 0.00025 for batch >= 32, SAM rho 0.05, E0 = 0.4 ln C, model recovery at e_m 0.2.
_base_ = ["../_base_/tta/shapes_c_cnn.py"]
method = dict(type="sar", rho=0.05, e_margin_factor=0.4, reset_constant_em=0.2, norm_exclude=["layer4"],
              optimizer=dict(type="SGD", lr=0.00025, momentum=0.9))
