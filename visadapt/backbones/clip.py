"""open_clip CLIP models as visadapt backbones: weights from a local file, folder or the model zoo, the tokenizer,
and a zero-shot classifier built from class names and prompt templates."""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from visadapt.backbones.base import ImageEncoder
from visadapt.backbones.clip_attention import split_attention as split_attention_modules
from visadapt.backbones.weights import model_zoo_dir
from visadapt.registry import BACKBONES, ConfigError

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
CONFIG_FILE = "open_clip_config.json"  # open_clip's "local-dir:" layout: this file + the weights file below
WEIGHTS_FILE = "open_clip_model.safetensors"
# Module-name patterns of the attention layers of open_clip's CLIP (both towers), for adapters.
CLIP_TARGETS = {
    "visual_attn": ["visual.transformer.resblocks.*.attn"],
    "text_attn": ["transformer.resblocks.*.attn"],
    "visual_mlp": ["visual.transformer.resblocks.*.mlp"],
    "text_mlp": ["transformer.resblocks.*.mlp"],
}


def _open_clip():
    try:
        import open_clip
    except ImportError as err:
        raise ConfigError('OpenCLIPBackbone needs open_clip_torch: pip install "visadapt[clip]"') from err
    return open_clip


def resolve_clip_folder(pretrained: str | os.PathLike) -> Path | None:
    """A folder in open_clip's local-dir layout: a path, or a model-zoo entry name; None if neither."""
    for folder in (Path(pretrained).expanduser(), model_zoo_dir() / str(pretrained)):
        if (folder / CONFIG_FILE).is_file():
            return folder
    return None


