# Pretrains the project's BatchNorm-CNN source (model_zoo/resnet18_shapes) from scratch on the shapes world's
# `shape` task, on its 20k-image `train` stream, for the CNN protocol of the TTA benchmark (configs/tta/*_resnet18_*).
# timm `resnet18` built for 32 px input: the 3x3 "deep" stem (stride 2, then timm's stride-2 max-pool: 8x8 maps
# after the stem) and channels 16-32-64-128 (0.71M parameters, 2.7 MiB); every BatchNorm keeps its source
# statistics for BN-based adaptation. Standard CIFAR augmentation (4-px zero padding + random 32-px crop, horizontal
# flip: every shape class is mirror-symmetric as a class); no corruption is ever seen in training.
# `python tools/make_model_zoo.py configs/pretrain/resnet18_shapes_pretrain.py --name resnet18_shapes`
_base_ = ["../_base_/default_runtime.py"]
_task = "shape"
backbone = dict(
    type="TimmBackbone",
    name="resnet18",
    stem_type="deep",
    stem_width=16,
    channels=(16, 32, 64, 128),
    mean=(0.5, 0.5, 0.5),
    std=(0.5, 0.5, 0.5),
)
adapter = dict(type="full")
data = dict(
    train=dict(type="ShapesDataset", task=_task, split="train"),
    val=dict(type="ShapesDataset", task=_task, split="val200"),
    test=dict(type="ShapesDataset", task=_task, split="test"),
    train_transforms=[
        dict(type="PadIfNeeded", min_height=40, min_width=40, border_mode=0, fill=0),
        dict(type="RandomCrop", height=32, width=32),
        dict(type="HorizontalFlip", p=0.5),
    ],
    batch_size=128,
    eval_batch_size=500,
)
optimizer = dict(type="AdamW", lr=3e-3, weight_decay=0.05)
scheduler = dict(type="cosine", warmup_epochs=1, min_lr_ratio=0.01)
trainer = dict(max_epochs=12)
