"""MoSA: partition, seeded per-step draws, training forward by hand, merge, save/load, loss, optimiser option."""
from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tests.conftest import perturb_adapters
from visadapt import adapters as A
from visadapt.adapters import mosa
from visadapt.adapters.bottleneck import BottleneckAdapterLayer
from visadapt.adapters.mosa import SplitLinear
from visadapt.registry import ConfigError

HIDDEN = 4


def _inject(backbone, **kw):
    cfg = dict(type="mosa", hidden_dim=HIDDEN, modules_to_save=["head"], **kw)
    return A.inject(backbone.model, cfg)


def _splits(model):
    return [(name, s) for name, layer in mosa.mosa_layers(model).items() for s in layer.adapter.split_layers()]


def _sub_weight(split: SplitLinear, k: int) -> torch.Tensor:
    """Sub-adapter k by hand: its own elements from the shared tensor, the frozen initial value elsewhere."""
    mask = (split.partition == k).float()
    w0 = split.init_weight if split.init_weight is not None else torch.zeros_like(split.sub_weight)
    return mask * split.sub_weight + (1 - mask) * w0


@pytest.mark.parametrize("share", ["down", "up", "none"])
def test_identity_at_init_in_eval_and_training(share, tiny_vit, images):
    backbone = tiny_vit()
    before = backbone(images)
    _inject(backbone, share=share)
    torch.testing.assert_close(backbone(images), before, atol=1e-6, rtol=0)
    backbone.train()
    torch.testing.assert_close(backbone(images), before, atol=1e-6, rtol=0)


@pytest.mark.parametrize("share", ["down", "none"])
def test_only_adapter_and_head_train(share, tiny_vit, images):
    backbone = tiny_vit()
    _inject(backbone, share=share)
    owned = set(A.adapter_state_dict(backbone.model))
    trainable = {n for n, p in backbone.model.named_parameters() if p.requires_grad}
    assert trainable == owned
    assert {n for n in owned if not n.startswith("blocks.")} == {"head.weight", "head.bias"}
    assert {n.split("adapter.")[1] for n in owned if "adapter." in n} == (
        {"norm.weight", "norm.bias", "down.weight", "down.bias", "up.sub_weight", "up.sub_bias"} if share == "down"
        else {"norm.weight", "norm.bias", "down.sub_weight", "down.sub_bias", "up.sub_weight", "up.sub_bias"})
    backbone.train()
    backbone(images).square().sum().backward()
    for name, p in backbone.model.named_parameters():
        assert (p.grad is not None) == (name in owned), name


def test_masks_are_disjoint_cover_every_element_and_are_balanced(tiny_vit):
    backbone = tiny_vit()
    _inject(backbone, share="none", num_subadapters=3)
    splits = _splits(backbone.model)
    assert len(splits) == 4  # 2 blocks x (down, up)
    for _, split in splits:
        masks = torch.stack([split.partition == k for k in range(3)])
        assert torch.equal(masks.sum(0), torch.ones_like(split.partition, dtype=torch.long))  # disjoint + cover
        sizes = masks.flatten(1).sum(1)
        assert sizes.max() - sizes.min() <= 1 and sizes.sum() == split.sub_weight.numel()
        # the sub-adapters' own elements reassemble the shared tensor
        own = sum(masks[k] * _sub_weight(split, k) for k in range(3))
        torch.testing.assert_close(own, split.sub_weight.detach())
    # deterministic from (seed, module name): same in a fresh model, different across layers and seeds
    again = tiny_vit()
    _inject(again, share="none", num_subadapters=3)
    for (_, a), (_, b) in zip(splits, _splits(again.model)):
        assert torch.equal(a.partition, b.partition) and torch.equal(a.init_weight if a.init_weight is not None
                                                                     else a.sub_weight, b.init_weight if
                                                                     b.init_weight is not None else b.sub_weight)
    assert not torch.equal(splits[1][1].partition, splits[3][1].partition)  # up of block 0 vs block 1
    other = tiny_vit()
    _inject(other, share="none", num_subadapters=3, seed=1)
    assert not torch.equal(splits[1][1].partition, _splits(other.model)[1][1].partition)


