# The CNN protocol of the offline X-C benchmark (the CIFAR10-C setting of TENT, CoTTA, EATA, RoTTA; tta.md 2.1): the
# model-zoo BatchNorm ResNet-18 (8-class `shape` head) on the 2,000-image `shape` test split, corrupted by the 15
# corruptions in the standard order at severity 5, one continual pass (30,000 images), never reset, batch 200 (the
# CIFAR batch size of TENT/CoTTA/mariodoebler). Error is top-1 (%) per domain, online, and the unweighted mean.
_base_ = ["../models/resnet18_shapes.py"]
stream = dict(
    base=dict(type="ShapesDataset", task="shape", split="test"),
    severities=[5],
    samples_per_domain=2000,
    batch_size=200,
    shuffle_seed=0,
    order="sequential",
    reset="never",
)
seed = 0
device = "auto"
