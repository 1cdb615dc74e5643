"""MoSA layers: one bottleneck projection holding N disjoint sub-adapters in the memory of one.

A split projection stores a single trainable tensor ``sub_weight`` (the shape of the plain projection) and a
fixed partition index ``partition`` (uint8, one sub-adapter id per element). Sub-adapter ``k`` is

    W_k = where(partition == k, sub_weight, W0)        b_k = sub_bias[k]

where ``W0`` is the frozen initial value shared by every sub-adapter (zero for the up-projection, the
seeded Kaiming draw for a split down-projection). Each element of ``sub_weight`` belongs to exactly one
sub-adapter, so this is exactly the reference's N full-size copies with gradient masking, in the memory of one
copy. Merging averages the sub-adapters: ``(1/N) sum_k W_k = W0 + (sub_weight - W0) / N`` and ``mean_k b_k``.

The partition, ``W0`` and the per-step draws are pure functions of (config seed, layer name, counter), so
neither needs saving: a model re-injected from the same config rebuilds them bit for bit.
"""
from __future__ import annotations

import math
import warnings
import zlib
from typing import TYPE_CHECKING, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from visadapt.adapters.bottleneck.layer import BottleneckAdapterLayer
from visadapt.layers.bottleneck import ACTIVATIONS, QuickGELU
from visadapt.registry import ConfigError

if TYPE_CHECKING:
    from visadapt.adapters.bottleneck.config import BottleneckConfig
    from visadapt.adapters.mosa.config import MoSAConfig

_MASK64 = (1 << 64) - 1
# Independent random streams derived from one seed.
_STREAM_SPLIT, _STREAM_DRAW = 1, 2


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def derive_seed(*parts: int) -> int:
    """A well-mixed 63-bit seed from integers (consecutive counters give unrelated generator streams)."""
    h = 0
    for p in parts:
        h = _splitmix64(h ^ (int(p) & _MASK64))
    return h >> 1


def layer_key(name: str) -> int:
    """A stable integer for a module name (Python's ``hash`` of a str changes between processes)."""
    return zlib.crc32(name.encode("utf-8"))