@BACKBONES.register()
class OpenCLIPBackbone(ImageEncoder):
    """An unmodified open_clip ``CLIP`` in ``self.model``, its tokenizer, and optionally a zero-shot head.

    Args:
        name: an open_clip model name (``ViT-B-16-quickgelu``, ...). Not needed when ``pretrained`` is a folder or
            when ``model_cfg`` is given.
        pretrained: a weights file for ``name`` (safetensors or a state dict read with ``weights_only=True``), or a
            folder in open_clip's ``local-dir:`` layout (``open_clip_config.json`` + weights), or the name of such
            a folder in the model zoo. Nothing is downloaded: tags such as ``'openai'`` are refused.
        model_cfg: ``open_clip.CLIP`` arguments (``embed_dim``, ``vision_cfg``, ``text_cfg``, ``quick_gelu``) for a
            randomly initialised custom model (what the model-zoo CLIP was trained from).
        class_names, templates: build the zero-shot classifier (see :meth:`set_classifier`); ``forward`` then
            returns class logits.
        mean, std: input normalisation; default the checkpoint's preprocess config, else OpenAI's.
        split_attention: replace open_clip's fused ``nn.MultiheadAttention`` by separate q/k/v/out projections
            (identical outputs) so adapters can target ``q_proj`` / ``k_proj`` / ``v_proj`` / ``out_proj``: ``True``
            for every attention of both towers, or a list of module patterns (e.g. ``CLIP_TARGETS['text_attn']``).

    Pitfalls handled (clip.md 4): OpenAI weights need the ``-quickgelu`` config (pass that name); a local-dir
    folder carries its own architecture, so ``name`` must not contradict it.
    """

    target_presets = CLIP_TARGETS
    zoo_suffix = ""  # save_pretrained writes a folder

    def __init__(
        self,
        name: str | None = None,
        pretrained: str | os.PathLike | None = None,
        model_cfg: dict | None = None,
        class_names: Sequence[str] | None = None,
        templates: Sequence[str] = ("a photo of a {}.",),
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        split_attention: bool | Sequence[str] = False,
    ):
        open_clip = _open_clip()
        folder = resolve_clip_folder(pretrained) if pretrained is not None else None
        preprocess: dict[str, Any] = {}
        if folder is not None:
            saved = json.loads((folder / CONFIG_FILE).read_text())
            model_cfg, preprocess = saved["model_cfg"], saved.get("preprocess_cfg", {})
            model = open_clip.create_model(f"{open_clip.factory.LOCAL_DIR_PREFIX}{folder}", weights_only=True)
            tokenizer = open_clip.get_tokenizer(f"{open_clip.factory.LOCAL_DIR_PREFIX}{folder}")
        elif model_cfg is not None:
            if pretrained is not None:
                raise ConfigError("OpenCLIPBackbone: give either model_cfg (random init) or pretrained, not both")
            model = open_clip.CLIP(**model_cfg)
            tokenizer = open_clip.tokenizer.SimpleTokenizer(
                context_length=model_cfg.get("text_cfg", {}).get("context_length", 77))
        elif name is not None:
            if pretrained is not None and not Path(pretrained).expanduser().is_file():
                raise FileNotFoundError(
                    f"OpenCLIPBackbone: pretrained '{pretrained}' is not a local file, a local-dir folder (with "
                    f"{CONFIG_FILE}) or a model-zoo entry; visadapt never downloads weights (pass the path of the "
                    "checkpoint, e.g. open_clip_pytorch_model.bin)")
            if name not in open_clip.list_models():
                raise ConfigError(f"OpenCLIPBackbone: unknown open_clip model '{name}'; e.g. "
                                  f"{', '.join(m for m in open_clip.list_models() if m.startswith('ViT-B'))}")
            model = open_clip.create_model(name, pretrained=str(pretrained) if pretrained else None,
                                           weights_only=True)
            tokenizer = open_clip.get_tokenizer(name)
            model_cfg = open_clip.get_model_config(name)
        elif pretrained is not None:
            raise FileNotFoundError(
                f"OpenCLIPBackbone: pretrained '{pretrained}' is neither a folder with {CONFIG_FILE} nor a model-zoo "
                f"entry (looked in {model_zoo_dir()}); for a weights file, also give the open_clip model name")
        else:
            raise ConfigError(
                "OpenCLIPBackbone: give a model name, a pretrained folder / model-zoo entry, or model_cfg")
        visual_cfg = getattr(model.visual, "preprocess_cfg", {}) or {}
        super().__init__(mean or preprocess.get("mean") or visual_cfg.get("mean") or OPENAI_MEAN,
                         std or preprocess.get("std") or visual_cfg.get("std") or OPENAI_STD)
        self.model, self.tokenizer, self.model_cfg = model, tokenizer, dict(model_cfg)
        self.num_features = int(self.model_cfg["embed_dim"])
        if split_attention:
            patterns = (CLIP_TARGETS["visual_attn"] + CLIP_TARGETS["text_attn"] if split_attention is True
                        else list(split_attention))
            split_attention_modules(self.model, patterns)
        self.register_buffer("class_embeddings", torch.empty(0, self.num_features), persistent=False)
        self.class_names: list[str] = []
        if class_names is not None:
            self.set_classifier(class_names, templates)

    # -- encoders ------------------------------------------------------------------------------------------------
    def tokenize(self, texts: Sequence[str]) -> torch.Tensor:
        return self.tokenizer(list(texts)).to(self.mean.device)

    def encode_image(self, images: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        """Image embeddings for images in [0, 1] (unit length unless ``normalize=False``)."""
        return self.model.encode_image(self.normalize(images), normalize=normalize)

    def encode_text(self, texts: Sequence[str] | torch.Tensor, normalize: bool = True) -> torch.Tensor:
        tokens = texts if isinstance(texts, torch.Tensor) else self.tokenize(texts)
        return self.model.encode_text(tokens, normalize=normalize)

    def encode_token_embeddings(self, embeddings: torch.Tensor, tokens: torch.Tensor,
                                normalize: bool = True) -> torch.Tensor:
        """The text tower after its token-embedding lookup (open_clip's ``encode_text`` from there on): prompt
        learners (CoOp) hand in embeddings with learnt vectors in place of some tokens; ``tokens`` only locates
        the end-of-text position that is pooled."""
        from open_clip.transformer import text_global_pool

        model = self.model
        x = embeddings.to(model.transformer.get_cast_dtype()) + model.positional_embedding
        x = model.ln_final(model.transformer(x, attn_mask=model.attn_mask))
        x = text_global_pool(x, tokens, model.text_pool_type, eos_token_id=getattr(model, "text_eos_id", None))
        proj = model.text_projection
        if proj is not None:
            x = proj(x) if isinstance(proj, torch.nn.Linear) else x @ proj
        return F.normalize(x, dim=-1) if normalize else x

    @contextlib.contextmanager
    def _without_image_projection(self):
        visual = self.model.visual
        proj, visual.proj = visual.proj, None
        try:
            yield
        finally:
            visual.proj = proj

    def encode_image_pre_projection(self, images: torch.Tensor) -> torch.Tensor:
        """Pooled image features before ``visual.proj`` (what ProLIP caches): ``encode_image(x, normalize=False)``
        equals ``encode_image_pre_projection(x) @ model.visual.proj``."""
        if getattr(self.model.visual, "proj", None) is None:
            raise ConfigError("OpenCLIPBackbone: this vision tower has no 'proj' parameter to stop before")
        with self._without_image_projection():
            return self.model.visual(self.normalize(images))

    def forward_features(self, images: torch.Tensor) -> torch.Tensor:
        """Unit-length image embeddings (what a linear probe on CLIP features consumes)."""
        return self.encode_image(images)

    # -- zero-shot classifier ------------------------------------------------------------------------------------
    def class_text_embeddings(self, class_names: Sequence[str], templates: Sequence[str]) -> torch.Tensor:
        """[C, D] unit-length class embeddings: per class, the mean of its prompts' unit embeddings, renormalised
        (CLIP's prompt ensembling; one template gives that prompt's embedding)."""
        if not templates or not all("{}" in t for t in templates):
            raise ConfigError(f"OpenCLIPBackbone: templates must be a non-empty list of strings with '{{}}', "
                              f"got {list(templates)!r}")
        prompts = [t.format(c) for c in class_names for t in templates]
        emb = self.encode_text(prompts).view(len(class_names), len(templates), -1).mean(1)
        return F.normalize(emb, dim=-1)

    @torch.no_grad()
    def set_classifier(self, class_names: Sequence[str], templates: Sequence[str] = ("a photo of a {}.",)) -> None:
        """Fix the zero-shot head to these classes (text tower run once, frozen)."""
        self.class_names = list(class_names)
        self.class_embeddings = self.class_text_embeddings(class_names, templates).detach()

    def logits(self, image_embeddings: torch.Tensor, class_embeddings: torch.Tensor) -> torch.Tensor:
        """CLIP's scaled cosine similarities (the model's learnt temperature)."""
        return self.model.logit_scale.exp() * image_embeddings @ class_embeddings.t()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Zero-shot class logits for images in [0, 1] (after :meth:`set_classifier`)."""
        if self.class_embeddings.numel() == 0:
            raise RuntimeError("OpenCLIPBackbone: no classifier; pass class_names or call set_classifier() first")
        return self.logits(self.encode_image(images), self.class_embeddings)

    # -- saving --------------------------------------------------------------------------------------------------
    def save_pretrained(self, folder: str | os.PathLike, **metadata: Any) -> Path:
        """Write open_clip's local-dir layout (loadable with ``open_clip.create_model('local-dir:FOLDER')`` and no
        visadapt code) plus ``metadata`` (how it was made) in the config file."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        config = {
            "model_cfg": self.model_cfg,
            "preprocess_cfg": {"mean": self.mean.flatten().tolist(), "std": self.std.flatten().tolist(),
                               "size": self.model_cfg["vision_cfg"]["image_size"]},
            "visadapt": metadata,
        }
        (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2))
        state = {k: v.detach().contiguous() for k, v in self.model.state_dict().items()}
        save_file(state, str(folder / WEIGHTS_FILE))
        return folder
