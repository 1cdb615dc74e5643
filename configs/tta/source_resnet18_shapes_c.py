# Source: the model-zoo ResNet-18 without adaptation (tta.md 1.1), BatchNorm with its source statistics.
_base_ = ["../_base_/tta/shapes_c_cnn.py"]
method = dict(type="source")
