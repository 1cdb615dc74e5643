"""``PromptDataset``: the evaluation set of a generation task: prompts with the seeds their images are drawn from,
so every model is judged on the same noise."""
from __future__ import annotations

from typing import Sequence

from ..registry import DATASETS, ConfigError


@DATASETS.register()
class PromptDataset:
    """Item ``i``: (seed, prompt) for every prompt x ``seeds_per_prompt`` seeds starting at ``first_seed``.

    ``{trigger}`` and ``{noun}`` in a prompt are filled from ``trigger`` / ``noun``; ``free_prompt(i)`` is the
    same prompt without the trigger (what the base model is asked for when judging knowledge preservation).
    """

    num_classes = 0
    class_names: list[str] = []

    def __init__(self, prompts: Sequence[str], trigger: str = "", noun: str = "", seeds_per_prompt: int = 1,
                 first_seed: int = 0, seed: int = 0, transform: list[dict] | None = None):
        if not prompts or isinstance(prompts, str):
            raise ConfigError(f"PromptDataset: prompts must be a non-empty list of strings, got {prompts!r}")
        if seeds_per_prompt < 1:
            raise ConfigError(f"PromptDataset: seeds_per_prompt must be >= 1, got {seeds_per_prompt}")
        self.templates, self.trigger, self.noun = list(prompts), trigger, noun
        self.seeds_per_prompt, self.first_seed = int(seeds_per_prompt), int(first_seed)

    def __len__(self) -> int:
        return len(self.templates) * self.seeds_per_prompt

    def prompt(self, i: int, trigger: str | None = None) -> str:
        template = self.templates[i // self.seeds_per_prompt]
        text = template.format(trigger=self.trigger if trigger is None else trigger, noun=self.noun)
        return " ".join(text.split())

    def __getitem__(self, i: int) -> tuple[int, str]:
        i %= len(self)
        return self.first_seed + i % self.seeds_per_prompt, self.prompt(i)
