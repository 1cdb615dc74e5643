# The project's small CLIP, pretrained on captions of the shapes world (model_zoo/clip_tiny_shapes, made by
# `python tools/make_model_zoo.py configs/pretrain/clip_tiny_shapes_pretrain.py --name clip_tiny_shapes`).
backbone = dict(type="OpenCLIPBackbone", pretrained="clip_tiny_shapes")
