"""Any timm model as a visadapt backbone, with weights from a local file or the project's model zoo."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Sequence

import timm
import torch
from safetensors.torch import save_file

from visadapt.backbones.base import ImageEncoder
from visadapt.backbones.weights import load_state_dict, read_metadata, resolve_weights
from visadapt.registry import BACKBONES, ConfigError

# Module-name patterns of the injection points of timm's VisionTransformer (also used by DeiT/EVA-style ViTs).
VIT_TARGETS = {
    "qkv": ["blocks.*.attn.qkv"],
    "attn_proj": ["blocks.*.attn.proj"],
    "attn": ["blocks.*.attn"],
    "mlp": ["blocks.*.mlp"],
    "mlp_fc": ["blocks.*.mlp.fc1", "blocks.*.mlp.fc2"],
}


@BACKBONES.register()
class TimmBackbone(ImageEncoder):
    """``timm.create_model(name, **model_kwargs)`` with normalisation inside.

    Args:
        name: any timm architecture name, optionally with a tag (``vit_base_patch16_224.orig_in21k``).
        pretrained: a local checkpoint (safetensors, or a torch file read with ``weights_only=True``), or a
            model-zoo entry name; None builds random weights. The head is dropped when ``num_classes``
            differs from the checkpoint's, and position embeddings are resampled by timm's own filter.
        num_classes: classes of the new head (0 for features only).
        mean, std: input normalisation; default from the zoo entry or timm's pretrained config.
        model_kwargs: architecture overrides passed to timm (img_size, patch_size, depth, embed_dim, ...).
    """

    def __init__(
        self,
        name: str,
        pretrained: str | os.PathLike | None = None,
        num_classes: int = 0,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        **model_kwargs: Any,
    ):
        meta: dict = {}
        overlay: dict = {}
        if pretrained is not None:
            path = resolve_weights(pretrained)
            meta = read_metadata(path)
            zoo_arch = meta.get("architecture")
            if zoo_arch and zoo_arch != name.split(".")[0]:
                raise ConfigError(f"{path}: weights are for architecture '{zoo_arch}', but backbone name is '{name}'")
            model_kwargs = {**meta.get("model_kwargs", {}), **model_kwargs}
            overlay = dict(state_dict=load_state_dict(path), num_classes=meta.get("num_classes", 0))
        try:
            model = timm.create_model(
                name,
                pretrained=pretrained is not None,
                pretrained_cfg_overlay=overlay or None,
                num_classes=num_classes,
                **model_kwargs,
            )
        except RuntimeError as err:
            raise ConfigError(f"backbone '{name}': weights {pretrained} do not fit the architecture: {err}") from err
        except TypeError as err:
            raise ConfigError(f"backbone '{name}': bad architecture argument ({err})") from err
        if overlay:
            _check_all_weights_loaded(model, overlay["state_dict"], pretrained)
        cfg = model.pretrained_cfg
        super().__init__(mean or meta.get("mean") or cfg["mean"], std or meta.get("std") or cfg["std"])
        self.model = model
        self.arch = name
        self.model_kwargs = model_kwargs
        self.num_features = model.num_features
        self.classifier_name = cfg.get("classifier") if num_classes else None
        self.target_presets = VIT_TARGETS if hasattr(model, "blocks") else {}

    def save_pretrained(self, path: str | os.PathLike, **metadata: Any) -> Path:
        """Write ``self.model``'s weights as safetensors whose metadata records how to rebuild it.

        The file is a plain timm state dict (loadable with no visadapt code) and a valid ``pretrained=`` value.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "architecture": self.arch.split(".")[0],
            "model_kwargs": self.model_kwargs,
            "num_classes": self.model.num_classes,
            "mean": self.mean.flatten().tolist(),
            "std": self.std.flatten().tolist(),
            **metadata,
        }
        state = {k: v.detach().contiguous() for k, v in self.model.state_dict().items()}
        save_file(state, str(path), metadata={k: json.dumps(v) for k, v in meta.items()})
        return path

    def forward_features(self, images: torch.Tensor) -> torch.Tensor:
        """Pooled pre-logit features."""
        return self.model.forward_head(self.model.forward_features(self.normalize(images)), pre_logits=True)


def _check_all_weights_loaded(model: torch.nn.Module, state_dict: dict, source: Any) -> None:
    """timm loads non-strictly when the head changes; refuse to leave backbone weights silently random."""
    filter_fn = getattr(sys.modules[type(model).__module__], "checkpoint_filter_fn", None)
    if filter_fn is not None:
        state_dict = filter_fn(dict(state_dict), model)
    classifier = model.pretrained_cfg.get("classifier") or ""
    classifiers = (classifier,) if isinstance(classifier, str) else tuple(classifier)
    missing = [
        k for k in model.state_dict() if k not in state_dict and not any(k.startswith(c + ".") for c in classifiers)
    ]
    if missing:
        raise ConfigError(
            f"weights {source} do not cover the architecture: {len(missing)} missing tensor(s), e.g. "
            f"{', '.join(missing[:8])}. Check the architecture arguments (depth, embed_dim, ...) against the checkpoint."
        )
