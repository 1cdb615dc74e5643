# The project's tiny SAM pretrained on object masks of the shapes world (model_zoo/sam_tiny_shapes.safetensors, made
# by `python tools/make_model_zoo.py configs/pretrain/sam_tiny_shapes_pretrain.py --name sam_tiny_shapes`); the
# architecture is read from the file's metadata.
backbone = dict(type="SAMBackbone", checkpoint="sam_tiny_shapes")
