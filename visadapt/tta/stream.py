"""Declarative test streams for (continual) test-time adaptation over corruption domains.

A :class:`StreamSpec` says *what* the method sees and in which order; :class:`Stream` turns it into batches.
The default is the standard CTTA protocol (tta.md 2.1): the 15 corruptions in the standard order, severity 5,
one pass, never reset. Orders:

* ``"sequential"``: domain after domain (corruption-major; each corruption runs through ``severities``).
* ``"mixed"``: every (corruption, severity, image) of the stream pooled and shuffled together.
* ``"gradual"``: per corruption a severity schedule, the first corruption 5,4,3,2,1, every later one
  1,2,3,4,5,4,3,2,1 (CoTTA ``cifar10c_gradual.py``); ``severities`` must stay ``[5]`` (the peak).
* ``"dirichlet"``: sequential domains, but inside each domain the images are in a class-correlated order:
  every class's images are split over ``num_slots`` time slots (default: images per class, so a large alpha
  gives pieces of about one image) with proportions drawn from ``Dirichlet(dirichlet_alpha)`` (NOTE/RoTTA-style
  label shift; small alpha = strongly class-correlated, large alpha ~ i.i.d.); the slots are played one after
  the other, each slot's class pieces in random order.

Reset policies (applied by :func:`visadapt.tta.evaluation.run_stream`, before a batch): ``"never"`` (the method
carries over through all domains), ``"domain"`` (reset when the domain changes; the domain change is
signalled to the method), an int ``k`` (reset after every ``k`` updates), ``"episodic"`` (reset before every
batch).

Each domain uses the same ``samples_per_domain`` base images (the first ones of the base dataset, as
RobustBench's loaders); ``shuffle_seed`` shuffles their order within each domain (None keeps the stored order).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Iterator, NamedTuple

import numpy as np
import torch

from visadapt.data.corruptions import CORRUPTIONS, CorruptedDataset
from visadapt.registry import DATASETS, ConfigError

ORDERS = ("sequential", "mixed", "gradual", "dirichlet")
RESET_POLICIES = ("never", "domain", "episodic")  # or an int k >= 1
GRADUAL_FIRST = (5, 4, 3, 2, 1)
GRADUAL_LATER = (1, 2, 3, 4, 5, 4, 3, 2, 1)
DEFAULT_BASE = {"type": "ShapesDataset", "task": "shape", "split": "test"}


class StreamBatch(NamedTuple):
    """One batch of the stream. ``domain`` is the batch's domain name, or ``"mixed"`` when its samples come
    from several domains; ``sample_domains``/``severities`` name each sample's domain and severity."""

    domain: str
    images: torch.Tensor
    labels: torch.Tensor
    sample_domains: tuple[str, ...]
    severities: tuple[int, ...]


def as_list(value: Any, key: str) -> list:
    """A list field given as a list or tuple, or as one value (``stream.domains=fog``, ``stream.severities=3``
    on the command line)."""
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, (str, int)):
        return [value]
    raise ConfigError(f"stream: '{key}' must be a list or a single value, got {value!r}")


