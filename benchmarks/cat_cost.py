"""What CAT costs per training step over plain DreamBooth-LoRA, and what the reference's second UNet would add.

    python benchmarks/cat_cost.py [--config configs/dreambooth/lora_sd_tiny_shapes_subject.py] [--rounds 30]
                                  [--threads 1] [--device cpu|cuda] [--out-dir DIR]

Three training steps on the model-zoo model ``sd_tiny_shapes`` with the config's adapter (LoRA r=4 on every UNet
attention projection), its optimizer (AdamW) and gradient clipping (1.0), all on the same batch: the config's first
``batch_size`` instance images, encoded once by the VAE, with their captions ("zwx, a star on a dark background"):

- ``lora``: ``TextToImageTask(regularizer="none").denoising_losses`` (one UNet forward with gradient);
- ``cat (ours)``: ``TextToImageTask(regularizer="cat")``, the base prediction from the same UNet inside
  ``visadapt.adapters.disable_adapters`` under ``no_grad`` (three forwards, two with gradient);
- ``cat (two UNets)``: the reference design, the base prediction from a second, frozen UNet (``copy.deepcopy`` of
  the UNet before the adapters are injected) under ``no_grad``; the loss is otherwise the same code path.

A step is: latents drawn from the cached distributions, the task's loss terms, ``backward``, ``clip_grad_norm_``
over the trainable parameters, ``AdamW.step``, ``zero_grad``. Each method's task has its own copy of the model,
with identical weights and identical LoRA initialisation (re-seeded before each build). The three run side by side
in one process (``benchmarks/_measure.py``): 2 warm-up rounds, then ``--rounds`` rounds of one step each, the
starting method rotated every round; the table gives the median and interquartile range of the per-round ratios to
``lora``. Before timing, every task's ``lora_B`` is set to the same non-zero values, and the two CAT designs are
checked to compute the same loss terms from the same RNG state (the caption gives both CAT terms and the largest
difference).

Memory, one method at a time:

- on CUDA: ``torch.cuda.max_memory_allocated`` over one step after ``reset_peak_memory_stats``, taken after two
  steps so the AdamW state exists; only that method's model is on the GPU;
- on CPU, where PyTorch keeps no allocator statistics, an exact account instead of a sampled peak (the one
  ``bench_adapters.py`` uses): the bytes of every tensor autograd saves for backward during the loss computation
  (``torch.autograd.graph.saved_tensors_hooks``), plus every parameter and buffer the method holds (the whole
  diffusion model: UNet, text encoder, VAE, and the second UNet for the two-UNet design), deduplicated by storage,
  plus gradients and AdamW state (3 x the trainable bytes). It is deterministic; it leaves out short-lived
  temporaries, such as the activations of the ``no_grad`` base forward, which are freed layer by layer.

Writes ``results.json`` and ``table.md`` to ``--out-dir`` (default ``benchmarks/results/cat_cost``).
"""
from __future__ import annotations

import argparse
import copy
import random
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _measure import (add_storages, interleave, median_ms, provenance, ratio_stats, saved_for_backward,  # noqa: E402
                      write_results)
from visadapt.adapters import count_parameters  # noqa: E402
from visadapt.backbones import DiffusionBackbone  # noqa: E402
from visadapt.config import to_plain  # noqa: E402
from visadapt.optim import build_model_optimizer  # noqa: E402
from visadapt.runner import load_config  # noqa: E402
from visadapt.runner.build import build_datamodule  # noqa: E402
from visadapt.tasks.text_to_image import TextToImageTask  # noqa: E402

SEED = 0
WARMUP_ROUNDS = 2
MIB = 2 ** 20
METHODS = ("lora", "cat (ours)", "cat (two UNets)")


class TwoUNetCAT(TextToImageTask):
    """CAT with the base prediction from a separate frozen UNet (the reference implementation's design) instead of
    the adapted UNet with its adapters switched off. The UNet copy is kept out of the module tree (so the task's
    parameters, optimizer and checkpoints are unchanged); :func:`held_tensors` counts it."""

    def __init__(self, backbone: DiffusionBackbone, frozen_unet: torch.nn.Module, **kwargs: Any):
        super().__init__(backbone, regularizer="cat", **kwargs)
        self.__dict__["frozen_unet"] = frozen_unet.requires_grad_(False)

    def denoising_losses(self, latents: torch.Tensor, captions: Sequence[str],
                         extra: Any = None) -> dict[str, torch.Tensor]:
        z_t, t, target, weights = self.noisy(latents)
        free = [self.free_caption(c) for c in captions]
        with torch.no_grad():
            base = self.frozen_unet(z_t, t, self.backbone.encode_prompt(free)).sample
        adapted_free = self.predict(z_t, t, self.condition(free))
        pred = self.predict(z_t, t, self.condition(list(captions)))
        return {"cat": self.cat_weight * self.weighted_mse(adapted_free, base, weights),
                "instance": self.weighted_mse(pred, target, weights)}


def seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build(method: str, cfg: Any) -> TextToImageTask:
    """The method's task over a freshly loaded model; re-seeded first, so every LoRA starts identical."""
    seed_all(SEED)
    backbone = DiffusionBackbone(**{k: v for k, v in to_plain(cfg.backbone).items() if k != "type"})
    task_cfg = {k: v for k, v in to_plain(cfg.task).items() if k not in ("type", "regularizer")}
    kwargs = dict(adapter=to_plain(cfg.adapter), optimizer=to_plain(cfg.optimizer), **task_cfg)
    if method == "cat (two UNets)":
        frozen = copy.deepcopy(backbone.unet)  # before injection: the plain base UNet
        return TwoUNetCAT(backbone, frozen, **kwargs)
    return TextToImageTask(backbone, regularizer="cat" if method == "cat (ours)" else "none", **kwargs)


def make_batch(cfg: Any, backbone: DiffusionBackbone) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """(latent mean, latent std, captions) of the config's first ``batch_size`` training images."""
    train_set = build_datamodule(cfg).train_set
    items = [train_set[i] for i in range(min(int(cfg.data.batch_size), len(train_set)))]
    images = torch.stack([image for image, _ in items])
    mean, std = backbone.encode_images(images)
    return mean, std, [caption for _, caption in items]


class Stepper:
    """One training step of a task: loss terms, backward, gradient clipping, AdamW, zero_grad."""

    def __init__(self, task: TextToImageTask, batch: tuple, clip: float):
        self.task, self.batch, self.clip = task, batch, clip
        self.trainable = [p for p in task.parameters() if p.requires_grad]
        self.optimizer = build_model_optimizer(task, task.optimizer_cfg)

    def loss(self) -> torch.Tensor:
        latents, captions = self.task.sample_latents(self.batch)
        return sum(self.task.denoising_losses(latents, captions).values())

    def __call__(self) -> None:
        self.loss().backward()
        torch.nn.utils.clip_grad_norm_(self.trainable, self.clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)


def held_tensors(task: TextToImageTask) -> list[torch.Tensor]:
    frozen = task.__dict__.get("frozen_unet")
    modules = [task] + ([frozen] if frozen is not None else [])
    return [t for m in modules for t in (*m.parameters(), *m.buffers())]


def step_memory(stepper: Stepper, device: torch.device) -> dict[str, int]:
    """Bytes one step needs (see the module docstring): ``total``, and on CPU its parts."""
    if device.type == "cuda":
        stepper()
        stepper()
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        stepper()
        torch.cuda.synchronize(device)
        return {"total": torch.cuda.max_memory_allocated(device)}
    with saved_for_backward() as store:
        stepper.loss()  # the graph, and what it saved, is dropped on return
    saved = dict(store)
    held: dict = {}
    add_storages(held, iter(held_tensors(stepper.task)))
    saved_only = sum(v for k, v in saved.items() if k not in held)  # a saved weight counts with the weights
    trainable = sum(p.numel() * p.element_size() for p in stepper.trainable)
    weights = sum(held.values())
    return {"saved_for_backward": saved_only, "weights": weights, "grads_and_adamw": 3 * trainable,
            "total": saved_only + weights + 3 * trainable}


def to_device(task: TextToImageTask, batch: tuple, device: torch.device) -> tuple:
    task.to(device)
    frozen = task.__dict__.get("frozen_unet")
    if frozen is not None:
        frozen.to(device)
    return tuple(x.to(device) if isinstance(x, torch.Tensor) else x for x in batch)


def perturb_lora(tasks: dict[str, TextToImageTask]) -> None:
    """The same non-zero ``lora_B`` in every task (B = 0 at init would make every CAT term 0, and the agreement check
    below trivial); the timings do not depend on the values."""
    for task in tasks.values():
        gen = torch.Generator().manual_seed(SEED)
        with torch.no_grad():
            for name, p in task.named_parameters():
                if "lora_B" in name:
                    p.copy_(torch.randn(p.shape, generator=gen) * 0.02)


