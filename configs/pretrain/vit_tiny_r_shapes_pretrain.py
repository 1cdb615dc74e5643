# Pretrains the ViT source of the TTA benchmark's ViT protocol (model_zoo/vit_tiny_r_shapes) from scratch on the
# shapes world's `shape` task, on its 20k-image `train` stream. timm's hybrid `vit_tiny_r_s16_p8_224` (a ResNet-V2
# stem: 7x7 stride-2 convolution + GroupNorm + ReLU + stride-2 max-pool, then patch 1, i.e. 8x8 tokens at 32 px),
# at the depth/width of vit_tiny_shapes (embed 64, depth 4, 2 heads): the convolutional stem replaces the linear
# 4x4 patchify, which is what keeps vit_tiny_shapes underfitting (docs/tta.md, "Why the source ViT underfits").
# LayerNorm/GroupNorm only (no BatchNorm). Same augmentation as the CNN source (4-px pad + random crop, flip).
# `python tools/make_model_zoo.py configs/pretrain/vit_tiny_r_shapes_pretrain.py --name vit_tiny_r_shapes`
_base_ = ["./resnet18_shapes_pretrain.py"]
backbone = dict(_delete_=True, type="TimmBackbone", name="vit_tiny_r_s16_p8_224", img_size=32, patch_size=1,
                embed_dim=64, depth=4, num_heads=2, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
optimizer = dict(type="AdamW", lr=2e-3, weight_decay=0.05)
scheduler = dict(type="cosine", warmup_epochs=1, min_lr_ratio=0.01)
trainer = dict(max_epochs=15)
