"""ViDA: homeostatic visual domain adapters (Liu, Yang et al., ICLR 2024; tta.md 1.5).

The two adapters of every targeted Linear are built with the project's adapter API: two stacked LoRA layers,
``y = W x + b + s_low · U1 D1 x + s_high · U2 D2 x``. The high-rank LoRA (rank ``rank2``, default 128) is injected
first and the low-rank one (rank ``rank1``, default 1) stacks on it (the outer wrapper; see the stacking rule in
``visadapt.adapters.base``). Both
have ``alpha = r`` (scale 1) and ``init='gaussian'`` (``A ~ N(0, 1/r)``, ``B = 0``; the reference draws
``A ~ N(0, 1/r^2)``, identical for r=1), so a warmed-up pair saved with ``visadapt.adapters.save_adapter`` loads
with ``load_adapter`` (``adapter_dir``). :func:`vida_adapter_configs` gives the two configs.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from visadapt.adapters import adapted_model, adapter_state_dict, inject, injected_configs, load_adapter, module_prefix
from visadapt.adapters.lora.layer import LoRALinear
from visadapt.adapters.targeting import match_targets
from visadapt.backbones import model_zoo_dir
from visadapt.registry import TTA_METHODS, ConfigError
from visadapt.tta.cotta import MeanTeacherMethod

# The Linear layers of every attention module (the reference's ``inject_trainable_vida`` rule on a timm ViT:
# ``attn.qkv`` and ``attn.proj`` of every block), by module-name pattern.
ATTENTION_LINEARS = ("re:(.*\\.)?attn\\.(qkv|proj)",)


def attention_linear_names(model: nn.Module, patterns: tuple[str, ...] = ATTENTION_LINEARS) -> list[str]:
    """Names of the ``nn.Linear`` modules matching ``patterns``."""
    return [n for n in match_targets(model, patterns, where="vida") if isinstance(model.get_submodule(n), nn.Linear)]


def vida_adapter_configs(targets: list[str], rank1: int = 1, rank2: int = 128) -> list[dict]:
    """The adapter configs of ViDA for ``inject``/``tools/train.py``: high-rank LoRA on ``targets``, then the
    low-rank LoRA stacked on it (the outer layer). Order matters: high first."""
    return [
        dict(type="lora", r=rank2, alpha=float(rank2), init="gaussian", target_modules=list(targets)),
        dict(type="lora", r=rank1, alpha=float(rank1), init="gaussian", target_modules=list(targets)),
    ]


def resolve_adapter_dir(adapter_dir: str | Path) -> Path:
    """An adapter export folder: a path, or the name of a model-zoo entry (``model_zoo/<name>/``)."""
    path = Path(adapter_dir)
    if path.is_dir():
        return path
    zoo = model_zoo_dir() / str(adapter_dir)
    if zoo.is_dir():
        return zoo
    raise FileNotFoundError(f"vida: adapter_dir '{adapter_dir}' is neither a folder nor a model-zoo entry "
                            f"(looked in {zoo}); make one with tools/make_model_zoo.py --adapter-only")


def vida_layer_pairs(model: nn.Module) -> list[tuple[LoRALinear, LoRALinear]]:
    """``(low, high)`` adapter pairs: a LoRA layer whose base layer is a LoRA layer wrapping a plain Linear."""
    pairs = [
        (m, m.base_layer)
        for m in model.modules()
        if isinstance(m, LoRALinear) and isinstance(m.base_layer, LoRALinear) and not isinstance(m.base_layer.base_layer, LoRALinear)
    ]
    return pairs


@torch.no_grad()
def uncertainty_scales(view_logits: torch.Tensor, threshold: float, factor: float = 0.1) -> tuple[float, float, float]:
    """Homeostatic knowledge allotment from teacher logits of augmented views ``[N, B, C]`` (as coded):
    ``U = factor * mean(var_views(logits))`` (unbiased variance over views, mean over samples and classes);
    ``U >= threshold``: ``(low, high) = (1 - U, 1 + U)``, else ``(1 + U, 1 - U)``. Returns ``(U, low, high)``."""
    u = factor * torch.var(view_logits.float(), dim=0).mean().item()
    return (u, 1 - u, 1 + u) if u >= threshold else (u, 1 + u, 1 - u)


@TTA_METHODS.register("vida")
class ViDA(MeanTeacherMethod):
    """Mean teacher with low/high-rank adapters whose scales follow the teacher's augmentation uncertainty.

    Per batch: ``n_augmentations`` augmented views through the teacher (one batched forward) -> uncertainty U ->
    adapter scales of student and teacher; teacher logits z' on the clean batch, student logits z;
    CE(softmax z' -> z) (``symmetric`` for ImageNet); optimizer step; EMA with ``mt`` for non-adapter and
    ``mt_vida`` for adapter parameters; stochastic restore of every trained element with prob. ``restore_p`` to its
    initial value (the loaded source-ViDA state). Returns z'.

    Adapters: ``adapter_dir`` (a ``save_adapter`` export of warmed-up ViDA adapters, e.g. from a ``tools/train.py``
    run with :func:`vida_adapter_configs` and a frozen backbone on source data) is loaded with ``load_adapter``;
    without it, a model that already carries ViDA adapters is used as is, else fresh ones are injected
    (``target_modules``: default the Linear children of ``Attention`` modules, i.e. ``attn.qkv`` and ``attn.proj``).
    Fresh adapters have ``B = 0``, so the model starts as the source model, but the published method assumes the
    warm-up.

    Trained (as the reference): *all* parameters, in two groups: non-adapter at the optimizer's ``lr``, adapters at
    ``vida_lr``. Model and teacher in ``eval()`` (reference student: ``train()``; only differs for dropout/drop-path).

    Defaults (tta.md 1.5, CIFAR10-C ``cifar/cfgs/cifar10/vida.yaml``): Adam lr 1e-4, ``vida_lr`` 1e-5, ``mt`` 0.999,
    ``mt_vida`` 0.999, ranks 1/128, 10 views, ``unc_threshold`` 0.05, ``restore_p`` 0.1 (the class default; the
    CIFAR cfg's RST 0.01 is not passed to ViDA), CE. CIFAR100-C: lr 3e-4, ``vida_lr`` 1e-6. ImageNet-C: SGD lr 5e-7
    momentum 0.9 nesterov, ``vida_lr`` 2e-7, ``mt_vida`` 0.8, ``unc_threshold`` 0.2, ``restore_p`` 0, symmetric.

    ``faithful=True`` reproduces the reference's ``set_scale`` bug: only the low-rank scale is updated, the
    high-rank scale stays 1.0 (all published numbers). The default (corrected) sets both. The uncertainty is
    batch-level in both modes (as coded; the paper motivates a per-sample one), and the augmentations draw their
    parameters per sample by default, one set per view for the whole batch with ``faithful=True``.

    Memory: student + one full teacher copy; the reference's unused anchor copy is not made.
    """

    default_optimizer = dict(type="Adam", lr=1e-4, betas=(0.9, 0.999), weight_decay=0.0)

    def __init__(
        self,
        model: nn.Module,
        adapter_dir: str | None = None,
        target_modules: list[str] | None = None,
        rank1: int = 1,
        rank2: int = 128,
        vida_lr: float = 1e-5,
        mt: float = 0.999,
        mt_vida: float = 0.999,
        restore_p: float = 0.1,
        unc_threshold: float = 0.05,
        unc_factor: float = 0.1,
        n_augmentations: int = 10,
        **kwargs,
    ):
        for name, v in (("mt", mt), ("mt_vida", mt_vida), ("restore_p", restore_p)):
            if not 0 <= v <= 1:
                raise ConfigError(f"vida: {name} must be in [0, 1], got {v}")
        if n_augmentations < 2:
            raise ConfigError(f"vida: n_augmentations must be >= 2 (a variance over views), got {n_augmentations}")
        self.adapter_dir, self.target_modules, self.rank1, self.rank2 = adapter_dir, target_modules, rank1, rank2
        self.vida_lr, self.mt, self.mt_vida, self.restore_p = float(vida_lr), float(mt), float(mt_vida), float(restore_p)
        self.unc_threshold, self.unc_factor = float(unc_threshold), float(unc_factor)
        self.n_augmentations = int(n_augmentations)
        super().__init__(model, **kwargs)

    # ------------------------------------------------------------------ setup
    def configure_model(self) -> None:
        # Adapters live in the backbone's adapted model (where tools/train.py exports them from), so a warm-up
        # run's export loads here unchanged; names below are relative to that model.
        host = adapted_model(self.model)
        prefix = module_prefix(self.model, host)
        if self.adapter_dir is not None:
            load_adapter(host, resolve_adapter_dir(self.adapter_dir))
        elif not injected_configs(host):
            targets = self.target_modules or attention_linear_names(host)
            if not targets:
                raise ConfigError("vida: no Linear layer inside an Attention module; pass target_modules")
            inject(host, vida_adapter_configs(targets, self.rank1, self.rank2))
        pairs = vida_layer_pairs(host)
        if not pairs:
            raise ConfigError("vida: the model carries adapters but no ViDA pair (LoRA wrapping a LoRA on a Linear)")
        self._base_scales = [(lo.scale, hi.scale) for lo, hi in pairs]
        self.adapter_names = {prefix + name for name in adapter_state_dict(host)}
        self.model.requires_grad_(True)  # the reference trains the whole model plus the adapters
        self.set_modes()

    def collect_params(self) -> list:
        named = [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]
        groups = [
            dict(params=[p for n, p in named if n not in self.adapter_names]),
            dict(params=[p for n, p in named if n in self.adapter_names], lr=self.vida_lr),
        ]
        return [g for g in groups if g["params"]]

    def reset_state(self) -> None:
        super().reset_state()
        self.uncertainty = None
        self.set_scales(1.0, 1.0)

    # ------------------------------------------------------------------ pieces
    def ema_alpha(self, name: str) -> float:
        return self.mt_vida if name in self.adapter_names else self.mt

    def set_scales(self, low: float, high: float) -> None:
        """Scale factors of the low/high-rank adapters of student and teacher (faithful: the high one stays 1)."""
        if self.faithful:
            high = 1.0
        self.scales = (float(low), float(high))
        for model in (self.model, getattr(self, "teacher", None)):
            if model is None:
                continue
            for (lo, hi), (b_lo, b_hi) in zip(vida_layer_pairs(model), self._base_scales):
                lo.scale, hi.scale = b_lo * low, b_hi * high

    # ------------------------------------------------------------------ step
    def forward_and_adapt(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            view_logits = self.augmented_teacher(x)
            self.uncertainty, low, high = uncertainty_scales(view_logits, self.unc_threshold, self.unc_factor)
            self.set_scales(low, high)
            target = self.teacher(x)
        self.learn_from_teacher(self.model(x), target)
        return target
