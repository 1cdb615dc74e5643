# Pretrains the project's small CLIP (model_zoo/clip_tiny_shapes) from scratch on captions of the shapes world:
# scenes of the shape, shape_multi, color, texture, background and count tasks, each with its caption ("a striped
# red cross on a gradient background"). Captions never name position, size, orientation or distance, so those tasks
# are the ones this CLIP cannot name well zero-shot. Run it with
#     python tools/make_model_zoo.py configs/pretrain/clip_tiny_shapes_pretrain.py --name clip_tiny_shapes
# which writes open_clip's local-dir layout (open_clip_config.json + open_clip_model.safetensors) to model_zoo/.
_base_ = ["../_base_/default_runtime.py"]
backbone = dict(
    type="OpenCLIPBackbone",
    model_cfg=dict(
        embed_dim=32,
        quick_gelu=True,
        vision_cfg=dict(image_size=32, layers=4, width=64, head_width=32, patch_size=4),
        # vocab_size stays the BPE tokenizer's; a narrow text tower keeps the token table (and the file) small.
        text_cfg=dict(context_length=24, vocab_size=49408, width=32, heads=2, layers=3),
    ),
    mean=[0.5, 0.5, 0.5],
    std=[0.5, 0.5, 0.5],
)
task = dict(type="CLIPContrastiveTask")
adapter = dict(type="full")
data = dict(
    train=dict(type="ShapesCaptionDataset", split="train", num_samples=24000),  # 4,000 scenes per task
    val=dict(type="ShapesCaptionDataset", split="val200"),  # 1,200 pairs
    test=dict(type="ShapesCaptionDataset", split="test", num_samples=2400),
    batch_size=128,
    eval_batch_size=200,
)
optimizer = dict(type="AdamW", lr=1e-3, weight_decay=0.1)
scheduler = dict(type="cosine", warmup_epochs=1, min_lr_ratio=0.01)
trainer = dict(max_epochs=12)
