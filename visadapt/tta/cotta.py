"""CoTTA: continual test-time adaptation (Wang et al., CVPR 2022; tta.md 1.4).

Also home of the pieces ViDA shares with it: the batched CoTTA augmentation set (:func:`draw_aug_params`,
:func:`apply_aug`), the teacher EMA (:func:`ema_update`), the stochastic restore (:func:`stochastic_restore`)
and the teacher-student losses.
"""
from __future__ import annotations

import copy
import math
from typing import Any, Callable, Mapping

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from visadapt.registry import TTA_METHODS, ConfigError
from visadapt.tta.base import TTAMethod, flatten_logits, use_batch_statistics

# ---------------------------------------------------------------------------------------------- augmentations
# Ranges of ``get_tta_transforms(gaussian_std=0.005, soft=False)`` (tta.md 1.4); ``soft=True`` halves them
# around their identity value.
AUG_RANGES = dict(
    brightness=(0.6, 1.4),
    contrast=(0.7, 1.3),
    saturation=(0.5, 1.5),
    hue=(-0.06, 0.06),
    gamma=(0.7, 1.3),
    angle=(-15.0, 15.0),  # degrees
    translate=1.0 / 16,  # fraction of the image size, each axis
    scale=(0.9, 1.1),
    blur_sigma=(0.001, 0.5),
)
BLUR_KERNEL = 5


def _soften(lo: float, hi: float, centre: float) -> tuple[float, float]:
    return centre - (centre - lo) / 2, centre + (hi - centre) / 2


def draw_aug_params(
    n_views: int,
    batch: int,
    image_shape: tuple[int, int, int],
    generator: torch.Generator,
    device: torch.device | str = "cpu",
    per_sample: bool = True,
    gaussian_std: float = 0.005,
    soft: bool = False,
) -> dict[str, torch.Tensor]:
    """Random parameters of ``n_views`` CoTTA augmentations of a batch, every tensor's first dim ``n_views * batch``
    (view-major: row ``v * batch + i`` is view ``v`` of image ``i``).

    ``per_sample=False`` draws one parameter set per view shared by the whole batch, which is what torchvision
    transforms on a batched tensor do in the reference code (tta.md 1.4 pitfalls); the Gaussian noise is per
    pixel either way. All draws come from ``generator`` (on ``device``), so a seed reproduces them exactly.
    """
    r = {k: v for k, v in AUG_RANGES.items()}
    if soft:
        for k, centre in (("brightness", 1), ("contrast", 1), ("saturation", 1), ("gamma", 1), ("scale", 1)):
            r[k] = _soften(*r[k], centre)
        for k in ("hue", "angle", "blur_sigma"):
            r[k] = (r[k][0] / 2, r[k][1] / 2) if k != "blur_sigma" else (r[k][0], r[k][1] / 2)
        r["translate"] = r["translate"] / 2
    rows = batch if per_sample else 1
    m = n_views * batch

    def uniform(lo: float, hi: float, *extra: int) -> torch.Tensor:
        u = torch.rand(n_views, rows, *extra, generator=generator, device=device)
        u = lo + (hi - lo) * u
        return u.expand(n_views, batch, *extra).reshape(m, *extra)

    params = {k: uniform(*r[k]) for k in ("brightness", "contrast", "saturation", "hue", "gamma", "angle", "scale")}
    params["translate"] = uniform(-r["translate"], r["translate"], 2)
    params["blur_sigma"] = uniform(*r["blur_sigma"])
    params["flip"] = uniform(0.0, 1.0) < 0.5
    params["noise"] = gaussian_std * torch.randn(m, *image_shape, generator=generator, device=device)
    return params


def slice_aug_params(params: Mapping[str, torch.Tensor], rows: slice | torch.Tensor) -> dict[str, torch.Tensor]:
    """The parameters of a subset of the rows (e.g. one view: ``slice(v * B, (v + 1) * B)``)."""
    return {k: v[rows] for k, v in params.items()}


