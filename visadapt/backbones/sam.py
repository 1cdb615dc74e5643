"""segment-anything's SAM as a visadapt backbone: the package's own modules, built for any size, with weights from
the official checkpoints (or the model zoo) adapted to other input sizes and numbers of mask outputs.

The training forward calls the image encoder, prompt encoder and mask decoder directly: the package's
``Sam.forward`` runs under ``torch.no_grad()`` (gen_seg.md 1.4). The stock decoder takes one image with N prompts;
images with one prompt each go through the same decoder modules in one batched pass
(``predict_masks_per_image``), and without prompts, or with one prompt shared by all images, through the stock
``predict_masks``.
"""
from __future__ import annotations

import json
import os
from functools import partial
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn

from visadapt.backbones.base import ImageEncoder
from visadapt.backbones.weights import load_state_dict, read_metadata, resolve_weights
from visadapt.registry import BACKBONES, ConfigError

# build_sam.py's three encoders (width, depth, heads, global-attention blocks); everything else is shared.
SAM_VARIANTS = {
    "vit_b": dict(embed_dim=768, depth=12, num_heads=12, global_attn_indexes=(2, 5, 8, 11)),
    "vit_l": dict(embed_dim=1024, depth=24, num_heads=16, global_attn_indexes=(5, 11, 17, 23)),
    "vit_h": dict(embed_dim=1280, depth=32, num_heads=16, global_attn_indexes=(7, 15, 23, 31)),
}
ENCODER_DEFAULTS = dict(patch_size=16, mlp_ratio=4.0, out_chans=256, window_size=14, use_rel_pos=True)
DECODER_DEFAULTS = dict(depth=2, mlp_dim=2048, num_heads=8, iou_head_depth=3, iou_head_hidden_dim=256,
                        mask_in_chans=16)
SAM_MEAN = tuple(v / 255 for v in (123.675, 116.28, 103.53))
SAM_STD = tuple(v / 255 for v in (58.395, 57.12, 57.375))
SAM_TARGETS = {
    "qkv": ["image_encoder.blocks.*.attn.qkv"],
    "attn_proj": ["image_encoder.blocks.*.attn.proj"],
    "attn": ["image_encoder.blocks.*.attn"],
    "mlp": ["image_encoder.blocks.*.mlp"],
}
# Which mask tokens each ``outputs`` mode returns (token 0 is SAM's single-mask output).
_OUTPUTS = {"first": slice(0, 1), "multimask": slice(1, None), "all": slice(None)}
# Decoder tensors whose size depends on the number of mask outputs: dropped (left at init) when it changes.
_OUTPUT_SPECIFIC = ("mask_decoder.mask_tokens.", "mask_decoder.output_hypernetworks_mlps.",
                    "mask_decoder.iou_prediction_head.layers.")


def _segment_anything():
    try:
        from segment_anything import modeling
    except ImportError as err:
        raise ConfigError('SAMBackbone needs segment-anything: pip install "visadapt[sam]"') from err
    return modeling


def build_sam(image_size: int, encoder: dict, prompt_embed_dim: int, decoder: dict,
              num_multimask_outputs: int) -> nn.Module:
    """A ``segment_anything.modeling.Sam`` from its parts, as ``build_sam.py`` assembles it, at any size."""
    m = _segment_anything()
    enc = {**ENCODER_DEFAULTS, **encoder}
    dec = {**DECODER_DEFAULTS, **decoder}
    embedding_size = image_size // enc["patch_size"]
    image_encoder = m.ImageEncoderViT(
        img_size=image_size, norm_layer=partial(nn.LayerNorm, eps=1e-6), qkv_bias=True, rel_pos_zero_init=True,
        **{k: (tuple(v) if k == "global_attn_indexes" else v) for k, v in enc.items()})
    prompt_encoder = m.PromptEncoder(embed_dim=prompt_embed_dim, image_embedding_size=(embedding_size,) * 2,
                                     input_image_size=(image_size,) * 2, mask_in_chans=dec["mask_in_chans"])
    mask_decoder = m.MaskDecoder(
        num_multimask_outputs=num_multimask_outputs,
        transformer=m.TwoWayTransformer(depth=dec["depth"], embedding_dim=prompt_embed_dim, mlp_dim=dec["mlp_dim"],
                                        num_heads=dec["num_heads"]),
        transformer_dim=prompt_embed_dim, iou_head_depth=dec["iou_head_depth"],
        iou_head_hidden_dim=dec["iou_head_hidden_dim"])
    return m.Sam(image_encoder=image_encoder, prompt_encoder=prompt_encoder, mask_decoder=mask_decoder)


