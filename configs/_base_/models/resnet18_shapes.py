# The project's BatchNorm-CNN source: timm resnet18 built for 32 px (3x3 deep stem, channels 16-32-64-128), pretrained
# on the shapes world's `shape` task (model_zoo/resnet18_shapes.safetensors, made by
# `python tools/make_model_zoo.py configs/pretrain/resnet18_shapes_pretrain.py --name resnet18_shapes`).
# Architecture arguments are recorded in the file.
backbone = dict(type="TimmBackbone", name="resnet18", pretrained="resnet18_shapes")
