# What model_zoo/sd_tiny_shapes is trained from (configs/pretrain/sd_tiny_shapes_*_pretrain.py): diffusers' own
# UNet2DConditionModel and AutoencoderKL at random, the text tower of model_zoo/clip_tiny_shapes converted to a
# transformers CLIPTextModel (outputs equal) with a CLIPTokenizer from open_clip's BPE (ids equal), and Stable
# Diffusion's DDPM noise schedule.
_unet = dict(
    sample_size=16,
    in_channels=4,
    out_channels=4,
    block_out_channels=(32, 64, 64),
    layers_per_block=1,
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    norm_num_groups=8,
    attention_head_dim=4,
)
_vae = dict(
    in_channels=3,
    out_channels=3,
    latent_channels=4,
    block_out_channels=(32, 64),
    layers_per_block=1,
    down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
    up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
    norm_num_groups=8,
    sample_size=32,
)
# clip_sample / steps_offset are what StableDiffusionPipeline expects of a sampler (it rewrites them with a warning
# otherwise); DDPM training (add_noise) reads neither.
_scheduler = dict(num_train_timesteps=1000, beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                  clip_sample=False, steps_offset=1)
backbone = dict(
    type="DiffusionBackbone",
    architecture=dict(unet=_unet, vae=_vae, text_encoder="clip_tiny_shapes", scheduler=_scheduler),
)