def test_per_step_draws_are_uniform_independent_and_seeded(tiny_vit, images):
    backbone = tiny_vit()
    _inject(backbone, share="none")
    layer = backbone.model.blocks[0].mlp.adapter
    draws = torch.tensor([layer.draw_at(i) for i in range(4000)])
    for col in range(2):
        counts = torch.bincount(draws[:, col], minlength=4)
        assert counts.min() > 850 and counts.max() < 1150, counts  # 1000 +- 5 sigma
    joint = torch.bincount(draws[:, 0] * 4 + draws[:, 1], minlength=16)
    assert joint.min() > 170 and joint.max() < 330, joint  # down and up drawn independently
    assert not torch.equal(draws[:50], torch.tensor([backbone.model.blocks[1].mlp.adapter.draw_at(i)
                                                     for i in range(50)]))  # blocks draw independently
    # one draw per training-mode forward, none in eval; same seed -> same sequence in a fresh model
    backbone.train()
    seen = []
    for _ in range(5):
        backbone(images)
        seen.append(layer.last_draw)
    assert layer.draws == 5 and seen == [tuple(d) for d in draws[:5].tolist()]
    backbone.eval()
    backbone(images)
    assert layer.draws == 5
    twin = tiny_vit()
    _inject(twin, share="none")
    assert [twin.model.blocks[0].mlp.adapter.draw_at(i) for i in range(200)] == [tuple(d) for d in
                                                                                draws[:200].tolist()]
    reseeded = tiny_vit()
    _inject(reseeded, share="none", seed=7)
    assert [reseeded.model.blocks[0].mlp.adapter.draw_at(i) for i in range(50)] != [tuple(d) for d in
                                                                                  draws[:50].tolist()]


def test_training_forward_uses_only_the_drawn_subadapter(tiny_vit):
    backbone = tiny_vit()
    _inject(backbone, share="none", dropout=0.0)
    perturb_adapters(backbone.model)
    backbone.train()
    block = backbone.model.blocks[0]
    layer = block.mlp.adapter
    a, b = layer.draw_at(layer.draws)
    x = torch.randn(2, 5, 24)
    h = x + block.attn(block.norm1(x))
    down_w, down_b = _sub_weight(layer.down, a), layer.down.sub_bias.view(4, HIDDEN)[a]
    up_w, up_b = _sub_weight(layer.up, b), layer.up.sub_bias.view(4, 24)[b]
    z = F.layer_norm(h, (24,), layer.norm.weight, layer.norm.bias)
    adapter_out = F.gelu(z @ down_w.T + down_b) @ up_w.T + up_b
    expected = h + block.mlp.base_layer(block.norm2(h)) + 0.1 * adapter_out
    out = block(x)
    assert layer.last_draw == (a, b)
    torch.testing.assert_close(out, expected)
    # sparse training: only the drawn sub-adapter's elements and bias row get a gradient
    out.square().sum().backward()
    for split, k in ((layer.down, a), (layer.up, b)):
        grad = split.sub_weight.grad
        assert grad[split.partition != k].abs().max() == 0 and grad[split.partition == k].abs().max() > 0
        rows = split.sub_bias.grad.view(4, -1).abs().sum(1)
        assert rows[k] > 0 and (rows > 0).sum() == 1


@pytest.mark.parametrize("kw", [dict(share="down"), dict(share="up"), dict(share="none"),
                                dict(share="up", layer_norm=False, placement="sequential", input_from=None)])
def test_eval_is_the_merged_plain_adapter(kw, tiny_vit, images):
    backbone = tiny_vit()
    _inject(backbone, num_subadapters=3, **kw)
    perturb_adapters(backbone.model)
    layers = mosa.mosa_layers(backbone.model)
    expected_weights = {}
    for name, layer in layers.items():
        for proj in ("down", "up"):
            split = getattr(layer.adapter, proj)
            if isinstance(split, SplitLinear):  # the average of the sub-adapters, by hand
                w = sum(_sub_weight(split, k) for k in range(3)) / 3
                expected_weights[f"{name}.adapter.{proj}"] = (w, split.sub_bias.view(3, -1).mean(0))
    expected = backbone(images)  # eval mode
    mosa.merge_subadapters(backbone.model)
    assert not mosa.mosa_layers(backbone.model)
    assert all(type(backbone.model.get_submodule(n)) is BottleneckAdapterLayer for n in layers)
    torch.testing.assert_close(backbone(images), expected, atol=1e-6, rtol=0)
    for name, (w, b) in expected_weights.items():
        lin = backbone.model.get_submodule(name)
        torch.testing.assert_close(lin.weight, w.detach())
        torch.testing.assert_close(lin.bias, b.detach())
    # the config list now holds one adaptformer config owning the new layers (and the head)
    (cfg,) = A.injected_configs(backbone.model)
    assert cfg.method == "adaptformer" and cfg.hidden_dim == HIDDEN and cfg.act == "gelu"
    assert (cfg.layer_norm, cfg.placement, cfg.input_from) == (kw.get("layer_norm", True),
                                                               kw.get("placement", "parallel"),
                                                               kw.get("input_from", "norm2"))
    assert "head.weight" in A.adapter_state_dict(backbone.model)
    # the residual-stream hook moved: norm2 feeds only the new layer
    assert len(backbone.model.blocks[0].norm2._forward_pre_hooks) == (1 if cfg.input_from else 0)
    backbone.train()
    backbone(images)  # training still works (no stale stream left in the old layer)


