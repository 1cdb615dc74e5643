"""SplitQKVAttention: identical to open_clip's nn.MultiheadAttention, fuses back exactly, and carries CLIP-LoRA."""
from __future__ import annotations

import pytest
import torch

open_clip = pytest.importorskip("open_clip")

from tests.backbones.test_clip import TINY_CLIP  # noqa: E402
from tests.conftest import perturb_adapters  # noqa: E402
from visadapt import adapters as A  # noqa: E402
from visadapt.backbones import OpenCLIPBackbone  # noqa: E402
from visadapt.backbones.clip_attention import SplitQKVAttention, fuse_attention, split_attention  # noqa: E402
from visadapt.registry import ConfigError  # noqa: E402

BOTH_TOWERS = ["visual.transformer.resblocks.*.attn", "transformer.resblocks.*.attn"]
# CLIP-LoRA (clip.md 1.1): rank 2 on q, k and v of every block of both encoders, alpha 1 scaled by alpha/sqrt(r),
# dropout 0.25 on the LoRA input.
CLIP_LORA = dict(type="lora", r=2, alpha=1.0, use_rslora=True, dropout=0.25,
                 target_modules=[f"{t}.{p}" for t in BOTH_TOWERS for p in ("q_proj", "k_proj", "v_proj")])
TEXTS = ["a red circle.", "a dotted blue star on a dark background."]


def tiny_clip():
    torch.manual_seed(0)
    return OpenCLIPBackbone(model_cfg=TINY_CLIP).eval()


@pytest.fixture
def images():
    return torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(2))


def embeddings(clip, images):
    return clip.encode_image(images), clip.encode_text(TEXTS)


def test_split_attention_is_identical_and_fuses_back_exactly(images):
    clip = tiny_clip()
    before_state = {k: v.clone() for k, v in clip.model.state_dict().items()}
    before = embeddings(clip, images)
    names = split_attention(clip.model, BOTH_TOWERS)
    assert sorted(names) == ["transformer.resblocks.0.attn", "visual.transformer.resblocks.0.attn"]
    split = clip.model.visual.transformer.resblocks[0].attn
    assert isinstance(split, SplitQKVAttention) and not any(m.training for m in split.modules())  # stays in eval
    for a, b in zip(embeddings(clip, images), before):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)  # the text tower runs with its causal mask
    fuse_attention(clip.model)
    after_state = clip.model.state_dict()
    assert after_state.keys() == before_state.keys()
    assert all(torch.equal(after_state[k], v) for k, v in before_state.items())


def test_clip_lora_saves_reloads_and_merges_to_a_plain_open_clip_model(images, tmp_path):
    clip = tiny_clip()
    split_attention(clip.model, BOTH_TOWERS)
    A.inject(clip.model, CLIP_LORA)
    perturb_adapters(clip.model)
    # q, k, v x rank 2 x (in + out) per tower: vision width 32, text width 16, one block each
    assert A.count_parameters(clip.model)["trainable"] == 3 * 2 * (32 + 32) + 3 * 2 * (16 + 16)
    expected = embeddings(clip, images)
    base_weight = clip.model.visual.transformer.resblocks[0].attn.q_proj.base_layer.weight.clone()
    clip.train()
    clip.eval()  # switching modes never folds the LoRA into the weights in place (CLIP-LoRA's loralib does)
    assert torch.equal(clip.model.visual.transformer.resblocks[0].attn.q_proj.base_layer.weight, base_weight)
    for a, b in zip(embeddings(clip, images), expected):
        torch.testing.assert_close(a, b, atol=0, rtol=0)

    A.save_adapter(clip.model, tmp_path)
    fresh = tiny_clip()
    split_attention(fresh.model, BOTH_TOWERS)
    A.load_adapter(fresh.model, tmp_path)
    for a, b in zip(embeddings(fresh.eval(), images), expected):
        torch.testing.assert_close(a, b, atol=0, rtol=0)

    A.merge(clip.model)
    fuse_attention(clip.model)
    plain = open_clip.CLIP(**TINY_CLIP).eval()
    plain.load_state_dict(clip.model.state_dict())  # open_clip's own parameter names again
    torch.testing.assert_close(plain.encode_image(clip.normalize(images), normalize=True), expected[0],
                               atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(plain.encode_text(clip.tokenize(TEXTS), normalize=True), expected[1],
                               atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("batch_first", [True, False])
def test_matches_multihead_attention_with_masks_and_weights(batch_first):
    torch.manual_seed(0)
    mha = torch.nn.MultiheadAttention(16, 4, batch_first=batch_first).eval()
    split = SplitQKVAttention(mha)
    x = torch.randn(2, 5, 16) if batch_first else torch.randn(5, 2, 16)
    causal = torch.triu(torch.ones(5, 5, dtype=torch.bool), diagonal=1)
    padding = torch.tensor([[False] * 5, [False, False, False, True, True]])
    for kwargs in (dict(attn_mask=causal), dict(attn_mask=causal.float().masked_fill(causal, float("-inf"))),
                   dict(key_padding_mask=padding, need_weights=True),
                   dict(attn_mask=causal, key_padding_mask=padding, need_weights=True, average_attn_weights=False)):
        expected_out, expected_weights = mha(x, x, x, **{"need_weights": False, **kwargs})
        out, weights = split(x, x, x, **kwargs)
        torch.testing.assert_close(out, expected_out, atol=1e-6, rtol=1e-5)
        if kwargs.get("need_weights"):
            torch.testing.assert_close(weights, expected_weights, atol=1e-6, rtol=1e-5)
        else:
            assert weights is None


def test_fusing_an_unmerged_adapter_and_matching_nothing_are_errors():
    clip = tiny_clip()
    with pytest.raises(ConfigError, match="no nn.MultiheadAttention matches"):
        split_attention(clip.model, ["visual.transformer.resblocks.*.mlp"])
    split_attention(clip.model, BOTH_TOWERS)
    A.inject(clip.model, CLIP_LORA)
    with pytest.raises(TypeError, match="merge it first"):
        fuse_attention(clip.model)