def _gray(x: torch.Tensor) -> torch.Tensor:
    return (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).unsqueeze(1)


def _hue_shift(x: torch.Tensor, hue: torch.Tensor) -> torch.Tensor:
    """Rotate the chroma of RGB images by ``hue`` turns (in [-0.5, 0.5]) in YIQ space (a linear stand-in for the
    HSV hue shift of torchvision's ``adjust_hue``)."""
    to_yiq = x.new_tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
    to_rgb = torch.linalg.inv(to_yiq)
    yiq = torch.einsum("ij,bjhw->bihw", to_yiq, x)
    theta = 2 * math.pi * hue
    cos, sin = theta.cos().view(-1, 1, 1), theta.sin().view(-1, 1, 1)
    i, q = yiq[:, 1], yiq[:, 2]
    yiq = torch.stack([yiq[:, 0], cos * i - sin * q, sin * i + cos * q], 1)
    return torch.einsum("ij,bjhw->bihw", to_rgb, yiq)


def _affine(x: torch.Tensor, p: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Rotation / translation / scale about the centre, bilinear, edge-replicated border (Pad(edge) + RandomAffine +
    CenterCrop of the reference, up to pixels more than n/2 outside the image)."""
    theta = p["angle"] * math.pi / 180
    cos, sin, s = theta.cos(), theta.sin(), p["scale"]
    # output -> input sampling grid in normalised coordinates: inverse of (scale * rotate, then translate)
    mat = torch.zeros(x.shape[0], 2, 3, device=x.device, dtype=x.dtype)
    mat[:, 0, 0], mat[:, 0, 1] = cos / s, sin / s
    mat[:, 1, 0], mat[:, 1, 1] = -sin / s, cos / s
    t = 2 * p["translate"].to(x.dtype)  # fraction of size -> normalised units
    mat[:, :, 2] = -torch.einsum("bij,bj->bi", mat[:, :, :2], t)
    grid = F.affine_grid(mat, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur, kernel 5, a sigma per image, reflect padding."""
    b, c, h, w = x.shape
    half = BLUR_KERNEL // 2
    coords = torch.arange(-half, half + 1, device=x.device, dtype=x.dtype)
    k = torch.exp(-(coords.view(1, -1) ** 2) / (2 * sigma.view(-1, 1).to(x.dtype) ** 2))
    k = (k / k.sum(1, keepdim=True)).repeat_interleave(c, 0)  # [b*c, K]
    y = x.reshape(1, b * c, h, w)
    y = F.conv2d(F.pad(y, (half, half, 0, 0), mode="reflect"), k.view(b * c, 1, 1, -1), groups=b * c)
    y = F.conv2d(F.pad(y, (0, 0, half, half), mode="reflect"), k.view(b * c, 1, -1, 1), groups=b * c)
    return y.reshape(b, c, h, w)


def apply_aug(x: torch.Tensor, p: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Apply drawn CoTTA augmentations to ``x`` [M, 3, H, W] in [0, 1], one parameter row per image.

    Clip -> brightness -> contrast -> saturation -> hue -> gamma (fixed order; the reference draws a random order)
    -> affine (Pad edge + RandomAffine + CenterCrop) -> Gaussian blur -> horizontal flip -> Gaussian noise -> clip.
    Pure torch ops on the input's device, so all views of all images run as one batch.
    """
    v = lambda t: t.to(x.dtype).view(-1, 1, 1, 1)  # noqa: E731
    x = x.clamp(0, 1)
    x = (x * v(p["brightness"])).clamp(0, 1)
    mean = _gray(x).mean(dim=(1, 2, 3), keepdim=True)
    x = ((x - mean) * v(p["contrast"]) + mean).clamp(0, 1)
    g = _gray(x)
    x = ((x - g) * v(p["saturation"]) + g).clamp(0, 1)
    x = _hue_shift(x, p["hue"].to(x.dtype)).clamp(0, 1)
    x = x.clamp(1e-6, 1) ** v(p["gamma"])  # clamp before the power: no NaN gradients at 0 (mariodoebler)
    x = _affine(x, p)
    x = _blur(x, p["blur_sigma"])
    x = torch.where(p["flip"].view(-1, 1, 1, 1), x.flip(-1), x)
    x = x + p["noise"].to(x.dtype)
    return x.clamp(0, 1)


def augment_views(
    x: torch.Tensor, n_views: int, generator: torch.Generator, per_sample: bool = True, **kwargs
) -> torch.Tensor:
    """``n_views`` augmented copies of the batch as one tensor [n_views * B, 3, H, W] (view-major)."""
    params = draw_aug_params(n_views, x.shape[0], tuple(x.shape[1:]), generator, x.device, per_sample, **kwargs)
    return apply_aug(x.repeat(n_views, 1, 1, 1), params)


# ---------------------------------------------------------------------------------------------- teacher-student
def teacher_student_loss(
    student: torch.Tensor, teacher: torch.Tensor, kind: str = "ce", weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean over samples (pixels) of the cross-entropy from the teacher's soft label to the student, each sample's
    term multiplied by ``weights`` when given (RoTTA's timeliness).

    ``ce``: ``-sum softmax(z') log softmax(z)`` (CIFAR); ``symmetric``: ``1/2`` of that plus ``1/2`` of
    ``-sum softmax(z) log softmax(z')`` (ImageNet versions of CoTTA and ViDA).
    """
    s, t = flatten_logits(student), flatten_logits(teacher.detach())
    loss = -(t.softmax(-1) * s.log_softmax(-1)).sum(-1)
    if kind == "symmetric":
        loss = 0.5 * loss - 0.5 * (s.softmax(-1) * t.log_softmax(-1)).sum(-1)
    elif kind != "ce":
        raise ConfigError(f"loss must be 'ce' or 'symmetric', got '{kind}'")
    return loss.mean() if weights is None else (loss * weights).mean()


@torch.no_grad()
def ema_update(
    teacher: nn.Module, student: nn.Module, alpha: float | Callable[[str], float], names: list[str] | None = None
) -> None:
    """``θ' <- α·θ' + (1-α)·θ`` for the named parameters (all parameters when ``names`` is None); ``alpha`` may be a
    function of the parameter name (ViDA's two rates). Buffers are not averaged (as in the reference)."""
    t_params, s_params = dict(teacher.named_parameters()), dict(student.named_parameters())
    for name in names if names is not None else list(t_params):
        a = alpha(name) if callable(alpha) else alpha
        t_params[name].mul_(a).add_(s_params[name].detach(), alpha=1 - a)


@torch.no_grad()
def stochastic_restore(
    params: Mapping[str, torch.Tensor], source: Mapping[str, torch.Tensor], p: float, generator: torch.Generator
) -> None:
    """Each element, independently with probability ``p``, goes back to its source value (drawn on the device)."""
    if p <= 0:
        return
    for name, param in params.items():
        mask = torch.rand(param.shape, generator=generator, device=param.device) < p
        param.copy_(torch.where(mask, source[name].to(param.dtype), param))


def make_generator(device: torch.device, seed: int) -> torch.Generator:
    g = torch.Generator(device=device)
    g.manual_seed(int(seed))
    return g


# ---------------------------------------------------------------------------------------------- mean teacher
class MeanTeacherMethod(TTAMethod):
    """What CoTTA and ViDA share: a teacher copy updated by EMA of the trained weights, a seeded on-device generator
    for augmentations and restores, and the step ``loss -> optimizer step -> teacher EMA -> stochastic restore``.

    Subclasses choose the targets (``forward_and_adapt``), the EMA rate(s) (``ema_alpha``: a float or a
    name -> float function) and ``restore_p``.
    """

    ema_alpha: Any
    restore_p: float

    def __init__(
        self,
        model: nn.Module,
        loss: str = "ce",
        faithful: bool = False,
        soft_augmentations: bool = False,
        gaussian_std: float = 0.005,
        seed: int = 0,
        views_per_chunk: int = 0,
        **kwargs,
    ):
        if loss not in ("ce", "symmetric"):
            raise ConfigError(f"{type(self).__name__.lower()}: loss must be 'ce' or 'symmetric', got '{loss}'")
        if views_per_chunk < 0:
            raise ConfigError(f"{type(self).__name__.lower()}: views_per_chunk must be >= 0, got {views_per_chunk}")
        self.loss_kind, self.faithful = loss, bool(faithful)
        self.aug_kwargs = dict(gaussian_std=gaussian_std, soft=soft_augmentations)
        self.seed, self.views_per_chunk = int(seed), int(views_per_chunk)
        super().__init__(model, **kwargs)

    def set_modes(self) -> None:
        self.model.eval()
        if getattr(self, "teacher", None) is not None:
            self.teacher.eval()

    def init_copies(self) -> None:
        self.teacher = copy.deepcopy(self.model).requires_grad_(False)
        self._trained = [n for n, p in self.model.named_parameters() if p.requires_grad]
        self.track("teacher", self.teacher, self._trained)

    def reset_state(self) -> None:
        self.generator = make_generator(next(self.model.parameters()).device, self.seed)

    @torch.no_grad()
    def augmented_teacher(self, x: torch.Tensor) -> torch.Tensor:
        """Teacher logits of ``n_augmentations`` augmented views of ``x``, [n_augmentations, B, ...].

        Views are drawn on the device (per sample unless faithful) and run through the teacher
        ``views_per_chunk`` at a time (0: all in one batched call). One big call suits a GPU; on CPU, chunks of one
        view were 2x faster for the tiny ViT's forward and 1.4x for the augmentation (benchmarks in docs/tta.md).
        """
        chunk = self.views_per_chunk or self.n_augmentations
        out = []
        for start in range(0, self.n_augmentations, chunk):
            n = min(chunk, self.n_augmentations - start)
            views = augment_views(x, n, self.generator, per_sample=not self.faithful, **self.aug_kwargs)
            logits = self.teacher(views)
            out.append(logits.view(n, x.shape[0], *logits.shape[1:]))
        return torch.cat(out)

    def learn_from_teacher(self, logits: torch.Tensor, target: torch.Tensor) -> None:
        self.optimizer_step(teacher_student_loss(logits, target, self.loss_kind))
        ema_update(self.teacher, self.model, self.ema_alpha, self._trained)
        current = dict(self.model.named_parameters())
        stochastic_restore({n: current[n] for n in self._trained}, self.source_params(), self.restore_p, self.generator)


# ---------------------------------------------------------------------------------------------- CoTTA
@TTA_METHODS.register("cotta")
class CoTTA(MeanTeacherMethod):
    """Mean-teacher self-training with augmentation-averaged pseudo-labels and stochastic restore.

    Per batch: student logits z; anchor (source) confidence; teacher target z' = teacher(x), replaced by the
    average over ``n_augmentations`` augmented teacher forwards (one batched forward) where the anchor is
    unconfident; loss = CE(softmax z' -> student) (``symmetric`` for ImageNet); optimizer step; teacher EMA; restore
    of a fraction ``restore_p`` of the trained weights to their source values. Returns z' (the teacher's prediction,
    computed before the teacher update), as the reference does.

    Trained: every parameter named ``weight``/``bias`` (all layers), BN statistics deleted (batch statistics),
    model in ``eval()`` (mariodoebler; the original used ``train()``, differing only for dropout/drop-path).

    Defaults (tta.md 1.4, CIFAR10-C ``cifar/cfgs/cifar10/cotta.yaml``): Adam lr 1e-3, ``mt_alpha`` 0.999,
    ``restore_p`` 0.01, ``ap`` 0.92, 32 augmentations, CE loss. CIFAR100-C: ``ap`` 0.72. ImageNet-C: SGD lr 0.01
    momentum 0.9 nesterov, ``restore_p`` 0.001, ``ap`` 0.1, ``loss='symmetric'``. The threshold rule of the
    author (issue cotta#16): 5 % quantile of source confidence on source images minus 0.05.

    ``faithful=True`` reproduces the reference: the whole batch is augmented when the *batch mean* anchor
    confidence is below ``ap``, the views' *logits* are averaged, and each torchvision-style augmentation draws one
    parameter set per view for the whole batch. The default (corrected) gates per sample (only unconfident
    samples are augmented and get the averaged target), averages *probabilities* (the target logits are the log
    of the mean probability) and draws augmentation parameters per sample.

    Memory: the student and one full teacher copy (they differ in all trained weights), plus the optimizer
    state for all weights. The anchor is *not* a third copy: it is the model evaluated with its snapshotted source
    parameters (``functional_call``), which the exact ``reset()`` needs to keep anyway. Augmented forwards cost
    ``n_augmentations x`` (unconfident part of) the batch in activations; ``views_per_chunk`` bounds it.
    """

    default_optimizer = dict(type="Adam", lr=1e-3, betas=(0.9, 0.999), weight_decay=0.0)

    def __init__(
        self,
        model: nn.Module,
        mt_alpha: float = 0.999,
        restore_p: float = 0.01,
        ap: float = 0.92,
        n_augmentations: int = 32,
        **kwargs,
    ):
        if not 0 <= mt_alpha <= 1 or not 0 <= restore_p <= 1:
            raise ConfigError(f"cotta: mt_alpha and restore_p must be in [0, 1], got {mt_alpha}, {restore_p}")
        if n_augmentations < 1:
            raise ConfigError(f"cotta: n_augmentations must be >= 1, got {n_augmentations}")
        self.ema_alpha, self.restore_p, self.ap = float(mt_alpha), float(restore_p), float(ap)
        self.n_augmentations = int(n_augmentations)
        super().__init__(model, **kwargs)

    # ------------------------------------------------------------------ setup
    def trained_names(self) -> list[str]:
        return [n for n, _ in self.model.named_parameters() if n.rsplit(".", 1)[-1] in ("weight", "bias")]

    def configure_model(self) -> None:
        use_batch_statistics(self.model)
        names = set(self.trained_names())
        for n, p in self.model.named_parameters():
            p.requires_grad_(n in names)
        self.set_modes()

    # ------------------------------------------------------------------ pieces
    @torch.no_grad()
    def anchor_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The source model (initial weights, current batch statistics) without a third model copy."""
        return functional_call(self.model, self.source_params(), (x,), strict=False)

    def average_views(self, view_logits: torch.Tensor) -> torch.Tensor:
        """Logit mean (faithful) or log of the mean probability (corrected) over dim 0."""
        if self.faithful:
            return view_logits.mean(0)
        return view_logits.softmax(2).mean(0).clamp_min(torch.finfo(view_logits.dtype).tiny).log()

    @torch.no_grad()
    def teacher_target(self, x: torch.Tensor) -> torch.Tensor:
        """z': teacher logits on x, with the augmentation average where (faithful: when) the anchor is unconfident."""
        target = self.teacher(x)
        conf = self.anchor_forward(x).softmax(1).amax(1)  # [B] (or [B, H, W])
        conf = conf.flatten(1).mean(1) if conf.dim() > 1 else conf  # per image
        if self.faithful:
            if conf.mean() < self.ap:
                target = self.average_views(self.augmented_teacher(x))
            return target
        low = conf < self.ap
        if low.any():
            target = target.clone()
            target[low] = self.average_views(self.augmented_teacher(x[low]))
        return target

    # ------------------------------------------------------------------ step
    def forward_and_adapt(self, x: torch.Tensor) -> torch.Tensor:
        target = self.teacher_target(x)
        self.learn_from_teacher(self.model(x), target)
        return target
