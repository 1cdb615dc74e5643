"""reset() restores parameters, buffers, optimizer and method state exactly; episodic / periodic resets."""
import copy

import torch
from torch import nn

from visadapt.tta import build_tta_method


def batches(n):
    g = torch.Generator().manual_seed(7)
    return [torch.rand(4, 3, 16, 16, generator=g) for _ in range(n)]


def test_reset_restores_params_and_optimizer_exactly(tiny_vit):
    model = tiny_vit()
    start = {k: v.clone() for k, v in model.state_dict().items()}
    tta = build_tta_method(model, dict(type="tent", optimizer=dict(type="Adam", lr=1e-2)))
    xs = batches(4)
    first = tta(xs[0])
    for x in xs[1:3]:
        tta(x)
    assert any(not torch.equal(v, start[k]) for k, v in model.state_dict().items())
    assert tta.optimizer.state  # Adam moments exist
    tta.reset()
    for k, v in model.state_dict().items():
        assert torch.equal(v, start[k]), k
    assert not tta.optimizer.state and tta.num_updates == 0
    # after a reset the run replays exactly
    torch.testing.assert_close(tta(xs[0]), first, rtol=0, atol=0)
    fresh = build_tta_method(tiny_vit(), dict(type="tent", optimizer=dict(type="Adam", lr=1e-2)))
    fresh(xs[0])
    for (k, v), v2 in zip(model.state_dict().items(), fresh.model.state_dict().values()):
        assert torch.equal(v, v2), k


def test_snapshot_holds_only_what_changes(tiny_vit):
    model = tiny_vit()
    tta = build_tta_method(model, dict(type="tent"))
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    buffers = {n for n, _ in model.named_buffers()}
    assert set(tta._snapshot["model"]) == trainable | buffers
    assert "model.blocks.0.attn.qkv.weight" not in tta._snapshot["model"]


def test_reset_restores_buffers_and_method_state():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.LazyLinear(5))
    model(torch.rand(2, 3, 16, 16))
    model.eval()
    start = {k: v.clone() for k, v in model.state_dict().items()}
    bn = build_tta_method(model, dict(type="bn"))
    for x in batches(2):
        bn(x)
    assert not torch.equal(model[1].running_mean, start["1.running_mean"])
    bn.reset()
    for k, v in model.state_dict().items():
        assert torch.equal(v, start[k]), k

    eta = build_tta_method(copy.deepcopy(model), dict(type="eta", e_margin=100.0))
    eta(batches(1)[0])
    assert eta.model_probs is not None
    eta.reset()
    assert eta.model_probs is None


def test_episodic_and_periodic_reset(tiny_vit):
    x = batches(1)[0]
    tta = build_tta_method(tiny_vit(), dict(type="tent", episodic=True, optimizer=dict(type="SGD", lr=1.0)))
    torch.testing.assert_close(tta(x), tta(x), rtol=0, atol=0)
    model = tiny_vit()
    start = {k: v.clone() for k, v in model.state_dict().items()}
    tta = build_tta_method(model, dict(type="tent", reset_every=2, optimizer=dict(type="SGD", lr=1.0)))
    tta(x)
    assert tta.num_updates == 1
    tta(x)
    assert tta.num_updates == 0
    assert all(torch.equal(v, start[k]) for k, v in model.state_dict().items())


def test_all_methods_run_on_tiny_vit(tiny_vit, images):
    for name in ("source", "bn", "tent", "eta", "sar", "lame"):
        cfg = dict(type=name)
        tta = build_tta_method(tiny_vit(), cfg)
        out = tta(images)
        assert out.shape == (3, 5) and torch.isfinite(out).all(), cfg