def adapt_sam_state_dict(state: dict[str, torch.Tensor], model: nn.Module) -> tuple[dict[str, torch.Tensor], list]:
    """Fit a SAM checkpoint to ``model``: absolute position embeddings resampled (bicubic) and relative-position
    tables resized (linear) for another input size; mask-output-specific decoder tensors dropped when the number of
    outputs differs (SAMed's ``load_from``). Returns (state dict, names left at initialisation)."""
    own = model.state_dict()
    out, dropped = {}, []
    for name, tensor in state.items():
        target = own.get(name)
        if target is None or target.shape == tensor.shape:
            out[name] = tensor
        elif name.endswith("pos_embed") and tensor.dim() == 4:  # (1, H, W, C), channels last
            resized = F.interpolate(tensor.permute(0, 3, 1, 2).float(), size=target.shape[1:3], mode="bicubic",
                                    align_corners=False)
            out[name] = resized.permute(0, 2, 3, 1).to(tensor.dtype)
        elif ".rel_pos_" in name and tensor.dim() == 2 and tensor.shape[1] == target.shape[1]:
            resized = F.interpolate(tensor.t()[None].float(), size=target.shape[0], mode="linear",
                                    align_corners=False)
            out[name] = resized[0].t().to(tensor.dtype)
        elif name.startswith(_OUTPUT_SPECIFIC):
            dropped.append(name)
        else:
            raise ConfigError(f"SAM checkpoint tensor '{name}' has shape {tuple(tensor.shape)}, the model "
                              f"{tuple(target.shape)}: check the variant / encoder arguments")
    dropped += [n for n in own if n not in state and n.startswith(_OUTPUT_SPECIFIC) and n not in dropped]
    return out, dropped


