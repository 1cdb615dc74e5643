"""RoTTA's core maths on hand-checked cases: robust BN, the CSTU memory bank, timeliness; then the method's step."""
import copy
import math

import pytest
import torch
from torch import nn

from visadapt.registry import ConfigError
from visadapt.tta import CSTU, build_tta_method, robust_bn_forward, timeliness

from tests.tta.test_tta_bn import bn_model


def test_robust_bn_moves_global_statistics_by_alpha_and_normalises_with_them():
    bn = bn_model()[0].train()  # source mean (1, -2), var (4, 0.25)
    # channel 0 holds 0 and 2 (mean 1, biased var 1); channel 1 holds -1 and 3 (mean 1, biased var 4)
    x = torch.tensor([[[[0.0]], [[-1.0]]], [[[2.0]], [[3.0]]]], requires_grad=True)
    out = robust_bn_forward(bn, 0.5, x)
    mean, var = torch.tensor([1.0, -0.5]), torch.tensor([2.5, 2.125])  # 0.5 * source + 0.5 * batch
    torch.testing.assert_close(bn.running_mean, mean)
    torch.testing.assert_close(bn.running_var, var)
    expected = bn.weight.view(1, 2, 1, 1) * (x - mean.view(1, 2, 1, 1)) / torch.sqrt(var.view(1, 2, 1, 1) + bn.eps)
    torch.testing.assert_close(out, expected + bn.bias.view(1, 2, 1, 1))
    # gradients flow through the batch part of the statistics: for out[0, 0] = w (x - m) / sqrt(v) at x = 0, m = 1,
    # v = 2.5, dm/dx = a / B = 0.25 and dv/dx = a * d var_batch / dx = 0.5 * -1, so d out / dx = 2 (0.75 / sqrt(2.5)
    # - (-1) * (-0.5) / 2 * 2.5^-1.5) = 0.8222
    out[0, 0].sum().backward()
    assert x.grad[0, 0].item() == pytest.approx(2.0 * (0.75 / math.sqrt(2.5) - 0.25 * 2.5 ** -1.5), rel=1e-4)
    bn.eval()  # eval: the global statistics, untouched
    torch.testing.assert_close(robust_bn_forward(bn, 0.5, x), out)
    torch.testing.assert_close(bn.running_mean, mean)


def test_timeliness_is_sigmoid_of_minus_age_over_capacity():
    torch.testing.assert_close(timeliness(torch.tensor([0.0, 64.0]), 64), torch.tensor([0.5, 1 / (1 + math.e)]))
    assert timeliness(32, 64) == pytest.approx(math.exp(-0.5) / (1 + math.exp(-0.5)))


def items(bank):
    return [[(int(item.image), item.age) for item in per_class] for per_class in bank.data]


def test_cstu_full_class_evicts_its_oldest_most_uncertain_item():
    bank = CSTU(capacity=4, num_classes=2)  # quota 2 per class; score = sigmoid(age / 4) + u / ln 2
    assert bank.add(torch.tensor(0), 0, 0.2) and bank.add(torch.tensor(1), 0, 0.5)
    # class 0 full: item 0 scores 0.6225 + 0.2885 = 0.911, item 1 0.5622 + 0.7213 = 1.284, the newcomer 0.644
    assert bank.add(torch.tensor(2), 0, 0.1)
    assert items(bank) == [[(0, 3), (2, 1)], []]
    # a newcomer scoring 0.5 + 1.443 = 1.943, above every stored item (0.968, 0.707), is refused; all still age
    assert not bank.add(torch.tensor(3), 0, 1.0)
    assert items(bank) == [[(0, 4), (2, 2)], []]


def test_cstu_full_memory_evicts_from_the_majority_class():
    bank = CSTU(capacity=4, num_classes=3)  # quota 4/3: a class takes a second item while it holds one
    for image, label, u in [(0, 0, 0.0), (1, 0, 0.0), (2, 1, 0.9), (3, 2, 0.0)]:
        assert bank.add(torch.tensor(image), label, u)
    # full; class 1 is under quota, so the majority class 0 gives up its oldest item (score 0.731 > 0.5), although
    # the uncertain item 2 of class 1 scores higher (0.622 + 0.819)
    assert bank.add(torch.tensor(4), 1, 0.0)
    assert items(bank) == [[(1, 4)], [(2, 3), (4, 1)], [(3, 2)]]
    images, ages = bank.memory()
    assert [int(i) for i in images] == [1, 2, 4, 3] and ages.tolist() == [4.0, 3.0, 1.0, 2.0]


def bn_cnn():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten(), nn.Linear(4, 3))
    with torch.no_grad():
        model[1].running_mean.uniform_(-0.2, 0.2)
        model[1].running_var.uniform_(0.5, 1.5)
    return model.eval()


def test_rotta_predicts_with_the_teacher_updates_every_frequency_samples_and_resets_exactly():
    model = bn_cnn()
    source = copy.deepcopy(model)
    tta = build_tta_method(model, dict(type="rotta", capacity=8, update_frequency=12, nu=0.25))
    x = torch.rand(8, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(tta(x), source(x))  # no update yet: the teacher is the source model in eval
    assert 0 < len(tta.memory) <= 8 and tta.seen == 8
    trained = dict(source.named_parameters())
    assert torch.equal(model[1].weight, trained["1.weight"])
    tta(x)  # the 12th sample triggers one update on the memory, the 16th does not
    assert tta.seen == 16
    student, teacher = model[1].weight.detach(), tta.teacher[1].weight.detach()
    assert not torch.equal(student, trained["1.weight"])
    torch.testing.assert_close(teacher, 0.75 * trained["1.weight"] + 0.25 * student)
    assert torch.equal(model[0].weight, trained["0.weight"])  # only norm affine parameters train
    assert not torch.equal(tta.teacher[1].running_mean, source[1].running_mean)  # RBN moved on the memory
    tta.reset()
    for a, b in [(model, source), (tta.teacher, source)]:
        for (name, t), s in zip(a.state_dict().items(), b.state_dict().values()):
            assert torch.equal(t, s), name
    assert tta.memory is None and tta.seen == 0


def test_rotta_rejects_bad_arguments():
    with pytest.raises(ConfigError, match="alpha"):
        build_tta_method(bn_cnn(), dict(type="rotta", alpha=0.0))
    with pytest.raises(ConfigError, match="update_frequency"):
        build_tta_method(bn_cnn(), dict(type="rotta", update_frequency=0))
