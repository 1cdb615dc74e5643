# ViDA's source warm-up (configs/vida/vida_warmup_vit_tiny_shapes.py: adapters on every attention projection and the
# head trained on the `shape` task's train stream, backbone frozen) for the TTA benchmark's ViT source
# vit_tiny_r_shapes. Made into a model-zoo entry by
#     python tools/make_model_zoo.py configs/vida/vida_warmup_vit_tiny_r_shapes.py --name vit_tiny_r_shapes_vida --adapter-only
# which configs/tta/vida_vit_tiny_shapes_c.py loads (method.adapter_dir="vit_tiny_r_shapes_vida").
_base_ = ["./vida_warmup_vit_tiny_shapes.py"]
backbone = dict(name="vit_tiny_r_s16_p8_224", pretrained="vit_tiny_r_shapes")
