# The TTA benchmark's source ViT: timm's hybrid vit_tiny_r_s16_p8_224 at 32 px (convolutional stem, 8x8 tokens, embed
# 64, depth 4, 2 heads), pretrained on the shapes world's `shape` task (model_zoo/vit_tiny_r_shapes.safetensors, made
# by `python tools/make_model_zoo.py configs/pretrain/vit_tiny_r_shapes_pretrain.py --name vit_tiny_r_shapes`).
# Architecture arguments are recorded in the file.
backbone = dict(type="TimmBackbone", name="vit_tiny_r_s16_p8_224", pretrained="vit_tiny_r_shapes")
