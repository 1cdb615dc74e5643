# SAMed (Zhang & Liu 2023; gen_seg.md 1.5): LoRA r=4 on the q and v slices of every image-encoder block's fused
# qkv (A Kaiming-uniform, B zero), the mask decoder trained, the rest frozen, prompt-free (SAM's default
# embedding: "we finetune the default embedding"). SAMed's prompt encoder also trains; add "prompt_encoder" to
# modules_to_save for that. Loss BCE + Dice (SAMed: 0.2 CE + 0.8 Dice).
adapter = dict(type="lora", r=4, alpha=4, target_modules=["image_encoder.blocks.*.attn.qkv"], qkv_slices=["q", "v"])
task = dict(type="SegmentationTask", prompt=dict(mode="none"), train_decoder=True, loss=dict(bce=1.0, dice=1.0))
