"""RoTTA: robust test-time adaptation in dynamic scenarios (Yuan, Xie, Li, CVPR 2023).

Built for streams whose samples are not i.i.d. (class-correlated order, mixed domains): it never normalises with
the statistics of one small, label-shifted test batch. Three parts, as in the reference (BIT-DA/RoTTA):

* Robust BatchNorm (:func:`robust_bn_forward`): global statistics updated by EMA (``alpha``) from the batch
  statistics of the *memory bank* (a category-balanced sample of the stream), used for every prediction.
* Category-balanced sampling with timeliness (:class:`CSTU`): a memory of ``capacity`` samples with a quota per
  (pseudo-)class; a new sample replaces the highest-scored (oldest, most uncertain) one of its class when the
  class is full, or of a majority class when the memory is full.
* A teacher-student update every ``update_frequency`` samples on the memory: CE from the teacher's prediction on
  the clean memory to the student on strongly augmented memory (CoTTA's augmentations), each sample weighted by its
  timeliness ``exp(-a) / (1 + exp(-a))`` with ``a = age / capacity``; Adam on the norm layers' affine parameters;
  the teacher follows by EMA (``nu``). The prediction is the teacher's, computed before the update.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from visadapt.registry import TTA_METHODS, ConfigError
from visadapt.tta.base import norm_affine_params, softmax_entropy
from visadapt.tta.cotta import MeanTeacherMethod, augment_views, ema_update, teacher_student_loss


# ---------------------------------------------------------------------------------------------- robust BN
def robust_bn_forward(bn: _BatchNorm, alpha: float, x: torch.Tensor) -> torch.Tensor:
    """RBN: in train mode the global statistics (the layer's running buffers) move by ``alpha`` towards the batch's
    (biased) mean and variance and the batch is normalised with the *updated* global ones, gradients flowing
    through the batch part; in eval mode the global statistics are used as they are."""
    if not bn.training:
        return F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, training=False, eps=bn.eps)
    var, mean = torch.var_mean(x, dim=[0] + list(range(2, x.dim())), unbiased=False)
    mean = (1 - alpha) * bn.running_mean + alpha * mean
    var = (1 - alpha) * bn.running_var + alpha * var
    bn.running_mean.copy_(mean.detach())
    bn.running_var.copy_(var.detach())
    shape = (1, -1) + (1,) * (x.dim() - 2)  # by hand: F.batch_norm takes no gradient through its statistics
    out = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + bn.eps)
    return out if bn.weight is None else out * bn.weight.view(shape) + bn.bias.view(shape)


def use_robust_bn(model: nn.Module, alpha: float) -> None:
    """Make every BatchNorm of ``model`` a robust BN (instance-level ``forward``: names and state dict unchanged)."""
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            if m.running_mean is None:
                raise ConfigError("rotta: robust BN needs BatchNorm layers with source running statistics")
            m.forward = functools.partial(robust_bn_forward, m, alpha)


# ---------------------------------------------------------------------------------------------- memory bank
def timeliness(age: torch.Tensor | float, capacity: int) -> torch.Tensor | float:
    """``sigmoid(-age / capacity)``: the loss weight of a memory sample (1/2 when new, towards 0 with age)."""
    if isinstance(age, torch.Tensor):
        return torch.sigmoid(-age / capacity)
    return 1.0 / (1.0 + math.exp(age / capacity))


@dataclass
class MemoryItem:
    image: torch.Tensor
    uncertainty: float
    age: int = 0


class CSTU:
    """Category-balanced sampling with timeliness and uncertainty (the reference's ``CSTU``).

    Score of an item: ``lambda_t / (1 + exp(-age / capacity)) + lambda_u * uncertainty / ln C`` (old and uncertain
    items score high and go first). Per-class quota ``capacity / C``. Every insertion attempt ages every item by 1.
    """

    def __init__(self, capacity: int, num_classes: int, lambda_t: float = 1.0, lambda_u: float = 1.0):
        if capacity < 1 or num_classes < 2:
            raise ConfigError(f"rotta: memory capacity must be >= 1 and classes >= 2, got {capacity}, {num_classes}")
        self.capacity, self.num_classes = int(capacity), int(num_classes)
        self.per_class = capacity / num_classes
        self.lambda_t, self.lambda_u = float(lambda_t), float(lambda_u)
        self.data: list[list[MemoryItem]] = [[] for _ in range(num_classes)]

    def __len__(self) -> int:
        return sum(len(items) for items in self.data)

    def score(self, age: int, uncertainty: float) -> float:
        return self.lambda_t / (1 + math.exp(-age / self.capacity)) + self.lambda_u * uncertainty / math.log(
            self.num_classes)

    def add(self, image: torch.Tensor, label: int, uncertainty: float) -> bool:
        """Offer one sample with pseudo-label ``label``; returns whether it was stored."""
        stored = self._make_room(label, self.score(0, uncertainty))
        if stored:
            self.data[label].append(MemoryItem(image, uncertainty))
        for items in self.data:
            for item in items:
                item.age += 1
        return stored

    def _make_room(self, label: int, new_score: float) -> bool:
        if len(self.data[label]) >= self.per_class:
            return self._evict([label], new_score)
        if len(self) < self.capacity:
            return True
        most = max(len(items) for items in self.data)
        return self._evict([c for c, items in enumerate(self.data) if len(items) == most], new_score)

    def _evict(self, classes: list[int], new_score: float) -> bool:
        """Remove the highest-scored item of ``classes`` (the last one on ties) if it scores above the newcomer."""
        best = None
        for c in classes:
            for i, item in enumerate(self.data[c]):
                s = self.score(item.age, item.uncertainty)
                if best is None or s >= best[0]:
                    best = (s, c, i)
        if best is None:
            return True
        if best[0] > new_score:
            del self.data[best[1]][best[2]]
            return True
        return False

    def memory(self) -> tuple[list[torch.Tensor], torch.Tensor]:
        """``(images, ages)`` of every stored item, class by class."""
        items = [item for per_class in self.data for item in per_class]
        return [item.image for item in items], torch.tensor([float(item.age) for item in items])


# ---------------------------------------------------------------------------------------------- the method
@TTA_METHODS.register("rotta")
class RoTTA(MeanTeacherMethod):
    """Robust BN + CSTU memory + timeliness-weighted teacher-student updates (see the module docstring).

    Defaults are the reference's CIFAR settings (``configs/adapter/rotta.yaml``): memory ``capacity`` 64,
    ``update_frequency`` 64 samples, RBN ``alpha`` 0.05, teacher EMA ``nu`` 0.001 (teacher <- (1 - nu) teacher +
    nu student), ``lambda_t = lambda_u = 1``, Adam lr 1e-3, betas (0.9, 0.999); CoTTA's strong augmentations
    (``gaussian_std`` 0.005). Trained: the affine parameters of the norm layers. ``faithful=True`` draws one
    augmentation per memory batch, as torchvision transforms on a batched tensor do in the reference; the default
    draws one per sample.
    """

    default_optimizer = dict(type="Adam", lr=1e-3, betas=(0.9, 0.999), weight_decay=0.0)
    restore_p = 0.0

    def __init__(self, model: nn.Module, capacity: int = 64, update_frequency: int = 64, alpha: float = 0.05,
                 nu: float = 0.001, lambda_t: float = 1.0, lambda_u: float = 1.0, **kwargs):
        if not 0 < alpha <= 1 or not 0 <= nu <= 1:
            raise ConfigError(f"rotta: alpha must be in (0, 1] and nu in [0, 1], got {alpha}, {nu}")
        if update_frequency < 1:
            raise ConfigError(f"rotta: update_frequency must be >= 1, got {update_frequency}")
        self.alpha, self.ema_alpha = float(alpha), 1.0 - float(nu)
        self.capacity, self.update_frequency = int(capacity), int(update_frequency)
        self.lambdas = (float(lambda_t), float(lambda_u))
        super().__init__(model, **kwargs)

    def configure_model(self) -> None:
        self.model.requires_grad_(False)
        use_robust_bn(self.model, self.alpha)
        for _, p in norm_affine_params(self.model):
            p.requires_grad_(True)
        self.set_modes()

    def init_copies(self) -> None:
        super().init_copies()
        use_robust_bn(self.teacher, self.alpha)  # the copied forwards still point at the student's layers
        buffers = [n for n, b in self.teacher.named_buffers() if b is not None]
        self.track("teacher", self.teacher, self._trained + buffers)

    def reset_state(self) -> None:
        super().reset_state()
        self.memory: CSTU | None = None  # built at the first batch, when the number of classes is known
        self.seen = 0

    def update(self) -> None:
        """One weighted teacher-student step on the memory (both models in train mode: their RBNs update)."""
        images, ages = self.memory.memory()
        if not images:
            return
        images = torch.stack(images)
        self.model.train()
        self.teacher.train()
        with torch.no_grad():
            target = self.teacher(images)
        strong = augment_views(images, 1, self.generator, per_sample=not self.faithful, **self.aug_kwargs)
        weights = timeliness(ages.to(images.device), self.capacity)
        self.optimizer_step(teacher_student_loss(self.model(strong), target, self.loss_kind, weights))
        ema_update(self.teacher, self.model, self.ema_alpha, self._trained)
        self.set_modes()

    def forward_and_adapt(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            logits = self.teacher(x)
        if self.memory is None:
            self.memory = CSTU(self.capacity, logits.shape[1], *self.lambdas)
        labels = logits.argmax(1).tolist()
        # The reference's entropy is -sum p log(p + 1e-6): at most C * 1e-6 nats above this one.
        uncertainty = softmax_entropy(logits).tolist()
        for image, label, u in zip(x, labels, uncertainty):
            self.memory.add(image, label, u)
            self.seen += 1
            if self.seen % self.update_frequency == 0:
                self.update()
        return logits
