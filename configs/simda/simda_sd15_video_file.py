# Real use (not run in tests): SimDA one-shot tuning of Stable Diffusion 1.5 on your own clip, the public recipe
# (ChenHsing/SimDA configs/car-turn.yaml): 24 frames at 512x512 from frame 16 with stride 2, AdamW 5e-5 constant,
# weight decay 1e-2, gradient clipping 1.0, batch 1, 300 steps, fp16 mixed precision, gradient checkpointing; edits:
# 50-step DDIM inversion with the empty prompt, then 50-step sampling at guidance 12.5.
#     python tools/train.py configs/simda/simda_sd15_video_file.py --cfg-options data.train.path=car-turn.mp4
_base_ = ["../_base_/default_runtime.py"]
backbone = dict(type="DiffusionBackbone", pretrained="checkpoints/stable-diffusion-v1-5")
adapter = dict(type="simda")
task = dict(type="VideoTuningTask", gradient_checkpointing=True, sample_steps=50, guidance_scale=12.5,
            clip=dict(name="ViT-B-32-quickgelu", pretrained="checkpoints/clip_vit_b32.bin"))
data = dict(
    train=dict(type="VideoFileDataset", path="data/car-turn.mp4", caption="a jeep car is moving on the road",
               num_frames=24, stride=2, start=16, image_size=512, repeats=100),
    test=dict(type="PromptDataset", prompts=["a jeep car is moving on the snow", "a Porsche car is moving on the beach"]),
    batch_size=1,
    eval_batch_size=1,
)
optimizer = dict(type="AdamW", lr=5e-5, weight_decay=1e-2)
scheduler = None
trainer = dict(max_epochs=3, gradient_clip_val=1.0, precision="16-mixed", log_every_n_steps=10)
