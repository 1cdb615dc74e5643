"""CoTTA: restore, teacher EMA, confidence gating (faithful vs corrected), batched augmentations, reset, end to end."""
import torch
from torch import nn

from visadapt.tta.cotta import (
    CoTTA,
    apply_aug,
    draw_aug_params,
    ema_update,
    slice_aug_params,
    stochastic_restore,
    teacher_student_loss,
)
from visadapt.registry import TTA_METHODS


def test_stochastic_restore_fraction_and_values():
    g = torch.Generator().manual_seed(0)
    current = torch.randn(400_000, generator=g) + 10.0  # disjoint from the source values
    source = torch.randn(400_000, generator=g) - 10.0
    param = current.clone()
    stochastic_restore({"w": param}, {"w": source}, 0.3, torch.Generator().manual_seed(1))
    restored = param < 0
    assert abs(restored.float().mean().item() - 0.3) < 0.005  # std of the fraction ~ 7e-4
    assert torch.equal(param[restored], source[restored])
    assert torch.equal(param[~restored], current[~restored])
    untouched = current.clone()
    stochastic_restore({"w": untouched}, {"w": source}, 0.0, torch.Generator())
    assert torch.equal(untouched, current)


def test_ema_update_by_hand():
    torch.manual_seed(0)
    teacher, student = nn.Linear(3, 2), nn.Linear(3, 2)
    t0 = {k: v.clone() for k, v in teacher.state_dict().items()}
    ema_update(teacher, student, 0.9)
    for k, v in teacher.state_dict().items():
        torch.testing.assert_close(v, 0.9 * t0[k] + 0.1 * student.state_dict()[k])
    ema_update(teacher, student, lambda name: 1.0 if name == "bias" else 0.0)  # per-name rates
    torch.testing.assert_close(teacher.weight, student.weight)
    torch.testing.assert_close(teacher.bias, 0.9 * t0["bias"] + 0.1 * student.bias)


def test_teacher_is_ema_of_updated_student(tiny_vit, images):
    tta = CoTTA(tiny_vit(), mt_alpha=0.8, restore_p=0.0, n_augmentations=2, optimizer=dict(type="SGD", lr=0.5))
    t0 = {n: p.clone() for n, p in tta.teacher.named_parameters()}
    s0 = {n: p.clone() for n, p in tta.model.named_parameters()}
    tta(images)
    student, teacher = dict(tta.model.named_parameters()), dict(tta.teacher.named_parameters())
    assert any(not torch.equal(student[n], s0[n]) for n in tta._trained)
    for n in tta._trained:
        torch.testing.assert_close(teacher[n], 0.8 * t0[n] + 0.2 * student[n])
    assert "model.cls_token" not in tta._trained  # only weight/bias tensors are trained (reference)
    assert torch.equal(student["model.cls_token"], s0["model.cls_token"])


