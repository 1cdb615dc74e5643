"""Video generation metrics as in Tune-A-Video and the LOVEU-TGVE benchmark, on features from any image/text
encoder (passed in, so the maths is tested on tiny hand-made features and any CLIP can judge):

- frame consistency: mean cosine similarity of the frames' image embeddings over all unordered pairs of frames;
- textual faithfulness: mean cosine similarity of each frame's image embedding to the prompt's text embedding;
- pixel consistency: mean absolute difference of consecutive frames in pixel space (no encoder; lower = smoother).
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch


def _unit_rows(features: torch.Tensor, where: str) -> torch.Tensor:
    """Rows scaled to unit length; a zero row has no direction, so it is an error rather than a cosine of 0."""
    features = features.detach().float()
    norms = features.norm(dim=-1, keepdim=True)
    if bool((norms == 0).any()):
        raise ValueError(f"{where}: a feature vector is all zeros, its cosine similarity is undefined")
    return features / norms


def _check_frame_features(frame_features: torch.Tensor, where: str, min_frames: int) -> None:
    if not isinstance(frame_features, torch.Tensor) or frame_features.ndim != 2:
        got = tuple(frame_features.shape) if isinstance(frame_features, torch.Tensor) else type(frame_features)
        raise ValueError(f"{where}: expected frame features as a tensor [F, D], got {got}")
    if frame_features.shape[0] < min_frames:
        raise ValueError(f"{where}: needs at least {min_frames} frame(s), got features of shape "
                         f"{tuple(frame_features.shape)}")


def frame_consistency(frame_features: torch.Tensor) -> float:
    """Mean cosine similarity over all F (F - 1) / 2 unordered pairs of frames (not only neighbours): 1 for a
    clip whose frames all embed alike."""
    _check_frame_features(frame_features, "frame_consistency", 2)
    unit = _unit_rows(frame_features, "frame_consistency")
    pairs = torch.triu_indices(len(unit), len(unit), offset=1)
    return float((unit @ unit.T)[pairs[0], pairs[1]].mean())


def textual_faithfulness(frame_features: torch.Tensor, text_feature: torch.Tensor) -> float:
    """Mean over frames of the cosine similarity to the prompt's embedding (``[D]`` or ``[1, D]``).

    CLIP-score conventions report ``100 * max(cos, 0)``; this is the raw mean cosine, in [-1, 1].
    """
    _check_frame_features(frame_features, "textual_faithfulness", 1)
    if not isinstance(text_feature, torch.Tensor) or text_feature.reshape(-1).shape != frame_features.shape[1:]:
        got = tuple(text_feature.shape) if isinstance(text_feature, torch.Tensor) else type(text_feature)
        raise ValueError(f"textual_faithfulness: expected a text feature of shape [{frame_features.shape[1]}] "
                         f"to match frame features {tuple(frame_features.shape)}, got {got}")
    frames = _unit_rows(frame_features, "textual_faithfulness")
    text = _unit_rows(text_feature.reshape(1, -1), "textual_faithfulness")
    return float((frames @ text.T).mean())


def pixel_consistency(frames: torch.Tensor) -> float:
    """Mean absolute difference of consecutive frames ``[F, 3, H, W]`` in [0, 1]: 0 for a still clip."""
    if not isinstance(frames, torch.Tensor) or frames.ndim != 4 or frames.shape[1] != 3 or frames.shape[0] < 2:
        got = tuple(frames.shape) if isinstance(frames, torch.Tensor) else type(frames)
        raise ValueError(f"pixel_consistency: expected frames as a tensor [F, 3, H, W] with F >= 2, got {got}")
    frames = frames.detach().float()
    low, high = float(frames.min()), float(frames.max())
    if low < 0.0 or high > 1.0:
        raise ValueError(f"pixel_consistency: expected pixel values in [0, 1], got [{low:g}, {high:g}] "
                         f"(uint8 frames must be divided by 255)")
    return float((frames[1:] - frames[:-1]).abs().mean())


def video_scores(frames: torch.Tensor, prompt: str, encode_images: Callable[[torch.Tensor], torch.Tensor],
                 encode_texts: Callable[[Sequence[str]], torch.Tensor]) -> dict[str, float]:
    """All three metrics of one clip ``[F, 3, H, W]`` in [0, 1] and its prompt; the encoders map frames to
    ``[F, D]`` and a list of texts to ``[N, D]`` (``ClipJudge(...).images`` and ``.texts`` do)."""
    with torch.no_grad():
        image_features = encode_images(frames)
        text_feature = encode_texts([prompt])[0]
    return {"frame_consistency": frame_consistency(image_features),
            "textual_faithfulness": textual_faithfulness(image_features, text_feature),
            "pixel_consistency": pixel_consistency(frames)}
