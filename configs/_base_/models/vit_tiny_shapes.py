# The project's source ViT, pretrained on the offline shapes world (model_zoo/vit_tiny_shapes.safetensors,
# made by `python tools/make_model_zoo.py vit_tiny_shapes`). Architecture arguments are recorded in the file.
backbone = dict(type="TimmBackbone", name="vit_tiny_patch16_224", pretrained="vit_tiny_shapes")