def test_joint_merge_mode_is_the_union_over_n():
    """The reference's alternative merge: each sub-adapter's own elements, divided by N; last bias / N."""
    split = SplitLinear(5, 3, 2, init="kaiming", merge_mode="joint")
    split.reset(11)
    with torch.no_grad():
        split.sub_weight.add_(1.0)
        split.sub_bias.copy_(torch.arange(6.0))
    torch.testing.assert_close(split.merged_weight(), split.sub_weight / 2)
    torch.testing.assert_close(split.merged_bias(), torch.tensor([3.0, 4.0, 5.0]) / 2)
    split.merge_mode = "add"
    torch.testing.assert_close(split.merged_weight(), (_sub_weight(split, 0) + _sub_weight(split, 1)) / 2)
    torch.testing.assert_close(split.merged_bias(), torch.tensor([1.5, 2.5, 3.5]))


def test_merged_model_is_a_plain_adaptformer_adapter(tiny_vit, images, tmp_path):
    plain = tiny_vit()
    A.inject(plain.model, dict(type="adaptformer", hidden_dim=HIDDEN, layer_norm=True, act="gelu",
                               modules_to_save=["head"]))
    merged = tiny_vit()
    _inject(merged)
    counts_before = A.count_parameters(merged.model)
    perturb_adapters(merged.model)
    expected = merged(images)
    mosa.merge_subadapters(merged.model)
    assert A.count_parameters(merged.model) == A.count_parameters(plain.model)
    shapes = {k: v.shape for k, v in merged.model.state_dict().items()}
    assert shapes == {k: v.shape for k, v in plain.model.state_dict().items()}
    # before merging MoSA costs only the extra (N-1) bias rows of the split up-projection per block
    assert counts_before["trainable"] - A.count_parameters(plain.model)["trainable"] == 2 * 3 * 24
    # the merged adapter exports as a plain adaptformer adapter and loads into a fresh model
    A.save_adapter(merged.model, tmp_path)
    assert A.read_adapter_config(tmp_path)["adapters"][0]["type"] == "adaptformer"
    fresh = tiny_vit()
    A.load_adapter(fresh.model, tmp_path)
    torch.testing.assert_close(fresh(images), expected, atol=1e-6, rtol=0)


def test_project_merge_refuses_strict_and_leaves_mosa_otherwise(tiny_vit, images):
    backbone = tiny_vit()
    A.inject(backbone.model, [dict(type="mosa", hidden_dim=HIDDEN, modules_to_save=["head"]),
                              dict(type="lora", r=2, alpha=2)])
    perturb_adapters(backbone.model)
    with pytest.raises(TypeError, match="cannot be folded"):
        A.merge(backbone.model)
    expected = backbone(images)
    A.merge(backbone.model, strict=False)  # folds lora, keeps mosa and its config
    torch.testing.assert_close(backbone(images), expected, atol=1e-5, rtol=0)
    assert [c.method for c in A.injected_configs(backbone.model)] == ["mosa"]
    assert len(mosa.mosa_layers(backbone.model)) == 2


@pytest.mark.parametrize("share", ["down", "none"])
def test_save_load_round_trip_and_resumed_draws(share, tiny_vit, images, tmp_path):
    trained = tiny_vit()
    _inject(trained, share=share, dropout=0.0)
    perturb_adapters(trained.model)
    trained.train()
    for _ in range(3):
        trained(images)
    A.save_adapter(trained.model, tmp_path)
    state = mosa.draw_state(trained.model)
    assert state == {"blocks.0.mlp": 3, "blocks.1.mlp": 3}
    fresh = tiny_vit()
    A.load_adapter(fresh.model, tmp_path)  # injects from adapter_config.json: same seed -> same partition and W0
    mosa.load_draw_state(fresh.model, state)
    trained.eval()
    torch.testing.assert_close(fresh(images), trained(images), atol=0, rtol=0)
    trained.train()
    fresh.train()
    for _ in range(3):  # the resumed model draws the same sub-adapters and computes the same outputs
        torch.testing.assert_close(fresh(images), trained(images), atol=0, rtol=0)
        assert [m.adapter.last_draw for m in mosa.mosa_layers(fresh.model).values()] == \
               [m.adapter.last_draw for m in mosa.mosa_layers(trained.model).values()]
    with pytest.raises(KeyError, match="missing"):
        mosa.load_draw_state(fresh.model, {"blocks.0.mlp": 1})


