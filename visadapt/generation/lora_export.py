"""visadapt LoRA layers on a ``DiffusionBackbone`` written in the formats the diffusion ecosystem loads:
diffusers' ``pytorch_lora_weights.safetensors`` (``StableDiffusionPipeline.load_lora_weights``) and a kohya / A1111
file (diffusers' own converter), with no visadapt code needed to use them."""
from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file

from visadapt.adapters import injected_configs
from visadapt.adapters.lora.layer import LoRALinear

DIFFUSERS_FILE = "pytorch_lora_weights.safetensors"
KOHYA_FILE = "pytorch_lora_weights_kohya.safetensors"
PARTS = ("unet", "text_encoder")


def exportable(model: torch.nn.Module) -> str | None:
    """None when every injected method is plain LoRA the formats can express, else why not."""
    for config in injected_configs(model):
        if config.method != "lora":
            return f"method '{config.method}' is not LoRA"
        if getattr(config, "qkv_slices", None):
            return "LoRA on q/k/v slices of a fused projection"
    layers = [m for m in model.modules() if isinstance(m, LoRALinear)]
    if not layers:
        return "no LoRA layer"
    if any(isinstance(m.base_layer, LoRALinear) for m in layers):
        return "stacked LoRA layers"
    return None


def peft_lora_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """``{"unet.<module>.lora_A.weight": [r, in], "...lora_B.weight": [out, r]}`` in PEFT's naming, with the LoRA
    scale folded into B (so a loader's default alpha = r reproduces the outputs)."""
    state = {}
    for name, layer in model.named_modules():
        if isinstance(layer, LoRALinear):
            if name.split(".", 1)[0] not in PARTS:
                raise ValueError(f"LoRA layer '{name}' is outside the UNet and text encoder")
            state[f"{name}.lora_A.weight"] = layer.lora_A[0].detach().float().contiguous().cpu()
            state[f"{name}.lora_B.weight"] = (layer.lora_B[0].detach().float() * layer.scale).contiguous().cpu()
    return state


def kohya_state_dict(state: dict[str, torch.Tensor], convert) -> dict[str, torch.Tensor]:
    """diffusers' kohya converter, with Stable Diffusion 1.x's A1111 names for the text encoder: ``lora_te_`` (the
    converter writes SDXL's ``lora_te1_``) and the ``text_model`` level transformers 5 no longer has."""
    named = {}
    for key, value in state.items():
        if key.startswith("text_encoder.") and not key.startswith("text_encoder.text_model."):
            key = "text_encoder.text_model." + key[len("text_encoder."):]
        named[key] = value
    return {k.replace("lora_te1_", "lora_te_", 1): v.contiguous() for k, v in convert(named).items()}


def save_diffusers_lora(backbone, directory: str | Path) -> list[Path]:
    """Write both files next to the adapter export; returns what was written (nothing when ``exportable`` says no,
    with the reason in ``lora_formats.txt``)."""
    from diffusers import StableDiffusionPipeline
    from diffusers.utils.state_dict_utils import convert_state_dict_to_diffusers, convert_state_dict_to_kohya

    directory = Path(directory)
    reason = exportable(backbone.adapted_model)
    if reason is not None:
        (directory / "lora_formats.txt").write_text(f"no diffusers / kohya LoRA file: {reason}\n")
        return []
    state = peft_lora_state_dict(backbone.adapted_model)
    parts = {part: {k[len(part) + 1:]: v for k, v in state.items() if k.startswith(part + ".")} for part in PARTS}
    layers = {f"{part}_lora_layers": convert_state_dict_to_diffusers(tensors) for part, tensors in parts.items()
              if tensors}
    StableDiffusionPipeline.save_lora_weights(directory, weight_name=DIFFUSERS_FILE, safe_serialization=True,
                                              **layers)
    save_file(kohya_state_dict(state, convert_state_dict_to_kohya), str(directory / KOHYA_FILE))
    return [directory / DIFFUSERS_FILE, directory / KOHYA_FILE]