class Sum(nn.Module):
    """logits = [k * sum(x), 0]: an all-zero image gives confidence 0.5, a bright one ~1."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(48, 2, bias=False)
        with torch.no_grad():
            self.fc.weight.zero_()
            self.fc.weight[0] = 1.0

    def forward(self, x):
        return self.fc(x.flatten(1))


def gated(faithful, ap, x, views):
    tta = CoTTA(Sum(), ap=ap, faithful=faithful, n_augmentations=2)
    calls = []

    def fake(xs):  # known teacher logits of the views, [N, B, C]
        calls.append(xs.shape[0])
        return views[:, : xs.shape[0]]

    tta.augmented_teacher = fake
    return tta.teacher_target(x), tta.teacher(x), calls


def test_gating_corrected_is_per_sample_and_averages_probabilities():
    x = torch.stack([torch.zeros(3, 4, 4), torch.full((3, 4, 4), 0.5)])  # conf 0.5 and ~1
    views = torch.tensor([[[0.0, 2.0]], [[4.0, 0.0]]])  # [N=2, 1, C=2]
    target, clean, calls = gated(False, 0.9, x, views)
    assert calls == [1]  # only the unconfident sample is augmented
    p = (views.softmax(-1).mean(0))[0]
    torch.testing.assert_close(target[0], p.log())
    torch.testing.assert_close(target[0].softmax(-1), p)
    torch.testing.assert_close(target[1], clean[1])
    # above the threshold everywhere: no augmentation
    target, clean, calls = gated(False, 0.4, x, views)
    assert calls == [] and torch.equal(target, clean)


def test_gating_faithful_is_batch_level_and_averages_logits():
    x = torch.stack([torch.zeros(3, 4, 4), torch.full((3, 4, 4), 0.5)])  # mean confidence ~0.75
    views = torch.tensor([[[0.0, 2.0], [1.0, 1.0]], [[4.0, 0.0], [3.0, -1.0]]])  # [N=2, B=2, C=2]
    target, _, calls = gated(True, 0.9, x, views)
    assert calls == [2]  # the whole batch
    torch.testing.assert_close(target, views.mean(0))  # logit mean, confident sample included
    target, clean, calls = gated(True, 0.7, x, views)  # mean 0.75 >= 0.7: nobody, though sample 0 is at 0.5
    assert calls == [] and torch.equal(target, clean)
    _, _, calls = gated(False, 0.7, x, views)  # corrected: sample 0 still augmented
    assert calls == [1]


def test_batched_augmentation_equals_per_view():
    x = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    n = 3
    params = draw_aug_params(n, 2, (3, 8, 8), torch.Generator().manual_seed(5))
    batched = apply_aug(x.repeat(n, 1, 1, 1), params)
    for v in range(n):
        one = apply_aug(x, slice_aug_params(params, slice(v * 2, (v + 1) * 2)))
        torch.testing.assert_close(batched[v * 2 : (v + 1) * 2], one)
    again = draw_aug_params(n, 2, (3, 8, 8), torch.Generator().manual_seed(5))
    assert all(torch.equal(params[k], again[k]) for k in params)  # seeded draws
    assert batched.min() >= 0 and batched.max() <= 1
    shared = draw_aug_params(n, 2, (3, 8, 8), torch.Generator().manual_seed(5), per_sample=False)
    assert torch.equal(shared["angle"][0], shared["angle"][1]) and not torch.equal(shared["noise"][0], shared["noise"][1])
    assert not torch.equal(params["angle"][0], params["angle"][1])


def test_identity_parameters_leave_the_image():
    x = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    ones, zeros = torch.ones(2), torch.zeros(2)
    p = dict(brightness=ones, contrast=ones, saturation=ones, hue=zeros, gamma=ones, angle=zeros, scale=ones,
             translate=torch.zeros(2, 2), blur_sigma=torch.full((2,), 1e-3), flip=torch.tensor([False, True]),
             noise=torch.zeros(2, 3, 8, 8))
    out = apply_aug(x, p)
    torch.testing.assert_close(out[0], x[0].clamp_min(1e-6), atol=1e-5, rtol=0)
    torch.testing.assert_close(out[1], x[1].clamp_min(1e-6).flip(-1), atol=1e-5, rtol=0)


def test_losses_by_hand():
    s, t = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    ce = -(t.softmax(1) * s.log_softmax(1)).sum()
    torch.testing.assert_close(teacher_student_loss(s, t), ce)
    sym = 0.5 * ce - 0.5 * (s.softmax(1) * t.log_softmax(1)).sum()
    torch.testing.assert_close(teacher_student_loss(s, t, "symmetric"), sym)


def test_end_to_end_and_exact_reset(tiny_vit, images):
    model = tiny_vit()
    source = {n: p.clone() for n, p in model.named_parameters()}
    tta = TTA_METHODS.build(dict(type="cotta", n_augmentations=4, restore_p=0.1, ap=1.1), model=model)
    with torch.no_grad():  # the usual evaluation loop
        first = tta(images)
        tta(images)
    assert first.shape == (3, 5) and torch.isfinite(first).all()
    changed = [n for n, p in tta.model.named_parameters() if not torch.equal(p, source[n])]
    assert changed and all(n in tta._trained for n in changed)
    assert any(not torch.equal(p, source[n]) for n, p in tta.teacher.named_parameters())
    tta.reset()
    for n, p in tta.model.named_parameters():
        assert torch.equal(p, source[n])
    for n, p in tta.teacher.named_parameters():
        assert torch.equal(p, source[n])
    again = tta(images)
    torch.testing.assert_close(again, first, rtol=0, atol=0)  # generator and optimizer state reset too
