# CoTTA (tta.md 1.4) with its CIFAR10-C settings (cifar/cfgs/cifar10/cotta.yaml): Adam lr 1e-3, teacher EMA 0.999,
# stochastic restore p 0.01, augmentation threshold ap 0.92, 32 augmented teacher views, CE to the teacher; every
# weight and bias trained, BatchNorm with test-batch statistics. Corrected behaviour by default (per-sample gating,
# probability averaging, per-sample augmentation draws); method.faithful=True is the reference's.
_base_ = ["../_base_/tta/shapes_c_cnn.py"]
method = dict(type="cotta", optimizer=dict(type="Adam", lr=1e-3, betas=(0.9, 0.999), weight_decay=0.0),
              mt_alpha=0.999, restore_p=0.01, ap=0.92, n_augmentations=32)
