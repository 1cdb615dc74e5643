"""SimDA and the Tune-A-Video baseline on a stock diffusers UNet (frames folded into the batch): the shift pattern by
hand, the identities the adapters must keep at init, switching off, gradients under checkpointing, export."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from visadapt.adapters import (call_context, count_parameters, disable_adapters, inject, load_adapter, save_adapter,
                               set_call_context)
from visadapt.adapters.video.frames import LATENT_SHIFT, first_and_previous, latent_shift, previous_and_current
from visadapt.registry import ConfigError

diffusers = pytest.importorskip("diffusers")

UNET = dict(sample_size=16, in_channels=4, out_channels=4, block_out_channels=(8, 16), layers_per_block=1,
            down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D"), norm_num_groups=4, attention_head_dim=2,
            cross_attention_dim=8)
FRAMES = 8  # 8 frames exercise the shift-by-4 entries of the pattern


class Parts(nn.Module):
    def __init__(self, unet: nn.Module):
        super().__init__()
        self.unet = unet


def make(method: str | None, seed: int = 0, **kwargs) -> Parts:
    torch.manual_seed(seed)
    parts = Parts(diffusers.UNet2DConditionModel(**UNET)).eval()
    if method:
        inject(parts, dict(type=method, **kwargs))
    return parts


def inputs(frames: int = FRAMES, identical: bool = False, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(1 if identical else frames, 4, 16, 16, generator=g).expand(frames, -1, -1, -1).contiguous()
    return x, torch.full((frames,), 10), torch.randn(1, 5, 8, generator=g).expand(frames, -1, -1).contiguous()


def run(parts: Parts, x, t, c, **context) -> torch.Tensor:
    with torch.no_grad(), call_context(parts, num_frames=context.pop("num_frames", FRAMES), **context):
        return parts.unet(x, t, c).sample


def perturb(parts: Parts, seed: int = 5) -> None:
    """Non-zero adapter weights (the zero-initialised up-projections included)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in parts.parameters():
            if p.requires_grad:
                p.add_(0.1 * torch.randn(p.shape, generator=g))


def test_latent_shift_matches_the_pattern_by_hand():
    frames, side = 6, 8
    tokens = torch.arange(frames, dtype=torch.float32).repeat_interleave(side * side).reshape(frames, side * side, 1)
    shifted = latent_shift(tokens, frames, side, side).reshape(frames, side, side)
    for f in range(frames):
        for i in range(side):
            for j in range(side):
                s = LATENT_SHIFT[i % 4][j % 4]
                assert shifted[f, i, j] == (f - s if f >= s else f)
    two_clips = torch.cat([tokens, tokens + 100])
    assert torch.equal(latent_shift(two_clips, frames, side, side)[frames:], shifted.reshape(frames, -1, 1) + 100)


def test_frame_pairs_of_simda_and_tune_a_video():
    assert previous_and_current(4) == ([0, 0, 1, 2], [0, 1, 2, 3])
    assert first_and_previous(4) == ([0, 0, 0, 0], [0, 0, 1, 2])


@pytest.mark.parametrize("method", ["simda", "tune_a_video"])
def test_identical_frames_reproduce_the_image_unet(method):
    x, t, c = inputs(identical=True)
    stock = run(make(None), x, t, c)
    adapted = run(make(method), x, t, c)
    torch.testing.assert_close(adapted, stock, atol=1e-5, rtol=0)


@pytest.mark.parametrize("method", ["simda", "tune_a_video"])
def test_a_change_to_frame_k_changes_no_earlier_frame_at_init(method):
    parts = make(method)
    x, t, c = inputs()
    changed = x.clone()
    changed[5] += 1.0
    diff = (run(parts, x, t, c) - run(parts, changed, t, c)).flatten(1).abs().amax(1)
    assert diff[:5].max() < 1e-6 and diff[5] > 1e-3


@pytest.mark.parametrize("method", ["simda", "tune_a_video"])
def test_switched_off_gives_the_stock_unet_exactly(method):
    x, t, c = inputs()
    stock = run(make(None), x, t, c)
    parts = make(method)
    perturb(parts)
    assert not torch.allclose(run(parts, x, t, c), stock, atol=1e-3)
    with disable_adapters(parts):
        assert torch.equal(run(parts, x, t, c), stock)
    assert not torch.allclose(run(parts, x, t, c), stock, atol=1e-3)  # back on after the block