def test_deepcopy_keeps_working_and_merging_the_copy_leaves_the_original(tiny_vit, images):
    backbone = tiny_vit()
    _inject(backbone)
    perturb_adapters(backbone.model)
    expected = backbone(images)
    twin = copy.deepcopy(backbone)
    torch.testing.assert_close(twin(images), expected)
    mosa.merge_subadapters(twin.model)
    torch.testing.assert_close(twin(images), expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(backbone(images), expected)


def test_symmetric_kl_hand_computed():
    # p = softmax([0, 0]) = (1/2, 1/2); q = softmax([log 3, 0]) = (3/4, 1/4)
    a = torch.tensor([[0.0, 0.0]], requires_grad=True)
    b = torch.tensor([[math.log(3.0), 0.0]], requires_grad=True)
    kl_qp = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    kl_pq = 0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(0.5 / 0.25)
    loss = mosa.symmetric_kl(a, b)
    assert loss.item() == pytest.approx(0.5 * (kl_qp + kl_pq), abs=1e-6)  # 0.137327
    loss.backward()
    # target side detached: d/da 0.5*KL(sg(q)||p) = 0.5*(p - q), d/db 0.5*KL(sg(p)||q) = 0.5*(q - p)
    torch.testing.assert_close(a.grad, torch.tensor([[-0.125, 0.125]]))
    torch.testing.assert_close(b.grad, torch.tensor([[0.125, -0.125]]))
    # batchmean: a batch of copies gives the same value; identical logits give 0
    assert mosa.symmetric_kl(a.detach().repeat(4, 1), b.detach().repeat(4, 1)).item() == pytest.approx(loss.item())
    assert mosa.symmetric_kl(b, b).item() == 0.0


class _Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(3, 5), nn.GELU(), nn.Linear(5, 3))

    def forward(self, x):
        return self.mlp(x)


def _tiny_opt_case(momentum_on_inactive: bool, closure: bool = False):
    """Two AdamW steps on a 3-wide block whose up-projection is split in 2; step 1 and 2 draw different halves."""
    torch.manual_seed(0)
    model = _Block()
    A.inject(model, dict(type="mosa", target_modules=["mlp"], input_from=None, hidden_dim=2, num_subadapters=2,
                         dropout=0.0, momentum_on_inactive=momentum_on_inactive))
    layer = model.mlp.adapter
    layer.draws = next(i for i in range(100) if layer.draw_at(i)[1] != layer.draw_at(i + 1)[1])
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=0.1, weight_decay=0.1)
    x = torch.randn(4, 3, generator=torch.Generator().manual_seed(1))

    def loss():
        opt.zero_grad()
        out = model(x).square().sum()
        out.backward()
        return out

    def step():
        if closure:  # as Lightning does: the forward (and so the draw) runs inside optimizer.step
            opt.step(loss)
        else:
            loss()
            opt.step()
        return layer.last_draw[1]

    return model, layer.up, opt, step


def _snapshot(split, opt):
    return {"value": split.sub_weight.detach().clone(), "bias": split.sub_bias.detach().clone(),
            **{k: opt.state[split.sub_weight][k].clone() for k in ("exp_avg", "exp_avg_sq")},
            **{"b_" + k: opt.state[split.sub_bias][k].clone() for k in ("exp_avg", "exp_avg_sq")}}