def predict_masks_per_image(decoder: nn.Module, embeddings: torch.Tensor, image_pe: torch.Tensor,
                            sparse: torch.Tensor, dense: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``MaskDecoder.predict_masks`` for B images with one prompt each, in one batched pass over the decoder's own
    modules. The stock method repeats every image embedding once per prompt (one image, N prompts), so B images
    with B prompts would become B x B pairs (gen_seg.md 1.4); this is the ``shape[0]`` fix MSA and AdapterShadow
    patch into their copies, without editing the package. Tested equal to the stock method image by image."""
    tokens = torch.cat([decoder.iou_token.weight, decoder.mask_tokens.weight], dim=0)
    tokens = torch.cat((tokens.unsqueeze(0).expand(sparse.size(0), -1, -1), sparse), dim=1)
    src = embeddings + dense
    b, c, h, w = src.shape
    hs, src = decoder.transformer(src, image_pe.expand(b, -1, -1, -1), tokens)
    mask_tokens = hs[:, 1:1 + decoder.num_mask_tokens, :]
    upscaled = decoder.output_upscaling(src.transpose(1, 2).reshape(b, c, h, w))
    hyper = torch.stack([mlp(mask_tokens[:, i, :]) for i, mlp in enumerate(decoder.output_hypernetworks_mlps)], 1)
    b, c, h, w = upscaled.shape
    masks = (hyper @ upscaled.reshape(b, c, h * w)).reshape(b, -1, h, w)
    return masks, decoder.iou_prediction_head(hs[:, 0, :])


@BACKBONES.register()
class SAMBackbone(ImageEncoder):
    """An unmodified ``segment_anything`` ``Sam`` in ``self.model``.

    Args:
        variant: ``vit_b``, ``vit_l`` or ``vit_h`` (build_sam.py's encoders), or ``custom`` with ``encoder``.
        checkpoint: the official ``sam_vit_*.pth`` (read with ``weights_only=True``), a safetensors file, or a
            model-zoo entry (whose metadata records the architecture). Nothing is downloaded.
        image_size: square input size (images must arrive at this size); default the checkpoint's, else SAM's
            1024. Checkpoints trained at another size are resampled.
        num_multimask_outputs: default the checkpoint's, else SAM's 3; or the number of classes for multi-class
            masks (SAMed).
        encoder: ``ImageEncoderViT`` arguments overriding the variant (embed_dim, depth, num_heads, patch_size,
            window_size, global_attn_indexes, out_chans, ...).
        prompt_embed_dim, decoder: prompt/decoder width (256) and two-way transformer / IoU head sizes.
    """

    target_presets = SAM_TARGETS

    def __init__(self, variant: str = "vit_b", checkpoint: str | os.PathLike | None = None,
                 image_size: int | None = None, num_multimask_outputs: int | None = None,
                 encoder: dict | None = None, prompt_embed_dim: int = 256,
                 decoder: dict | None = None, mean: Sequence[float] | None = None,
                 std: Sequence[float] | None = None):
        path, meta = None, {}
        if checkpoint is not None:
            path = resolve_weights(checkpoint)
            meta = read_metadata(path).get("sam", {})
            variant, encoder = meta.get("variant", variant), {**meta.get("encoder", {}), **(encoder or {})}
            prompt_embed_dim = meta.get("prompt_embed_dim", prompt_embed_dim)
            decoder = {**meta.get("decoder", {}), **(decoder or {})}
        image_size = image_size or meta.get("image_size", 1024)
        num_multimask_outputs = num_multimask_outputs or meta.get("num_multimask_outputs", 3)
        if variant not in SAM_VARIANTS and variant != "custom":
            raise ConfigError(f"SAMBackbone: variant '{variant}' unknown; one of {', '.join(SAM_VARIANTS)}, custom")
        encoder = {**SAM_VARIANTS.get(variant, {}), **(encoder or {})}
        if variant == "custom" and not {"embed_dim", "depth", "num_heads"} <= set(encoder):
            raise ConfigError("SAMBackbone: variant 'custom' needs encoder=dict(embed_dim=..., depth=..., num_heads=...)")
        try:
            model = build_sam(image_size, encoder, prompt_embed_dim, decoder or {}, num_multimask_outputs)
        except TypeError as err:
            raise ConfigError(f"SAMBackbone: bad encoder / decoder argument ({err})") from err
        self.dropped: list[str] = []
        if path is not None:
            state, self.dropped = adapt_sam_state_dict(load_state_dict(path), model)
            missing, unexpected = model.load_state_dict(state, strict=False)
            missing = [n for n in missing if n not in self.dropped]
            if missing or unexpected:
                raise ConfigError(f"{path}: not a checkpoint of this SAM: missing {missing[:6]}, unexpected "
                                  f"{unexpected[:6]} (check variant / encoder arguments)")
        super().__init__(mean or meta.get("mean") or SAM_MEAN, std or meta.get("std") or SAM_STD)
        self.model = model
        self.image_size, self.num_multimask_outputs = image_size, num_multimask_outputs
        self.config = dict(variant=variant, encoder=encoder, prompt_embed_dim=prompt_embed_dim,
                           decoder={**DECODER_DEFAULTS, **(decoder or {})})
        self.num_features = int(encoder.get("out_chans", ENCODER_DEFAULTS["out_chans"]))

    def image_embeddings(self, images: torch.Tensor) -> torch.Tensor:
        if images.shape[-2:] != (self.image_size, self.image_size):
            raise ValueError(f"SAMBackbone: images must be {self.image_size}x{self.image_size} "
                             f"(resize them in the transforms), got {tuple(images.shape[-2:])}")
        return self.model.image_encoder(self.normalize(images))

    def forward_features(self, images: torch.Tensor) -> torch.Tensor:
        """Image embeddings averaged over positions."""
        return self.image_embeddings(images).mean((2, 3))

    def forward(self, images: torch.Tensor, points: tuple[torch.Tensor, torch.Tensor] | None = None,
                boxes: torch.Tensor | None = None, outputs: str = "first") -> tuple[torch.Tensor, torch.Tensor]:
        """Mask logits at the input size [B, M, H, W] and predicted IoUs [B, M] for images in [0, 1].

        Prompts: ``points`` = (coords [P, N, 2] as (x, y) pixels, labels [P, N]), ``boxes`` [P, 4] (x0, y0, x1, y1),
        or neither (SAM's prompt-free default embedding), with P = B (one prompt per image) or P = 1 (one prompt
        for every image, e.g. a point grid). ``outputs``: ``first`` (SAM's single-mask token, M = 1),
        ``multimask`` (its other tokens, M = num_multimask_outputs) or ``all`` (every token: background + classes
        when the decoder is built with one output per class, as SAMed does).
        """
        if outputs not in _OUTPUTS:
            raise ValueError(f"SAMBackbone: outputs must be one of {', '.join(_OUTPUTS)}, got '{outputs}'")
        embeddings = self.image_embeddings(images)
        prompts = [p for p in (None if points is None else points[0], boxes) if p is not None]
        sparse, dense = self.model.prompt_encoder(points=points, boxes=boxes, masks=None)
        pe = self.model.prompt_encoder.get_dense_pe()
        if all(len(p) == 1 for p in prompts):
            # No prompt, or one for all images: the stock decoder broadcasts it over the batch.
            low, iou = self.model.mask_decoder.predict_masks(embeddings, pe, sparse, dense)
        else:
            low, iou = predict_masks_per_image(self.model.mask_decoder, embeddings, pe, sparse, dense)
        keep = _OUTPUTS[outputs]
        size = (self.image_size, self.image_size)
        return F.interpolate(low[:, keep], size=size, mode="bilinear", align_corners=False), iou[:, keep]

    def save_pretrained(self, path: str | os.PathLike, **metadata: Any) -> Path:
        """The ``Sam`` state dict as safetensors (loadable by a stock ``Sam`` of the same size) with the
        architecture in the metadata, so ``checkpoint=`` rebuilds it."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"sam": {**self.config, "image_size": self.image_size,
                        "num_multimask_outputs": self.num_multimask_outputs,
                        "mean": self.mean.flatten().tolist(), "std": self.std.flatten().tolist()}, **metadata}
        state = {k: v.detach().contiguous() for k, v in self.model.state_dict().items()}
        save_file(state, str(path), metadata={k: json.dumps(v) for k, v in meta.items()})
        return path