def make_partition(shape: tuple[int, ...], num: int, generator: torch.Generator) -> torch.Tensor:
    """A uniformly random assignment of the elements of ``shape`` to ``num`` disjoint, equal-sized (±1) groups.

    Same distribution as the reference's quantile bands of ``rand_like`` scores: a random permutation whose
    i-th position goes to group ``floor(i * num / numel)``.
    """
    numel = math.prod(shape)
    perm = torch.randperm(numel, generator=generator)
    part = torch.empty(numel, dtype=torch.uint8)
    part[perm] = (torch.arange(numel) * num // numel).to(torch.uint8)
    return part.view(shape)


class SplitLinear(nn.Module):
    """A linear layer split element-wise into ``num`` sub-linears that share one weight tensor.

    ``forward(x, k)`` applies sub-linear ``k``; ``forward(x)`` (``k=None``) applies the merged average.

    Parameters: ``sub_weight`` [out, in] (sub-linear k's values on its own elements) and ``sub_bias`` [num*out]
    (one full bias per sub-linear, flattened to 1-D so optimisers that skip weight decay on 1-D tensors treat it
    as a bias, as the reference does). Buffers (not saved, rebuilt from the seed): ``partition`` and, for a
    non-zero initialisation, ``init_weight`` (W0).
    """

    def __init__(self, in_features: int, out_features: int, num: int, init: str = "zeros", merge_mode: str = "add"):
        super().__init__()
        if init not in ("zeros", "kaiming"):
            raise ValueError(f"SplitLinear init must be 'zeros' or 'kaiming', got '{init}'")
        if not 1 <= num <= 255:
            raise ConfigError(f"mosa: num_subadapters must be in [1, 255], got {num}")
        if num > in_features * out_features:
            raise ConfigError(
                f"mosa: num_subadapters={num} exceeds the {in_features * out_features} elements of a "
                f"{out_features}x{in_features} projection (some sub-adapters would be empty)"
            )
        self.in_features, self.out_features, self.num = in_features, out_features, num
        self.init, self.merge_mode = init, merge_mode
        self.sub_weight = nn.Parameter(torch.zeros(out_features, in_features))
        self.sub_bias = nn.Parameter(torch.zeros(num * out_features))
        self.register_buffer("partition", torch.zeros(out_features, in_features, dtype=torch.uint8), persistent=False)
        self.register_buffer("init_weight", None, persistent=False)
        # Sub-linears used since the last optimiser step (for momentum_on_inactive=False, see optim.py).
        self.active: set[int] = set()
        self.optimizer_attached = False
        self.reset(0)

    def reset(self, seed: int) -> None:
        """Draw the partition (and W0) from ``seed`` and restart every sub-linear from the initial value."""
        g = torch.Generator().manual_seed(seed)
        shape = (self.out_features, self.in_features)
        device = self.sub_weight.device
        self.partition = make_partition(shape, self.num, g).to(device)
        w0 = None
        if self.init == "kaiming":
            # kaiming_uniform_(a=sqrt(5)) on an [out, in] weight is U(-1/sqrt(in), 1/sqrt(in)), as nn.Linear does.
            w0 = (torch.rand(shape, generator=g) * 2 - 1) / math.sqrt(self.in_features)
            self.init_weight = w0.to(device=device, dtype=self.sub_weight.dtype)
        with torch.no_grad():
            self.sub_weight.copy_(w0 if w0 is not None else torch.zeros(shape))
            self.sub_bias.zero_()
        self.active.clear()

    # -- the N sub-linears and their average -------------------------------------------------------------------
    def subadapter_weight(self, k: int) -> torch.Tensor:
        mask = self.partition == k
        if self.init_weight is None:
            return torch.where(mask, self.sub_weight, torch.zeros((), dtype=self.sub_weight.dtype,
                                                                  device=self.sub_weight.device))
        return torch.where(mask, self.sub_weight, self.init_weight.to(self.sub_weight.dtype))

    def subadapter_bias(self, k: int) -> torch.Tensor:
        return self.sub_bias.view(self.num, self.out_features)[k]

    def merged_weight(self) -> torch.Tensor:
        """``add``: the mean of the N sub-linears; ``joint``: the reference's alternative (union / N)."""
        if self.merge_mode == "joint" or self.init_weight is None:
            # joint copies each sub-linear's own elements into one tensor (= sub_weight), then divides by N.
            return self.sub_weight / self.num
        w0 = self.init_weight.to(self.sub_weight.dtype)
        return w0 + (self.sub_weight - w0) / self.num

    def merged_bias(self) -> torch.Tensor:
        biases = self.sub_bias.view(self.num, self.out_features)
        if self.merge_mode == "joint":
            # The reference's bias masks are all-ones, so its joint merge keeps the last copy's bias, divided by N.
            return biases[-1] / self.num
        return biases.mean(0)

    def element_groups(self) -> dict[nn.Parameter, torch.Tensor]:
        """Which sub-linear owns each element of each parameter (for the optimiser hooks)."""
        bias_part = torch.arange(self.num, device=self.sub_bias.device).repeat_interleave(self.out_features)
        return {self.sub_weight: self.partition, self.sub_bias: bias_part}

    def forward(self, x: torch.Tensor, k: int | None = None) -> torch.Tensor:
        if k is None:
            return F.linear(x, self.merged_weight(), self.merged_bias())
        return F.linear(x, self.subadapter_weight(k), self.subadapter_bias(k))

    def extra_repr(self) -> str:
        return f"in={self.in_features}, out={self.out_features}, subadapters={self.num}, init={self.init}"


class SplitBottleneck(nn.Module):
    """``up(dropout(act(down(norm(x)))))`` where ``down`` and/or ``up`` are :class:`SplitLinear`.

    In training mode each call draws one sub-adapter for the down- and one for the up-projection (independently,
    uniformly, for the whole batch) from ``torch.Generator`` seeded with (seed, layer key, draw counter); the
    counter ``draws`` advances by one per training-mode call. In eval mode the merged average is used.
    """

    def __init__(self, dim: int, hidden: int, act: str, dropout: float, layer_norm: bool, num: int, share: str,
                 seed: int, merge_mode: str = "add"):
        super().__init__()
        if act not in ACTIVATIONS:
            raise ConfigError(f"mosa: act must be one of {sorted(ACTIVATIONS)}, got '{act}'")
        self.num, self.share, self.seed = num, share, seed
        self.norm = nn.LayerNorm(dim) if layer_norm else nn.Identity()
        if share == "down":
            self.down: nn.Module = nn.Linear(dim, hidden)
            with torch.no_grad():
                nn.init.kaiming_uniform_(self.down.weight, a=math.sqrt(5))
                self.down.bias.zero_()
        else:
            self.down = SplitLinear(dim, hidden, num, init="kaiming", merge_mode=merge_mode)
        self.act = QuickGELU() if act == "quick_gelu" else ACTIVATIONS[act]()
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        if share == "up":
            self.up: nn.Module = nn.Linear(hidden, dim)
            with torch.no_grad():
                self.up.weight.zero_()
                self.up.bias.zero_()
        else:
            self.up = SplitLinear(hidden, dim, num, init="zeros", merge_mode=merge_mode)
        self.key = 0
        self.draws = 0
        self.last_draw: tuple[int, int] | None = None
        # Set for momentum_on_inactive=False: warn once if training runs without the optimiser hooks.
        self.warn_without_optimizer_hook = False
        self.set_layer_key(0)

    def split_layers(self) -> list[SplitLinear]:
        return [m for m in (self.down, self.up) if isinstance(m, SplitLinear)]

    def set_layer_key(self, key: int) -> None:
        """Bind the layer to ``key`` (from its module name): rebuilds partitions and W0 and restarts the draws."""
        self.key = key
        for i, split in enumerate((self.down, self.up)):
            if isinstance(split, SplitLinear):
                split.reset(derive_seed(self.seed, key, _STREAM_SPLIT, i))
        self.draws = 0
        self.last_draw = None

    def draw_at(self, step: int) -> tuple[int, int]:
        """The (down, up) sub-adapters of training call number ``step`` (pure: does not advance the counter)."""
        g = torch.Generator().manual_seed(derive_seed(self.seed, self.key, _STREAM_DRAW, step))
        a, b = torch.randint(self.num, (2,), generator=g).tolist()
        return a, b

    def draw(self) -> tuple[int, int]:
        a, b = self.draw_at(self.draws)
        self.draws += 1
        self.last_draw = (a, b)
        for split, k in ((self.down, a), (self.up, b)):
            if isinstance(split, SplitLinear):
                split.active.add(k)
                if self.warn_without_optimizer_hook and not split.optimizer_attached:
                    warnings.warn(
                        "mosa: momentum_on_inactive=False needs visadapt.adapters.mosa.attach_optimizer(model, "
                        "optimizer) (or MoSACallback); without it inactive sub-adapters share the optimiser state",
                        stacklevel=3,
                    )
                    self.warn_without_optimizer_hook = False
        return a, b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = b = None
        if self.training:
            a, b = self.draw()
        h = self.norm(x)
        h = self.down(h, a) if isinstance(self.down, SplitLinear) else self.down(h)
        h = self.dropout(self.act(h))
        return self.up(h, b) if isinstance(self.up, SplitLinear) else self.up(h)

    def extra_repr(self) -> str:
        return f"share={self.share}, subadapters={self.num}, seed={self.seed}, key={self.key}, draws={self.draws}"


class MoSALayer(BottleneckAdapterLayer):
    """The plain adapter placement (parallel on ``input_from``'s input, or sequential) with ``A`` a
    :class:`SplitBottleneck`.

    Not ``mergeable`` in the project's sense (it cannot be folded into the base weights); ``to_plain_layer()``
    returns the equivalent plain :class:`BottleneckAdapterLayer` (see ``visadapt.adapters.mosa.merge_subadapters``).
    """

    mergeable: ClassVar[bool] = False
    stackable: ClassVar[bool] = False

    def build_adapter(self, dim: int, config: "MoSAConfig") -> nn.Module:
        adapter = SplitBottleneck(dim, config.hidden_dim, config.act, config.dropout, config.layer_norm,
                                  config.num_subadapters, config.share, config.seed, config.merge_mode)
        adapter.warn_without_optimizer_hook = not config.momentum_on_inactive
        ref = next(self.base_layer.parameters(), None)
        if ref is not None:  # the device of the wrapped module; float32 like the plain bottleneck adapter
            adapter.to(device=ref.device)
        return adapter

    # -- merging the sub-adapters -------------------------------------------------------------------------------------
    @torch.no_grad()
    def to_plain_layer(self, config: "BottleneckConfig | None" = None) -> BottleneckAdapterLayer:
        """The plain bottleneck adapter layer computing the merged average (same params and FLOPs as an AdaptFormer
        adapter of this width). Its ``config`` is ``config`` or ``self.config.plain_config()``; pass one shared
        config for all layers of a model so that the model's config list owns them (``merge_subadapters`` does).
        The input-source hook moves to the new layer; this wrapper is left detached."""
        plain_cfg = config if config is not None else self.config.plain_config()
        ref = self.adapter.up.sub_weight if isinstance(self.adapter.up, SplitLinear) else self.adapter.up.weight
        with torch.random.fork_rng(devices=[]):  # the throw-away init must not move the global RNG
            layer = BottleneckAdapterLayer(self.base_layer, plain_cfg)
        layer.adapter.to(device=ref.device, dtype=ref.dtype)
        src, dst = self.adapter, layer.adapter
        if isinstance(src.norm, nn.LayerNorm):
            dst.norm.load_state_dict(src.norm.state_dict())
        for name in ("down", "up"):
            proj, out = getattr(src, name), getattr(dst, name)
            if isinstance(proj, SplitLinear):
                out.weight.copy_(proj.merged_weight())
                out.bias.copy_(proj.merged_bias())
            else:
                out.load_state_dict(proj.state_dict())
        layer.train(self.training)
        for source in self.detach_input_sources():
            layer.attach_input_source(source)
        return layer

    def extra_repr(self) -> str:
        return f"method=mosa, subadapters={self.config.num_subadapters}, share={self.config.share}"
