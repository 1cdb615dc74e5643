"""Clips folded into the batch of a stock image UNet: the frame count comes from the model's call context, and the
frames of clip ``b`` are rows ``b*F .. b*F+F-1`` (how video pipelines repeat prompt embeddings and latents)."""
from __future__ import annotations

import math
from functools import lru_cache

import torch

from visadapt.adapters.base import CallContext
from visadapt.registry import ConfigError

# SimDA's latent shift (the Temporal Patch Shift pattern): the token at spatial position (i mod 4, j mod 4) of frame
# f is taken from frame f - s; frames f < s keep their own token.
LATENT_SHIFT = ((4, 3, 2, 1), (3, 2, 1, 0), (2, 1, 0, 0), (1, 2, 3, 4))


def frame_count(context: CallContext, batch: int, where: str) -> int:
    """The clip length the layers of one model share; the batch must hold whole clips."""
    frames = context.get("num_frames")
    if frames is None:
        raise ConfigError(f"{where}: the frame count is not set; run the UNet inside "
                          "visadapt.adapters.call_context(model, num_frames=F) or after set_call_context(...)")
    if not isinstance(frames, int) or frames < 1 or batch % frames:
        raise ConfigError(f"{where}: a batch of {batch} rows does not hold whole clips of num_frames={frames!r}")
    return frames


def token_grid(num_tokens: int, context: CallContext, where: str) -> tuple[int, int]:
    """(h, w) of a flattened token map: square, or shaped like ``context['latent_size']`` (the UNet input's (H, W))
    at whatever resolution level the tokens come from."""
    size = context.get("latent_size")
    if size is not None:
        height, width = size
        factor = math.sqrt(height * width / num_tokens)
        h, w = round(height / factor), round(width / factor)
        if h * w == num_tokens:
            return h, w
    side = math.isqrt(num_tokens)
    if side * side != num_tokens:
        raise ConfigError(f"{where}: {num_tokens} tokens are not a square map; latent shift needs square latents or "
                          "the latent size in the call context (call_context(model, latent_size=(H, W)))")
    return side, side


@lru_cache(maxsize=64)
def _shift_source(num_frames: int, height: int, width: int, device: torch.device) -> torch.Tensor:
    """(F, h*w): the frame each token is read from. Cached per device, so no attention call copies it to the device;
    built outside inference mode, as a tensor made under ``torch.inference_mode`` (Lightning's test loop) cannot be
    saved for a later training backward."""
    with torch.inference_mode(False):
        rows = torch.arange(height)[:, None] % 4
        cols = torch.arange(width)[None, :] % 4
        shift = torch.tensor(LATENT_SHIFT)[rows, cols]  # (h, w)
        frames = torch.arange(num_frames)[:, None, None]
        source = frames - shift
        return torch.where(source >= 0, source, frames).reshape(num_frames, height * width).to(device)


def latent_shift(tokens: torch.Tensor, num_frames: int, height: int, width: int) -> torch.Tensor:
    """(B*F, h*w, C) tokens with SimDA's 4x4 temporal shift applied (a gather, no copies per shift value)."""
    rows, _, channels = tokens.shape
    grid = tokens.reshape(rows // num_frames, num_frames, height * width, channels)
    source = _shift_source(num_frames, height, width, tokens.device)[None, :, :, None]
    shifted = torch.gather(grid, 1, source.expand(grid.shape[0], -1, -1, channels))
    return shifted.reshape(rows, height * width, channels)


def previous_and_current(num_frames: int) -> tuple[list[int], list[int]]:
    """SimDA: frame f attends to frames f-1 and f (frame 0 to itself twice)."""
    return [max(f - 1, 0) for f in range(num_frames)], list(range(num_frames))


def first_and_previous(num_frames: int) -> tuple[list[int], list[int]]:
    """Tune-A-Video's sparse-causal attention: frame f attends to frame 0 and frame f-1 (frame 0 to itself)."""
    return [0] * num_frames, [max(f - 1, 0) for f in range(num_frames)]


FRAME_PAIRS = {"previous_and_current": previous_and_current, "first_and_previous": first_and_previous}


@lru_cache(maxsize=64)
def _pair_index(kind: str, num_frames: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The two key/value frames of every frame as index tensors on ``device`` (cached, as ``_shift_source``)."""
    with torch.inference_mode(False):
        first, second = FRAME_PAIRS[kind](num_frames)
        return torch.tensor(first, device=device), torch.tensor(second, device=device)


def gather_frames(tokens: torch.Tensor, num_frames: int, kind: str) -> torch.Tensor:
    """(B*F, N, C) -> (B*F, 2N, C): for each frame, the tokens of its two key/value frames (``FRAME_PAIRS[kind]``)
    side by side."""
    rows, n, channels = tokens.shape
    clips = tokens.reshape(rows // num_frames, num_frames, n, channels)
    first, second = _pair_index(kind, num_frames, tokens.device)
    return torch.cat([clips[:, first], clips[:, second]], dim=2).reshape(rows, 2 * n, channels)
