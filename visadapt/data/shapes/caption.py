"""Template captions such as "two striped red stars and an orange circle on a dark background"."""
from __future__ import annotations

from .scene import Scene

_NUMBERS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
_PLURALS = {"cross": "crosses"}
_TEXTURE_WORDS = {"solid": "", "stripes": "striped", "dots": "dotted", "checker": "checkered"}
_BACKGROUND_WORDS = {"dark": "dark", "light": "light", "gradient": "gradient", "noise": "noisy"}


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _phrase(count: int, texture: str, color: str, shape: str) -> str:
    words = " ".join(w for w in (_TEXTURE_WORDS[texture], color) if w)
    if count == 1:
        return f"{_article(words)} {words} {shape}"
    number = _NUMBERS[count] if count < len(_NUMBERS) else str(count)
    return f"{number} {words} {_PLURALS.get(shape, shape + 's')}"


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


def object_phrase(shape: str, color: str, texture: str = "solid") -> str:
    """``"a red circle"``: how captions name one object (video captions add its motion to it)."""
    return _phrase(1, texture, color, shape)


def background_phrase(kind: str) -> str:
    """``"a dark background"``: how captions name a background kind."""
    words = f"{_BACKGROUND_WORDS[kind]} background"
    return f"{_article(words)} {words}"


def caption(scene: Scene) -> str:
    """Objects grouped by (texture, colour, shape) in order of first appearance, then the background."""
    groups: dict[tuple[str, str, str], int] = {}
    for obj in scene.objects:
        key = (obj.texture, obj.color, obj.shape)
        groups[key] = groups.get(key, 0) + 1
    background = f"{_BACKGROUND_WORDS[scene.background.kind]} background"
    if not groups:
        return f"an empty {background}"
    return f"{_join([_phrase(n, *key) for key, n in groups.items()])} on {_article(background)} {background}"
