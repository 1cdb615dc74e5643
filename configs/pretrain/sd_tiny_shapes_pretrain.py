# Stage 2 of model_zoo/sd_tiny_shapes: the UNet, by DDPM's denoising objective on the VAE latents of the shapes-world
# scenes and their captions (10% of captions dropped for classifier-free guidance); the VAE comes from stage 1
# (sd_tiny_shapes_vae_pretrain.py, already written to model_zoo/sd_tiny_shapes/) and the latents are scaled by
# 1 / stage 1's test/latent_std. Run it with
#     python tools/make_model_zoo.py configs/pretrain/sd_tiny_shapes_pretrain.py --name sd_tiny_shapes
_base_ = ["../_base_/models/sd_tiny_shapes_architecture.py", "../_base_/datasets/shapes_captions.py",
          "../_base_/default_runtime.py"]
backbone = dict(architecture=dict(vae="sd_tiny_shapes", vae_scaling_factor=0.6239))  # 1 / 1.6028, stage 1
task = dict(type="TextToImageTask", caption_dropout=0.1)
adapter = dict(type="parameters", parameters=["unet.*"])
optimizer = dict(type="AdamW", lr=5e-4, weight_decay=0.0)
scheduler = dict(type="cosine", warmup_steps=200, min_lr_ratio=0.1)
trainer = dict(max_epochs=2, max_steps=1200, val_check_interval=400)
