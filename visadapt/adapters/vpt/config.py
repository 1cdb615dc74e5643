"""VPT configuration (Jia et al., "Visual Prompt Tuning", ECCV 2022, arXiv:2203.12119)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from torch import nn

from visadapt.adapters.base import AdapterConfig, AdapterLayer, register_adapter
from visadapt.adapters.targeting import get_parent, match_targets
from visadapt.adapters.vpt.layer import PromptedBlock
from visadapt.registry import ConfigError


@register_adapter
@dataclass
class VPTConfig(AdapterConfig):
    """Learnable prompt tokens after [CLS] (and register tokens), without position embedding.

    Targets are transformer blocks, items of one container (timm's ``blocks``). Shallow: prompts are inserted at
    the input of the first targeted block only. Deep: inserted there and replaced at every later targeted block.
    Injection raises the model's ``num_prefix_tokens`` by ``num_tokens``, so timm's pooling ('avg', 'max', MAP)
    and ``forward_intermediates`` skip the prompts as they skip [CLS]; 'token' pooling reads position 0 ([CLS]).
    Not mergeable, and not the identity at init: the prompts take part in attention from the start.

    Args:
        num_tokens: prompts per prompted block.
        deep: VPT-Deep (fresh prompts at every targeted block) rather than VPT-Shallow.
        dropout: dropout on the prompt embeddings.
    """

    method: ClassVar[str] = "vpt"
    layer_cls: ClassVar = PromptedBlock
    # A regex, since the glob 'blocks.*' would also match every module inside the blocks.
    default_targets: ClassVar[tuple[str, ...]] = (r"re:blocks\.\d+",)

    num_tokens: int = 10
    deep: bool = False
    dropout: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.num_tokens < 1:
            raise ConfigError(f"vpt: num_tokens must be >= 1, got {self.num_tokens}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"vpt: dropout must be in [0, 1), got {self.dropout}")

    def inject(self, model: nn.Module) -> list[str]:
        names = match_targets(model, self.target_modules, self.exclude_modules, where="adapter 'vpt'")
        containers = {name.rpartition(".")[0] for name in names}
        container = containers.pop() if len(containers) == 1 else ""
        is_blocks = all(name.rpartition(".")[2].isdigit() for name in names)
        if not (container and is_blocks and isinstance(model.get_submodule(container), (nn.Sequential, nn.ModuleList))):
            raise ConfigError(
                f"vpt: targets must be transformer blocks, items of one container such as 'blocks' (default "
                f"{self.default_targets[0]!r}); got {names[:4]}"
            )
        vit, _ = get_parent(model, container)
        offset, dim, bound = _prompt_geometry(vit)
        names = sorted(names, key=lambda n: int(n.rpartition(".")[2]))[: None if self.deep else 1]
        for i, name in enumerate(names):
            parent_module, attr = get_parent(model, name)
            block = getattr(parent_module, attr)
            if isinstance(block, AdapterLayer):
                raise ConfigError(f"adapter 'vpt': module '{name}' already wraps a {block.config.method}")
            layer = PromptedBlock(block, self, dim=dim, offset=offset, insert=i == 0, bound=bound)
            setattr(parent_module, attr, layer.train(block.training))
        vit.num_prefix_tokens = offset + self.num_tokens
        return names


def _prompt_geometry(vit: nn.Module) -> tuple[int, int, float]:
    """(prefix tokens, width, init bound) of the ViT owning the blocks.

    The bound is VPT's xavier-uniform with the patch projection's fan-in: ``sqrt(6 / (3·ph·pw + d))`` for RGB.
    """
    proj = getattr(getattr(vit, "patch_embed", None), "proj", None)
    offset, dim = getattr(vit, "num_prefix_tokens", None), getattr(vit, "embed_dim", None)
    if not isinstance(offset, int) or not isinstance(dim, int) or not isinstance(proj, nn.Conv2d):
        raise ConfigError(
            f"vpt: {type(vit).__name__} is not a timm-style ViT (needs int num_prefix_tokens and embed_dim, and "
            f"patch_embed.proj a Conv2d)"
        )
    if getattr(vit, "dynamic_img_size", False) and not getattr(vit, "no_embed_class", False):
        # timm resamples pos_embed per call, taking num_prefix_tokens as its prefix rows: prompts would break that.
        raise ConfigError("vpt: dynamic_img_size with class-token position embeddings is not supported")
    return offset, dim, math.sqrt(6.0 / (proj.weight[0].numel() + dim))
