# The model-zoo text-to-image model (model_zoo/sd_tiny_shapes/, a stock diffusers folder): 32x32 images, a
# factor-2 VAE (16x16x4 latents), a small UNet and the model-zoo CLIP's text tower as the frozen text encoder.
backbone = dict(type="DiffusionBackbone", pretrained="sd_tiny_shapes")
