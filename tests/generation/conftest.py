"""Tiny random diffusers parts (as diffusers' own ``get_dummy_components``), built offline: a UNet at 8x8 latents,
a factor-2 VAE, and the text tower of the model-zoo CLIP as the text encoder."""
from __future__ import annotations

import pytest
import torch

pytest.importorskip("diffusers")
pytest.importorskip("open_clip")

TINY_SD = dict(
    unet=dict(sample_size=8, in_channels=4, out_channels=4, block_out_channels=(8, 16), layers_per_block=1,
              down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
              norm_num_groups=4, attention_head_dim=2),
    vae=dict(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 16), layers_per_block=1,
             down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
             norm_num_groups=4, sample_size=16),
    text_encoder="clip_tiny_shapes",
    scheduler=dict(num_train_timesteps=100, beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012),
)


@pytest.fixture(scope="session")
def tiny_sd_folder(tmp_path_factory):
    """A diffusers folder of tiny random parts (what ``StableDiffusionPipeline.from_pretrained`` loads)."""
    from visadapt.backbones import DiffusionBackbone

    torch.manual_seed(0)
    return DiffusionBackbone(architecture=TINY_SD).save_pretrained(tmp_path_factory.mktemp("sd") / "tiny_sd")


@pytest.fixture
def tiny_sd(tiny_sd_folder):
    from visadapt.backbones import DiffusionBackbone

    def make(**kwargs):
        return DiffusionBackbone(pretrained=str(tiny_sd_folder), **kwargs)

    return make