def test_optimizer_state_of_inactive_subadapters_is_shared_by_default():
    """Default (reference, PyTorch 1.11 zero-grad semantics): an inactive sub-adapter's elements get a zero gradient,
    so AdamW decays their moments and still moves them by their momentum and weight decay."""
    model, up, opt, step = _tiny_opt_case(momentum_on_inactive=True)
    first = step()
    own = up.partition == first
    assert up.sub_weight[own].abs().min() > 0 and up.sub_weight[~own].abs().max() == 0  # zero init stays zero
    before = _snapshot(up, opt)
    second = step()
    assert second != first
    rows = (torch.arange(2).repeat_interleave(3) == first)
    b1, b2 = opt.param_groups[0]["betas"]
    torch.testing.assert_close(opt.state[up.sub_weight]["exp_avg"][own], b1 * before["exp_avg"][own])
    torch.testing.assert_close(opt.state[up.sub_weight]["exp_avg_sq"][own], b2 * before["exp_avg_sq"][own])
    assert (up.sub_weight[own] - before["value"][own]).abs().min() > 1e-4  # moved while inactive
    torch.testing.assert_close(opt.state[up.sub_bias]["exp_avg"][rows], b1 * before["b_exp_avg"][rows])
    assert (up.sub_bias[rows] - before["bias"][rows]).abs().min() > 1e-4


@pytest.mark.parametrize("closure", [False, True])
def test_optimizer_state_of_inactive_subadapters_frozen_option(closure):
    """momentum_on_inactive=False with attach_optimizer: inactive elements keep value and moments for that step,
    as N separate parameters with grad None (PyTorch >= 2 zero_grad) would."""
    model, up, opt, step = _tiny_opt_case(momentum_on_inactive=False, closure=closure)
    with pytest.warns(UserWarning, match="attach_optimizer"):
        model.train()(torch.randn(2, 3))  # without hooks the option cannot act: warned
    up.active.clear()
    model.mlp.adapter.draws -= 1
    hooks = mosa.attach_optimizer(model, opt)
    first = step()
    own = up.partition == first
    assert up.sub_weight[own].abs().min() > 0 and up.sub_weight[~own].abs().max() == 0
    assert opt.state[up.sub_weight]["exp_avg"][~own].abs().max() == 0
    before = _snapshot(up, opt)
    second = step()
    assert second != first
    rows = (torch.arange(2).repeat_interleave(3) == first)
    for key, p, mask in (("value", up.sub_weight, own), ("bias", up.sub_bias, rows)):
        assert torch.equal(p.detach()[mask], before[key][mask])  # frozen
        assert (p.detach()[~mask] - before[key][~mask]).abs().min() > 1e-4  # the drawn half trained
    for key in ("exp_avg", "exp_avg_sq"):
        assert torch.equal(opt.state[up.sub_weight][key][own], before[key][own])
        assert torch.equal(opt.state[up.sub_bias][key][rows], before["b_" + key][rows])
    hooks.remove()
    assert not up.optimizer_attached


def test_config_defaults_validation_and_helpers(tiny_vit):
    cfg = mosa.MoSAConfig()
    assert (cfg.hidden_dim, cfg.num_subadapters, cfg.share, cfg.scale, cfg.dropout, cfg.act, cfg.layer_norm,
            cfg.placement, cfg.input_from, cfg.consistency_weight) == (16, 4, "down", 0.1, 0.1, "gelu", True,
                                                                       "parallel", "norm2", 1.0)
    assert cfg.target_modules == ["blocks.*.mlp"]
    assert "mosa" in A.list_adapters()
    for bad, field in [(dict(num_subadapters=0), "num_subadapters"), (dict(share="left"), "share"),
                       (dict(seed=-1), "seed"), (dict(merge_mode="mean"), "merge_mode"),
                       (dict(consistency_weight=-1.0), "consistency_weight"), (dict(act="tanh"), "act"),
                       (dict(momentum_on_inactive="yes"), "momentum_on_inactive"), (dict(dropout=1.0), "dropout")]:
        with pytest.raises(ConfigError, match=f"mosa: {field} .*{list(bad.values())[0]!r}"):
            A.AdapterConfig.from_dict(dict(type="mosa", **bad))
    with pytest.raises(ConfigError, match="num_subadapters=.*exceeds"):
        A.inject(tiny_vit().model, dict(type="mosa", hidden_dim=1, num_subadapters=30))
    backbone = tiny_vit()
    assert mosa.consistency_weight(backbone.model) == 0.0
    _inject(backbone, consistency_weight=0.5)
    assert mosa.consistency_weight(backbone.model) == 0.5
    assert mosa.RECIPES["vtab"]["adapter"]["hidden_dim"] == 16 and mosa.RECIPES["cub"]["adapter"]["hidden_dim"] == 64
    assert mosa.RECIPES["vtab"]["optimizer"] == dict(type="AdamW", lr=5e-3, weight_decay=0.01, eps=1e-6)
