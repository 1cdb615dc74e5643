# Stage 1 of model_zoo/sd_tiny_shapes: the VAE alone (32x32 images -> 16x16x4 latents), on the shapes-world scenes
# the model-zoo CLIP was trained on. Run it with
#     python tools/make_model_zoo.py configs/pretrain/sd_tiny_shapes_vae_pretrain.py --name sd_tiny_shapes
# which writes the whole diffusers folder (UNet still random); stage 2 (sd_tiny_shapes_pretrain.py) reuses its VAE
# and sets the latent scaling factor to 1 / the test/latent_std this stage reports.
_base_ = ["../_base_/models/sd_tiny_shapes_architecture.py", "../_base_/datasets/shapes_captions.py",
          "../_base_/default_runtime.py"]
task = dict(type="AutoencoderTask", kl_weight=1e-6)
adapter = dict(type="parameters", parameters=["vae.*"])
optimizer = dict(type="AdamW", lr=1e-3, weight_decay=0.0)
scheduler = dict(type="cosine", warmup_steps=100, min_lr_ratio=0.1)
trainer = dict(max_epochs=1, val_check_interval=250)
