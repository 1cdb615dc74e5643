# Real use (not run in tests): LoRA + CAT on Stable Diffusion 1.5 from a local diffusers folder, on your own photos.
#     python tools/train.py configs/dreambooth/lora_cat_sd15_folder.py --cfg-options data.train.root=photos/ \
#         data.train.trigger=sks data.train.noun=dog task.trigger=sks
# The CAT recipe (OnomaAi101/CAT): LoRA rank 1 on every attention projection, AdamW 1e-4, constant, batch 1, gradient
# clipping 1.0 (of the LoRA parameters; the reference clips the frozen base model's by mistake), 900 steps, fp32 at
# 512 px. Evaluation prompts are judged by a local OpenAI CLIP (task.clip), e.g. ViT-B-32-quickgelu weights.
_base_ = ["../_base_/default_runtime.py"]
backbone = dict(type="DiffusionBackbone", pretrained="checkpoints/stable-diffusion-v1-5")
adapter = dict(type="lora", r=1, alpha=1.0, init="gaussian",
               target_modules=["unet.*.attn[12].to_q", "unet.*.attn[12].to_k", "unet.*.attn[12].to_v",
                               "unet.*.attn[12].to_out.0"])
task = dict(type="TextToImageTask", regularizer="cat", trigger="sks", cat_weight=1.0, sample_steps=25,
            guidance_scale=7.5, clip=dict(name="ViT-B-32-quickgelu", pretrained="checkpoints/clip_vit_b32.bin"))
_prompts = ["{trigger}, a {noun} on the beach", "{trigger}, a {noun} in the snow", "{trigger}, a {noun} on a sofa"]
data = dict(
    train=dict(type="SubjectFolderDataset", root="photos", trigger="sks", noun="dog", image_size=512,
               transform=[dict(type="HorizontalFlip", p=0.5)]),
    val=dict(type="PromptDataset", prompts=_prompts, trigger="sks", noun="dog", seeds_per_prompt=2),
    test=dict(type="PromptDataset", prompts=_prompts, trigger="sks", noun="dog", seeds_per_prompt=4, first_seed=1000),
    batch_size=1,
    eval_batch_size=4,
)
optimizer = dict(type="AdamW", lr=1e-4, weight_decay=1e-2)
scheduler = None
checkpoint = dict(monitor="val/identity", mode="max")
trainer = dict(max_steps=900, max_epochs=-1, gradient_clip_val=1.0, val_check_interval=300, check_val_every_n_epoch=None)