@pytest.mark.parametrize("method", ["simda", "tune_a_video"])
def test_gradients_reach_every_adapter_tensor_with_gradient_checkpointing(method):
    parts = make(method)
    perturb(parts)
    parts.unet.enable_gradient_checkpointing()
    parts.train()
    set_call_context(parts, num_frames=FRAMES)  # checkpointing recomputes during backward
    x, t, c = inputs()
    parts.unet(x, t, c).sample.square().mean().backward()
    trainable = {n: p for n, p in parts.named_parameters() if p.requires_grad}
    assert trainable
    missing = [n for n, p in trainable.items() if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []


def test_training_after_inference_mode_evaluation():
    """The shift pattern is cached; one first built inside inference mode (a test loop) must still train."""
    parts = make("simda")
    x, t, c = inputs(frames=5)
    with torch.inference_mode(), call_context(parts, num_frames=5):
        parts.unet(x, t, c)
    perturb(parts)
    with call_context(parts, num_frames=5):
        parts.unet(x, t, c).sample.mean().backward()


def test_reference_checkpointing_skips_down_and_up_temporal_adapters_in_training():
    """SimDA's code under gradient checkpointing (faithful switch): only the mid block's temporal adapter learns."""
    parts = make("simda", reference_checkpointing=True)
    perturb(parts)
    parts.unet.enable_gradient_checkpointing()
    parts.train()
    set_call_context(parts, num_frames=FRAMES)
    x, t, c = inputs()
    parts.unet(x, t, c).sample.square().mean().backward()
    temporal = {n: p.grad for n, p in parts.named_parameters() if ".resnets." in n and ".adapter." in n}
    with_grad = {n.split(".resnets.")[0] for n, g in temporal.items() if g is not None and g.abs().sum() > 0}
    assert with_grad == {"unet.mid_block"}


@pytest.mark.parametrize("method", ["simda", "tune_a_video"])
def test_adapter_export_reloads_bit_exactly(method, tmp_path):
    parts = make(method)
    perturb(parts)
    save_adapter(parts, tmp_path / "adapter")
    fresh = make(None)  # same seed: same base weights
    load_adapter(fresh, tmp_path / "adapter")
    x, t, c = inputs()
    assert torch.equal(run(fresh, x, t, c), run(parts, x, t, c))


def test_simda_adds_24_9m_parameters_to_the_sd15_unet():
    """The paper's "24M of 1.1B": counted on the SD-1.5 UNet architecture built on the meta device (no weights)."""
    with torch.device("meta"):
        parts = Parts(diffusers.UNet2DConditionModel(sample_size=64, cross_attention_dim=768, attention_head_dim=8))
        inject(parts, dict(type="simda"))
    names = {n: p.numel() for n, p in parts.named_parameters() if p.requires_grad}
    temporal = sum(v for n, v in names.items() if ".resnets." in n)
    assert temporal == 12_434_080 and sum(names.values()) - temporal == 12_421_600
    assert count_parameters(parts)["trainable"] == 24_855_680


def test_non_square_latents_need_their_size_in_the_call_context():
    parts = make("simda")
    x = torch.randn(4, 4, 16, 8)
    t, c = torch.full((4,), 10), torch.randn(4, 5, 8)
    with pytest.raises(ConfigError, match="latent_size"):
        run(parts, x, t, c, num_frames=4)
    assert run(parts, x, t, c, num_frames=4, latent_size=(16, 8)).shape == (4, 4, 16, 8)


def test_missing_or_mismatched_frame_count_is_a_clear_error():
    parts = make("simda")
    x, t, c = inputs()
    with pytest.raises(ConfigError, match="frame count is not set"):
        with torch.no_grad():
            parts.unet(x, t, c)
    with pytest.raises(ConfigError, match="does not hold whole clips of num_frames=3"):
        run(parts, x, t, c, num_frames=3)


def test_simda_stacks_on_a_lora_of_the_same_attention():
    """LoRA on attn1's projections, then SimDA around attn1 (the order a LoRA preset's names need): both train, and
    switched off together they give the stock UNet bit for bit."""
    x, t, c = inputs()
    stock = run(make(None), x, t, c)
    parts = make(None)
    inject(parts, dict(type="lora", r=2, alpha=2.0, target_modules=["unet.*.attn1.to_q", "unet.*.attn1.to_v"]))
    inject(parts, dict(type="simda"))
    trainable = [n for n, p in parts.named_parameters() if p.requires_grad]
    assert any("lora_A" in n for n in trainable) and any(".resnets." in n for n in trainable)
    perturb(parts)
    assert not torch.allclose(run(parts, x, t, c), stock, atol=1e-3)
    with disable_adapters(parts):
        assert torch.equal(run(parts, x, t, c), stock)
