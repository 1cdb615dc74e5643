# Pretrains the project's source ViT (model_zoo/vit_tiny_shapes) from scratch on the shapes world's `shape` task
# (one object per image, every other factor random), on its 20k-image `train` stream. Run it with
# `python tools/make_model_zoo.py configs/pretrain/vit_tiny_shapes_pretrain.py --name vit_tiny_shapes`, which trains
# it with tools/train.py's runner and writes the backbone to model_zoo/.
_base_ = ["../_base_/default_runtime.py"]
_task = "shape"
backbone = dict(
    type="TimmBackbone",
    name="vit_tiny_patch16_224",
    img_size=32,
    patch_size=4,
    embed_dim=64,
    depth=4,
    num_heads=2,
)
adapter = dict(type="full")
data = dict(
    train=dict(type="ShapesDataset", task=_task, split="train"),
    val=dict(type="ShapesDataset", task=_task, split="val200"),
    test=dict(type="ShapesDataset", task=_task, split="test"),
    batch_size=128,
    eval_batch_size=500,
)
optimizer = dict(type="AdamW", lr=1e-3, weight_decay=0.05)
scheduler = dict(type="cosine", warmup_epochs=2, min_lr_ratio=0.01)
trainer = dict(max_epochs=20)
