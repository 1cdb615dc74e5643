"""ViDA: uncertainty -> adapter scales by hand, faithful scale bug, two EMA rates, param groups, reset, adapter_dir."""
import pytest
import torch

from visadapt.adapters import adapter_state_dict, inject, save_adapter
from visadapt.registry import TTA_METHODS
from visadapt.tta.vida import ViDA, attention_linear_names, uncertainty_scales, vida_adapter_configs, vida_layer_pairs


def test_uncertainty_scales_by_hand():
    views = torch.tensor([[[0.0, 0.0]], [[2.0, 4.0]]])  # [N=2, B=1, C=2]
    # unbiased variance over views: (1 + 1) / 1 = 2 and (4 + 4) / 1 = 8 -> mean 5 -> U = 0.1 * 5
    u, low, high = uncertainty_scales(views, threshold=0.05)
    assert u == pytest.approx(0.5) and (low, high) == pytest.approx((0.5, 1.5))
    u, low, high = uncertainty_scales(views, threshold=1.0)  # below the threshold: low-rank gets more weight
    assert (low, high) == pytest.approx((1.5, 0.5))


def make(tiny_vit, **kw):
    return ViDA(tiny_vit(), n_augmentations=2, **kw)


def test_adapters_on_attention_projections(tiny_vit):
    tta = make(tiny_vit)
    assert attention_linear_names(tiny_vit()) == [f"model.blocks.{i}.attn.{p}" for i in range(2) for p in ("qkv", "proj")]
    pairs = vida_layer_pairs(tta.model)
    assert len(pairs) == 4
    assert all(lo.lora_A.shape[1] == 1 and hi.lora_A.shape[1] == 128 for lo, hi in pairs)
    assert all(p.requires_grad for p in tta.model.parameters())  # whole model + adapters (reference)
    lrs = [g["lr"] for g in tta.optimizer.param_groups]
    assert lrs == [1e-4, 1e-5]
    assert set(map(id, tta.optimizer.param_groups[1]["params"])) == {
        id(p) for n, p in tta.model.named_parameters() if n in tta.adapter_names
    }


@pytest.mark.parametrize("faithful", [False, True])
def test_scales_follow_uncertainty(tiny_vit, images, faithful):
    tta = make(tiny_vit, faithful=faithful, unc_threshold=0.0, restore_p=0.0)
    with torch.no_grad():
        tta(images)
    u = tta.uncertainty
    assert u > 0
    for model in (tta.model, tta.teacher):
        for lo, hi in vida_layer_pairs(model):
            assert lo.scale == pytest.approx(1 - u)
            assert hi.scale == pytest.approx(1.0 if faithful else 1 + u)  # faithful: set_scale's elif never fires


def test_two_ema_rates(tiny_vit, images):
    tta = make(tiny_vit, mt=0.5, mt_vida=0.9, restore_p=0.0, optimizer=dict(type="SGD", lr=0.5), vida_lr=0.5)
    t0 = {n: p.clone() for n, p in tta.teacher.named_parameters()}
    tta(images)
    student, teacher = dict(tta.model.named_parameters()), dict(tta.teacher.named_parameters())
    assert tta.adapter_names and set(tta.adapter_names) < set(student)
    for n in student:
        a = 0.9 if n in tta.adapter_names else 0.5
        torch.testing.assert_close(teacher[n], a * t0[n] + (1 - a) * student[n])


def test_end_to_end_and_exact_reset(tiny_vit, images):
    tta = TTA_METHODS.build(dict(type="vida", n_augmentations=3, unc_threshold=0.0), model=tiny_vit())
    s0 = {n: p.clone() for n, p in tta.model.named_parameters()}
    t0 = {n: p.clone() for n, p in tta.teacher.named_parameters()}
    with torch.no_grad():
        first = tta(images)
        tta(images)
    assert first.shape == (3, 5) and torch.isfinite(first).all()
    assert any(not torch.equal(p, s0[n]) for n, p in tta.model.named_parameters())
    assert any(not torch.equal(p, t0[n]) for n, p in tta.teacher.named_parameters())
    assert tta.scales != (1.0, 1.0)
    tta.reset()
    assert tta.scales == (1.0, 1.0) and all(lo.scale == 1.0 for lo, _ in vida_layer_pairs(tta.teacher))
    for n, p in tta.model.named_parameters():
        assert torch.equal(p, s0[n])
    for n, p in tta.teacher.named_parameters():
        assert torch.equal(p, t0[n])
    torch.testing.assert_close(tta(images), first, rtol=0, atol=0)


def test_loads_warmed_up_adapters(tiny_vit, tmp_path):
    """A warm-up export (adapters on the timm model, as tools/train.py writes it) loads into the Backbone's model."""
    warm = tiny_vit().model
    inject(warm, vida_adapter_configs(attention_linear_names(warm)))
    with torch.no_grad():
        for n, p in warm.named_parameters():
            if "lora_B" in n:
                p.normal_()
    save_adapter(warm, tmp_path)
    tta = ViDA(tiny_vit(), adapter_dir=str(tmp_path), n_augmentations=2)
    loaded = adapter_state_dict(tta.model.model)
    teacher = dict(tta.teacher.named_parameters())
    for n, t in adapter_state_dict(warm).items():
        assert torch.equal(loaded[n], t)
        assert torch.equal(teacher[f"model.{n}"], t)
        assert f"model.{n}" in tta.adapter_names
    assert len(vida_layer_pairs(tta.model)) == 4


def test_adapter_dir_must_exist_and_names_the_model_zoo(tiny_vit):
    with pytest.raises(FileNotFoundError, match="adapter_dir 'no_such_vida' is neither a folder nor a model-zoo"):
        ViDA(tiny_vit(), adapter_dir="no_such_vida", n_augmentations=2)
