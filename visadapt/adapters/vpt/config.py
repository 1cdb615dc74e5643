"""VPT configuration (Jia et al., "Visual Prompt Tuning", ECCV 2022, arXiv:2203.12119)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from torch import nn

from visadapt.adapters.base import AdapterConfig, register_adapter
from visadapt.adapters.targeting import get_parent
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
    mergeable: ClassVar[bool] = False
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

    def select_targets(self, model: nn.Module, names: list[str]) -> list[str]:
        """The first targeted block (shallow) or all of them, in order; they must be items of one container."""
        containers = {name.rpartition(".")[0] for name in names}
        container = containers.pop() if len(containers) == 1 else ""
        is_blocks = all(name.rpartition(".")[2].isdigit() for name in names)
        if not (container and is_blocks and isinstance(model.get_submodule(container), (nn.Sequential, nn.ModuleList))):
            raise ConfigError(
                f"vpt: targets must be transformer blocks, items of one container such as 'blocks' (default "
                f"{self.default_targets[0]!r}); got {names[:4]}"
            )
        self._vit_name = container.rpartition(".")[0]  # the ViT owning the blocks
        self._geometry = _prompt_geometry(get_parent(model, container)[0])
        return sorted(names, key=lambda n: int(n.rpartition(".")[2]))[: None if self.deep else 1]

    def build_layer(self, module: nn.Module, name: str, index: int) -> PromptedBlock:
        offset, dim, bound = self._geometry
        return PromptedBlock(module, self, dim=dim, offset=offset, insert=index == 0, bound=bound)

    def inject(self, model: nn.Module) -> list[str]:
        names = super().inject(model)
        self.set_prefix_tokens(model, self.num_tokens)
        return names

    def set_prefix_tokens(self, model: nn.Module, prompts: int) -> None:
        vit = model.get_submodule(self._vit_name) if self._vit_name else model
        vit.num_prefix_tokens = self._geometry[0] + prompts

    def set_enabled(self, model: nn.Module, enabled: bool) -> None:
        """Switched off, the blocks see no prompts and the ViT's pooling counts its own prefix tokens again."""
        super().set_enabled(model, enabled)
        self.set_prefix_tokens(model, self.num_tokens if enabled else 0)


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
