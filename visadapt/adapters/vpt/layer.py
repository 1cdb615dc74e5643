"""The VPT wrapper of one transformer block: puts learnable prompt tokens into the sequence it receives."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn

from visadapt.adapters.base import AdapterLayer

if TYPE_CHECKING:
    from visadapt.adapters.vpt.config import VPTConfig


class PromptedBlock(AdapterLayer):
    """Runs the block on ``[prefix, prompts, rest]``: ``prefix`` is the model's first ``offset`` tokens ([CLS] and
    register tokens), so token pooling still reads [CLS] at position 0.

    ``insert`` adds the prompts (the first prompted block); otherwise the ``num_tokens`` tokens after the prefix are
    the previous block's prompt outputs and are replaced (VPT-Deep).
    """

    adapter_param_names: ClassVar[tuple[str, ...]] = ("prompt",)
    stackable: ClassVar[bool] = False

    def __init__(self, base_layer: nn.Module, config: "VPTConfig", dim: int, offset: int, insert: bool, bound: float):
        super().__init__(base_layer, config)
        self.offset, self.insert = offset, insert
        ref = next(base_layer.parameters())
        self.prompt = nn.Parameter(torch.empty(config.num_tokens, dim, device=ref.device, dtype=ref.dtype))
        nn.init.uniform_(self.prompt, -bound, bound)
        self.dropout = nn.Dropout(config.dropout)

    def adapted_forward(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        # Expanded before dropout: each image gets its own dropout mask, as in the reference code.
        prompt = self.dropout(self.prompt.to(x.dtype).expand(x.shape[0], -1, -1))
        rest = x[:, self.offset + (0 if self.insert else self.prompt.shape[0]):]
        return self.base_layer(torch.cat([x[:, :self.offset], prompt, rest], dim=1), *args, **kwargs)

    def extra_repr(self) -> str:
        mode = "insert" if self.insert else "replace"
        return f"method={self.config.method}, tokens={self.prompt.shape[0]}, offset={self.offset}, {mode}"