@dataclass
class StreamSpec:
    """The stream protocol; every field is written into the results (``protocol()``)."""

    domains: list[str] = field(default_factory=lambda: list(CORRUPTIONS))
    severities: list[int] = field(default_factory=lambda: [5])
    samples_per_domain: int | None = None
    batch_size: int = 64
    shuffle_seed: int | None = 0
    order: str = "sequential"
    reset: str | int = "never"
    dirichlet_alpha: float = 0.1
    num_slots: int | None = None
    base: dict = field(default_factory=lambda: dict(DEFAULT_BASE))
    corruption_seed: int = 0

    def __post_init__(self) -> None:
        self.domains, self.severities = as_list(self.domains, "domains"), as_list(self.severities, "severities")
        if any(isinstance(s, bool) or not isinstance(s, int) for s in self.severities):
            raise ConfigError(f"stream: 'severities' must be ints in 1..5, got {self.severities}")
        if not self.domains:
            raise ConfigError("stream: 'domains' is empty")
        bad = [d for d in self.domains if d not in CORRUPTIONS]
        if bad:
            raise ConfigError(f"stream: unknown domain(s) {', '.join(map(repr, bad))}; valid: {', '.join(CORRUPTIONS)}")
        if len(set(self.domains)) != len(self.domains):
            raise ConfigError(f"stream: 'domains' has repeats: {self.domains}")
        if not self.severities or any(not 1 <= s <= 5 for s in self.severities):
            raise ConfigError(f"stream: 'severities' must be a non-empty list of ints in 1..5, got {self.severities}")
        if self.order not in ORDERS:
            raise ConfigError(f"stream: unknown order {self.order!r}; valid: {', '.join(ORDERS)}")
        if self.order == "gradual" and self.severities != [5]:
            raise ConfigError("stream: order 'gradual' has its own severity schedule (5..1, then 1..5..1 per "
                              f"domain); leave 'severities' at [5], got {self.severities}")
        if not (isinstance(self.batch_size, int) and self.batch_size >= 1):
            raise ConfigError(f"stream: 'batch_size' must be an int >= 1, got {self.batch_size!r}")
        if self.samples_per_domain is not None and not (
            isinstance(self.samples_per_domain, int) and self.samples_per_domain >= 1
        ):
            raise ConfigError(
                f"stream: 'samples_per_domain' must be an int >= 1 or None, got {self.samples_per_domain!r}"
            )
        if isinstance(self.reset, bool) or not (
            self.reset in RESET_POLICIES or (isinstance(self.reset, int) and self.reset >= 1)
        ):
            raise ConfigError(f"stream: 'reset' must be one of {', '.join(RESET_POLICIES)} or an int k >= 1 "
                              f"(reset every k updates), got {self.reset!r}")
        if self.reset == "domain" and self.order == "mixed":
            raise ConfigError("stream: reset 'domain' needs domain boundaries; order 'mixed' has none")
        if not self.dirichlet_alpha > 0:
            raise ConfigError(f"stream: 'dirichlet_alpha' must be > 0, got {self.dirichlet_alpha!r}")

    @classmethod
    def from_config(cls, cfg: dict | None) -> "StreamSpec":
        cfg = dict(cfg or {})
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = [k for k in cfg if k not in names]
        if unknown:
            raise ConfigError(f"stream: unknown key(s) {', '.join(map(repr, unknown))}; valid keys: {', '.join(names)}")
        return cls(**cfg)

    def protocol(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class Stream:
    """Iterable over the batches of a :class:`StreamSpec`.

    ``for domain, images, labels in stream`` gives ``(str, [B, 3, H, W] float in [0, 1], [B] int64)``;
    :meth:`batches` gives :class:`StreamBatch` with per-sample domains and severities. ``base`` may be passed
    as a built dataset (else it is built from ``spec.base``).
    """

    def __init__(self, spec: StreamSpec | dict | None = None, base=None):
        self.spec = spec if isinstance(spec, StreamSpec) else StreamSpec.from_config(spec)
        if base is None:
            base = DATASETS.build(dict(self.spec.base))
        self.base = base
        self.num_classes = base.num_classes
        n = self.spec.samples_per_domain
        if n is not None and n > len(base):
            raise ConfigError(f"stream: samples_per_domain={n} but the base dataset has only {len(base)} images")
        self.indices = np.arange(len(base) if n is None else n)
        check_batch_fits(self.spec, len(self.indices))
        self._datasets: dict[tuple[str, int], CorruptedDataset] = {}
        self._labels = np.array([base.load(int(i))[1] if not hasattr(base, "label") else base.label(int(i))
                                 for i in self.indices])

    # ------------------------------------------------------------------ order
    def domain_name(self, corruption: str, severity: int) -> str:
        """The reporting name: the corruption, suffixed with ``-<severity>`` when sequential/mixed streams run
        several severities (gradual streams report per corruption)."""
        if self.spec.order != "gradual" and len(self.spec.severities) > 1:
            return f"{corruption}-{severity}"
        return corruption

    def _rng(self, *keys: int) -> np.random.Generator:
        return np.random.default_rng([self.spec.shuffle_seed or 0, *keys])

    def _domain_order(self, d: int) -> np.ndarray:
        idx = self.indices.copy()
        if self.spec.order == "dirichlet":
            return self._dirichlet_order(idx, self._rng(1, d))
        if self.spec.shuffle_seed is not None:
            self._rng(0, d).shuffle(idx)
        return idx

    def _dirichlet_order(self, idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        labels = self._labels[idx]
        classes = np.unique(labels)
        slots_n = self.spec.num_slots or max(1, -(-len(idx) // len(classes)))
        slots: list[list[np.ndarray]] = [[] for _ in range(slots_n)]
        for c in classes:
            members = idx[labels == c]
            rng.shuffle(members)
            props = rng.dirichlet([self.spec.dirichlet_alpha] * slots_n)
            cuts = (np.cumsum(props)[:-1] * len(members)).round().astype(int)
            for slot, part in zip(slots, np.split(members, cuts)):
                if len(part):
                    slot.append(part)
        out = []
        for slot in slots:  # a slot plays its class pieces one after the other, in random order
            for k in rng.permutation(len(slot)):
                out.append(slot[k])
        return np.concatenate(out)

    def segments(self) -> list[list[tuple[str, int, int]]]:
        """The stream as segments (batches never cross a segment) of ``(corruption, severity, image index)``."""
        spec, segs = self.spec, []
        for d, corruption in enumerate(spec.domains):
            if spec.order == "gradual":
                schedule = GRADUAL_FIRST if d == 0 else GRADUAL_LATER
            else:
                schedule = spec.severities
            for k, severity in enumerate(schedule):
                order = self._domain_order(d * 16 + k)
                segs.append([(corruption, int(severity), int(i)) for i in order])
        if spec.order == "mixed":
            pooled = [item for seg in segs for item in seg]
            perm = self._rng(2).permutation(len(pooled))
            segs = [[pooled[i] for i in perm]]
        return segs

    def __len__(self) -> int:
        bs = self.spec.batch_size
        return sum(-(-len(seg) // bs) for seg in self.segments())

    @property
    def num_images(self) -> int:
        return sum(len(seg) for seg in self.segments())

    # ------------------------------------------------------------------ data
    def dataset(self, corruption: str, severity: int) -> CorruptedDataset:
        key = (corruption, severity)
        if key not in self._datasets:
            self._datasets[key] = CorruptedDataset(self.base, corruption, severity, seed=self.spec.corruption_seed)
        return self._datasets[key]

    def batches(self) -> Iterator[StreamBatch]:
        bs = self.spec.batch_size
        for seg in self.segments():
            for start in range(0, len(seg), bs):
                items = seg[start:start + bs]
                images, labels = [], []
                for corruption, severity, i in items:
                    image, label = self.dataset(corruption, severity)[i]
                    images.append(image)
                    labels.append(label)
                names = tuple(self.domain_name(c, s) for c, s, _ in items)
                domain = names[0] if len(set(names)) == 1 else "mixed"
                yield StreamBatch(domain, torch.stack(images), torch.tensor(labels, dtype=torch.long), names,
                                  tuple(s for _, s, _ in items))

    def __iter__(self) -> Iterator[tuple[str, torch.Tensor, torch.Tensor]]:
        for batch in self.batches():
            yield batch.domain, batch.images, batch.labels


def check_batch_fits(spec: StreamSpec, domain_size: int) -> None:
    """A batch may not be larger than a domain: it would silently shrink to the domain and mix no domains."""
    if spec.batch_size > domain_size:
        raise ConfigError(f"stream: 'batch_size' {spec.batch_size} is larger than a domain ({domain_size} images: "
                          f"samples_per_domain or the base dataset's size); valid: 1..{domain_size}")


def build_stream(cfg: StreamSpec | dict | None = None, base=None) -> Stream:
    return Stream(cfg, base=base)
