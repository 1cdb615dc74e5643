# Source: the model-zoo ViT without adaptation (tta.md 1.1).
_base_ = ["../_base_/tta/shapes_c.py"]
method = dict(type="source")
