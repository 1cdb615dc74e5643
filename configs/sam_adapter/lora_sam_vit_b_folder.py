# Real use (not run in tests): SAMed-style LoRA on SAM ViT-B from the official checkpoint, fine-tuned on images +
# PNG masks from folders (binary 0/255 or 0/1; set data.*.num_classes and backbone.num_multimask_outputs for
# class-index masks). Expected layout:
#     data/seg/{train,val,test}/images/*.jpg   data/seg/{train,val,test}/masks/<same stem>.png
#     checkpoints/sam_vit_b_01ec64.pth  (https://github.com/facebookresearch/segment-anything#model-checkpoints)
# Images are resized so the long side is 1024 and padded to 1024 x 1024 (SAM's preprocessing); the padding is
# ignored by the loss and the metrics. Use image_size=512 (and LongestMaxSize 512) for SAMed's 512 px setting:
# the loader resamples the position embeddings.
_base_ = ["../_base_/schedules/sam_adamw_20e.py", "../_base_/sam_methods/samed_lora.py"]
backbone = dict(type="SAMBackbone", variant="vit_b", checkpoint="checkpoints/sam_vit_b_01ec64.pth", image_size=1024)
_root = "data/seg"
_split = dict(type="MaskFolderDataset", num_classes=2)
data = dict(
    train=dict(_split, images=f"{_root}/train/images", masks=f"{_root}/train/masks"),
    val=dict(_split, images=f"{_root}/val/images", masks=f"{_root}/val/masks"),
    test=dict(_split, images=f"{_root}/test/images", masks=f"{_root}/test/masks"),
    train_transforms=[dict(type="LongestMaxSize", max_size=1024), dict(type="HorizontalFlip", p=0.5),
                      dict(type="PadIfNeeded", min_height=1024, min_width=1024, position="top_left", border_mode=0,
                           fill=0, fill_mask=255)],
    test_transforms=[dict(type="LongestMaxSize", max_size=1024),
                     dict(type="PadIfNeeded", min_height=1024, min_width=1024, position="top_left", border_mode=0,
                          fill=0, fill_mask=255)],
    batch_size=4,
    eval_batch_size=4,
    num_workers=4,
)
checkpoint = dict(monitor="val/dice", mode="max")
optimizer = dict(lr=5e-3, weight_decay=0.1)  # SAMed: AdamW 0.005, wd 0.1 (with warm-up and poly decay)
trainer = dict(accelerator="gpu", precision="bf16-mixed", max_epochs=100)
