"""CoOp (Zhou et al., IJCV 2022, arXiv:2109.01134): learnt context vectors in place of a hand-written prompt.

The prompt of class c is ``[SOS] ctx_1 .. ctx_M <name of c> . [EOS]`` (class token at the end, one context shared
by all classes, CoOp's defaults; clip.md 5.1). The context lives in the text model as ``prompt_context``, so the
adapter API saves, loads and counts it like any other method; the encoders stay frozen.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Sequence

import torch
from torch import nn

from visadapt.adapters.base import AdapterConfig, register_adapter
from visadapt.registry import ConfigError

if TYPE_CHECKING:
    from visadapt.backbones.clip import OpenCLIPBackbone

CONTEXT_ATTR = "prompt_context"
PLACEHOLDER = "X"  # one BPE token; its embeddings are replaced by the context vectors


class PromptContext(nn.Module):
    """``ctx`` [M, width]: the learnt context vectors."""

    def __init__(self, ctx: torch.Tensor):
        super().__init__()
        self.ctx = nn.Parameter(ctx)
        self.enabled = True  # off: the task uses its hand-written templates
        self._tokens: dict[tuple[str, ...], torch.Tensor] = {}

    @property
    def num_context(self) -> int:
        return self.ctx.shape[0]

    def prompt_tokens(self, backbone: "OpenCLIPBackbone", class_names: Sequence[str]) -> torch.Tensor:
        """Token ids of ``X .. X <name>.`` per class (cached per class list); too long a name is an error."""
        key = tuple(class_names)
        if key not in self._tokens:
            placeholder = " ".join([PLACEHOLDER] * self.num_context)
            texts = [f"{placeholder} {name.replace('_', ' ')}." for name in class_names]
            limit = backbone.tokenizer.context_length
            for name, text in zip(class_names, texts):
                if len(backbone.tokenizer.encode(text)) + 2 > limit:
                    raise ConfigError(f"CoOp: the prompt for class '{name}' with {self.num_context} context tokens "
                                      f"does not fit the text encoder's {limit} tokens; use a smaller n_ctx")
            self._tokens[key] = backbone.tokenize(texts)
        return self._tokens[key].to(self.ctx.device)

    def class_embeddings(self, backbone: "OpenCLIPBackbone", class_names: Sequence[str]) -> torch.Tensor:
        """[C, D] unit-length text embeddings of the learnt prompts (differentiable in ``ctx``)."""
        tokens = self.prompt_tokens(backbone, class_names)
        with torch.no_grad():
            embedded = backbone.model.token_embedding(tokens)
        ctx = self.ctx.to(embedded.dtype).expand(len(class_names), -1, -1)
        prompts = torch.cat([embedded[:, :1], ctx, embedded[:, 1 + self.num_context:]], dim=1)
        return backbone.encode_token_embeddings(prompts, tokens)


@register_adapter
@dataclass
class CoOpConfig(AdapterConfig):
    """Args: ``n_ctx`` context vectors, drawn from N(0, ``init_std``²), or initialised from the token embeddings of
    ``ctx_init`` (e.g. ``"a photo of a"``, which then sets ``n_ctx``: at initialisation the prompts are exactly that
    hand-written template). Only the class-token position ``end`` with a shared context is built."""

    method: ClassVar[str] = "coop"
    mergeable: ClassVar[bool] = False  # the context is a module of its own, not foldable into the weights
    n_ctx: int = 16
    ctx_init: str = ""
    init_std: float = 0.02
    class_token_position: str = "end"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.class_token_position != "end":
            raise ConfigError(f"adapter 'coop': class_token_position '{self.class_token_position}' is not "
                              "implemented; only 'end' (CoOp's default)")
        if not self.ctx_init and self.n_ctx < 1:
            raise ConfigError(f"adapter 'coop': n_ctx must be >= 1, got {self.n_ctx}")

    def inject(self, model: nn.Module) -> list[str]:
        embedding = getattr(model, "token_embedding", None)
        if not isinstance(embedding, nn.Embedding):
            raise ConfigError("adapter 'coop' needs an open_clip CLIP text tower (a 'token_embedding' attribute)")
        if hasattr(model, CONTEXT_ATTR):
            raise ConfigError("adapter 'coop': the model already has a prompt context")
        weight = embedding.weight
        if self.ctx_init:
            from open_clip.tokenizer import SimpleTokenizer

            ids = SimpleTokenizer().encode(self.ctx_init)
            self.n_ctx = len(ids)
            ctx = weight.detach()[torch.tensor(ids, device=weight.device)].clone()
        else:
            ctx = torch.randn(self.n_ctx, weight.shape[1], device=weight.device, dtype=weight.dtype) * self.init_std
        model.add_module(CONTEXT_ATTR, PromptContext(ctx))
        return [CONTEXT_ATTR]

    def owned_parameters(self, model: nn.Module) -> list[str]:
        return [f"{CONTEXT_ATTR}.ctx"] + super().owned_parameters(model)

    def in_place_parameters(self, model: nn.Module) -> list[str]:
        return [n for n in super().in_place_parameters(model) if not n.startswith(CONTEXT_ATTR + ".")]

    def set_enabled(self, model: nn.Module, enabled: bool) -> None:
        super().set_enabled(model, enabled)
        getattr(model, CONTEXT_ATTR).enabled = enabled


def prompt_context(model: nn.Module) -> PromptContext | None:
    """The model's learnt prompt context, if it has one that is switched on."""
    context = getattr(model, CONTEXT_ATTR, None)
    return context if context is not None and context.enabled else None


__all__ = ["CoOpConfig", "PromptContext", "prompt_context"]