def cat_agreement(tasks: dict[str, TextToImageTask], batch: tuple) -> dict[str, float]:
    """The two CAT designs' loss terms from the same RNG state, and their largest difference."""
    terms = {}
    for name in ("cat (ours)", "cat (two UNets)"):
        torch.manual_seed(SEED + 1)
        task = tasks[name]
        with torch.no_grad():
            latents, captions = task.sample_latents(batch)
            terms[name] = {k: v.item() for k, v in task.denoising_losses(latents, captions).items()}
    gap = max(abs(terms["cat (ours)"][k] - terms["cat (two UNets)"][k]) for k in terms["cat (ours)"])
    return {"terms": terms, "max_abs_difference": gap}


def markdown(result: dict[str, Any]) -> str:
    times, memory = result["step_seconds"], result["memory_bytes"]
    cpu = result["device"] == "cpu"
    lines = ["| method | UNet copies | UNet forwards per step (with gradient) | step time / LoRA | memory / LoRA |"
             + (" saved for backward (MiB) | weights (MiB) | total (MiB) |" if cpu else " peak (MiB) |"),
             "|---|---:|---:|---:|---:|" + ("---:|---:|---:|" if cpu else "---:|")]
    shape = {"lora": ("1", "1 (1)"), "cat (ours)": ("1", "3 (2)"), "cat (two UNets)": ("2", "3 (2)")}
    for name in METHODS:
        median, q1, q3 = ratio_stats(times[name], times["lora"])
        mem = memory[name]
        cells = [name, *shape[name], f"{median:.2f} ({q1:.2f}–{q3:.2f})",
                 f"{mem['total'] / memory['lora']['total']:.2f}"]
        if cpu:
            cells += [f"{mem[k] / MIB:.1f}" for k in ("saved_for_backward", "weights", "total")]
        else:
            cells.append(f"{mem['total'] / MIB:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    r = result
    lines += ["", f"`{r['model']}`, batch {r['batch']}, {r['device']}, {r['threads']} torch thread(s); median "
              f"(interquartile range) of {r['rounds']} per-round ratios, methods interleaved after {WARMUP_ROUNDS} "
              f"warm-up rounds. Plain LoRA for scale: median step {median_ms(times['lora']):.1f} ms, "
              f"{r['trainable']:,} trainable parameters. Memory: "
              + ("bytes saved for backward + parameters and buffers held (deduplicated by storage) + gradients "
                 "and AdamW state, counted exactly." if cpu else "`torch.cuda.max_memory_allocated` over one step.")
              + f" With the same non-zero LoRA weights and RNG state, the CAT term is "
              f"{r['cat_agreement']['terms']['cat (ours)']['cat']:.3e} (ours) and "
              f"{r['cat_agreement']['terms']['cat (two UNets)']['cat']:.3e} (two UNets); the largest difference "
              f"of any loss term is {r['cat_agreement']['max_abs_difference']:.1e}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/dreambooth/lora_sd_tiny_shapes_subject.py")
    parser.add_argument("--rounds", type=int, default=30, help="timed rounds (one step of each method per round)")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out-dir", type=Path, default=ROOT / "benchmarks" / "results" / "cat_cost")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    cfg = load_config(ROOT / args.config if not Path(args.config).is_absolute() else args.config)
    clip = float(to_plain(cfg.trainer).get("gradient_clip_val") or 0.0) or float("inf")
    start = time.time()

    tasks = {name: build(name, cfg) for name in METHODS}
    batch = make_batch(cfg, tasks["lora"].backbone)
    perturb_lora(tasks)
    agreement = cat_agreement(tasks, batch)

    memory = {}
    for name, task in tasks.items():  # one at a time on the device, so a CUDA peak holds no other model
        memory[name] = step_memory(Stepper(task, to_device(task, batch, device), clip), device)
        to_device(task, batch, torch.device("cpu"))
        if device.type == "cuda":
            torch.cuda.empty_cache()

    steppers: dict[str, Callable[[], None]] = {}
    for name, task in tasks.items():
        steppers[name] = Stepper(task, to_device(task, batch, device), clip)
    interleave(steppers, WARMUP_ROUNDS, device)
    times = interleave(steppers, args.rounds, device)

    result = dict(**provenance("cat_cost.py", argv, start), config=args.config,
                  model=to_plain(cfg.backbone).get("pretrained"), batch=len(batch[2]),
                  captions=batch[2], device=args.device, threads=args.threads, rounds=args.rounds, seed=SEED,
                  trainable=count_parameters(tasks["lora"].adapted_model)["trainable"], cat_agreement=agreement,
                  step_seconds=times, memory_bytes=memory,
                  ratios={name: dict(zip(("median", "q1", "q3"), ratio_stats(times[name], times["lora"])))
                          for name in METHODS})
    write_results(args.out_dir, result, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
