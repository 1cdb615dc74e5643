# ViDA's source warm-up (tta.md 1.5: "add the ViDA to the source model, freezing the backbone to tune the
# adapter"): the two ViDA adapters of every attention projection (low rank 1, high rank 128; tta.vida_adapter_configs)
# trained on the source task, the `shape` task's 20k-image train stream, backbone frozen. The head is trained too
# (tools/train.py trains the new head with every adapter) and ships with the export. Made into a model-zoo entry by
#     python tools/make_model_zoo.py configs/vida/vida_warmup_vit_tiny_shapes.py --name vit_tiny_shapes_vida --adapter-only
# which configs/tta/vida_vit_tiny_shapes_c.py loads (method.adapter_dir="vit_tiny_shapes_vida").
_base_ = [
    "../_base_/models/vit_tiny_shapes.py",
    "../_base_/default_runtime.py",
]
_targets = ["blocks.*.attn.qkv", "blocks.*.attn.proj"]
adapter = [
    dict(type="lora", r=1, alpha=1.0, init="gaussian", target_modules=_targets),
    dict(type="lora", r=128, alpha=128.0, init="gaussian", target_modules=[f"{t}.base_layer" for t in _targets]),
]
data = dict(
    train=dict(type="ShapesDataset", task="shape", split="train"),
    val=dict(type="ShapesDataset", task="shape", split="val200"),
    test=dict(type="ShapesDataset", task="shape", split="test"),
    batch_size=128,
    eval_batch_size=500,
)
optimizer = dict(type="AdamW", lr=1e-3, weight_decay=1e-4)
scheduler = dict(type="cosine", warmup_epochs=0, min_lr_ratio=0.01)
trainer = dict(max_epochs=3)
