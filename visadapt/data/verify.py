"""Finding every unreadable file of a dataset at once, instead of one per run when a batch reaches it.

Used by ``data.verify=True`` (fail before training, listing them all), ``data.skip_corrupt=True`` (train without
them, saying how many) and ``tools/check_data.py`` (list them).
"""
from __future__ import annotations

from typing import Any

from tqdm import tqdm

from ..registry import ConfigError
from .folder import UnreadableImageError


def unreadable_items(dataset: Any, desc: str = "") -> dict[int, str]:
    """``{index: message naming the file}`` for every item of ``dataset`` that cannot be decoded."""
    bad = {}
    for idx in tqdm(range(dataset.num_items), desc=f"checking {desc}".strip(), unit="image", disable=None,
                    leave=False):
        try:
            dataset.load(idx)
        except UnreadableImageError as err:
            bad[idx] = str(err)
    return bad


def drop_items(dataset: Any, bad: dict[int, str], where: str) -> None:
    """Remove the ``bad`` items of a dataset that lists its files in ``samples``."""
    if not isinstance(getattr(dataset, "samples", None), list):
        raise ConfigError(f"{where}: skip_corrupt cannot drop items of {type(dataset).__name__} (no file list); "
                          f"unreadable: {'; '.join(bad.values())}")
    dataset.samples = [s for i, s in enumerate(dataset.samples) if i not in bad]
