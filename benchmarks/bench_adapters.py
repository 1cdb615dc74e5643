"""What each adaptation method costs to train, relative to full fine-tuning, and what a merged LoRA costs to run.

    PYTHONPATH=. python benchmarks/bench_adapters.py [--model tiny|small|base] [--batch N] [--steps N]
                                                     [--forwards N] [--device cpu|cuda] [--out FILE.md]

Prints two Markdown tables. Every number is a ratio between models run side by side in one process (see
``_measure.py``), so background load on the machine shifts all of them alike; absolute full fine-tuning figures are
printed once for scale. See benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import copy
import random
import shlex
import sys
from dataclasses import dataclass
from typing import Callable

import numpy as np
import timm
import torch
import torch.nn.functional as F

from _measure import add_storages, interleave, median_ms, ratio_stats, saved_for_backward
from visadapt import adapters as A
from visadapt.backbones import TimmBackbone
from visadapt.optim import param_groups

SEED = 0
NUM_CLASSES = 10
WARMUP_STEPS = 2
WEIGHT_DECAY = 0.05
MIB = 2 ** 20


@dataclass(frozen=True)
class Preset:
    arch: str
    model_kwargs: dict
    img_size: int
    batch: int


PRESETS = {
    "tiny": Preset("vit_tiny_patch16_224", dict(img_size=32, patch_size=4, embed_dim=96, depth=6, num_heads=3), 32, 64),
    "small": Preset("vit_small_patch16_224", dict(img_size=224), 224, 4),
    "base": Preset("vit_base_patch16_224", dict(img_size=224), 224, 2),
}

# Every PEFT method trains the new head too, as in the visual PEFT tables; full fine-tuning trains everything.
HEAD = dict(modules_to_save=["head"])
LORA = dict(type="lora", r=8, alpha=8, **HEAD)
METHODS = {
    "full": dict(type="full"),
    "linear_probe": dict(type="linear_probe", **HEAD),
    "bitfit": dict(type="bitfit", **HEAD),
    "lora r=8 (qkv)": LORA,
    "lora r=8 (q, v)": dict(LORA, qkv_slices=["q", "v"]),
    "houlsby (8)": dict(type="houlsby", hidden_dim=8, **HEAD),
    "pfeiffer (8)": dict(type="pfeiffer", hidden_dim=8, **HEAD),
    "adaptformer (8)": dict(type="adaptformer", hidden_dim=8, **HEAD),
    "ssf": dict(type="ssf", **HEAD),
    "vpt deep (10)": dict(type="vpt", num_tokens=10, deep=True, **HEAD),
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=sorted(PRESETS), default="tiny")
    parser.add_argument("--batch", type=int, help="default: 64 for tiny, 4 for small, 2 for base")
    parser.add_argument("--steps", type=int, default=20, help="timed training steps per method")
    parser.add_argument("--forwards", type=int, default=40, help="timed inference forward passes per model")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", help="also write the tables to this Markdown file")
    return parser.parse_args(argv)


def seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build(preset: Preset, cfg: dict | None, device: torch.device) -> TimmBackbone:
    """Re-seeded before each build, so every method adapts the same random base weights."""
    seed_all(SEED)
    backbone = TimmBackbone(preset.arch, num_classes=NUM_CLASSES, **preset.model_kwargs)
    if cfg is not None:
        A.inject(backbone.model, cfg)
    return backbone.to(device)


def make_batch(preset: Preset, batch: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(SEED)
    images = torch.rand(batch, 3, preset.img_size, preset.img_size, generator=gen)
    labels = torch.randint(0, NUM_CLASSES, (batch,), generator=gen)
    return images.to(device), labels.to(device)


def make_optimizer(model: torch.nn.Module) -> torch.optim.Optimizer:
    return torch.optim.AdamW(param_groups(model.named_parameters(), WEIGHT_DECAY), lr=1e-4)


Objective = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (images, labels) -> training loss


def cross_entropy(model: torch.nn.Module) -> Objective:
    return lambda images, labels: F.cross_entropy(model(images), labels)


def train_step(model: torch.nn.Module, opt: torch.optim.Optimizer, images: torch.Tensor, labels: torch.Tensor,
               objective: Objective | None = None) -> None:
    (objective or cross_entropy(model))(images, labels).backward()
    opt.step()
    opt.zero_grad(set_to_none=True)


def trainable_bytes(model: torch.nn.Module) -> int:
    return sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)


def step_memory(model: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor], device: torch.device,
                objective: Objective | None = None) -> int:
    """Bytes one training step needs: the allocator's peak on CUDA, a deterministic account on CPU.

    ``objective`` is the method's training loss (default: cross-entropy of one forward pass)."""
    objective = objective or cross_entropy(model)
    if device.type == "cuda":
        opt = make_optimizer(model)
        train_step(model, opt, *batch, objective)  # allocates the AdamW state, which the measured step then holds
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        train_step(model, opt, *batch, objective)
        return torch.cuda.max_memory_allocated(device)
    images, labels = batch
    with saved_for_backward() as store:
        objective(images, labels)  # the graph, and what it saved, is dropped on return
    add_storages(store, model.parameters())  # frozen weights count once even when saved for backward
    return sum(store.values()) + 3 * trainable_bytes(model)  # + gradients + AdamW exp_avg and exp_avg_sq


def measure_memory(preset: Preset, batch: tuple, device: torch.device) -> dict[str, int]:
    """One method on the device at a time, so the CUDA peak holds no other method's tensors."""
    memory = {}
    for name, cfg in METHODS.items():
        model = build(preset, cfg, device).train()
        memory[name] = step_memory(model, batch, device)
        del model
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return memory


def measure_steps(preset: Preset, batch: tuple, steps: int, device: torch.device) -> tuple[dict, dict]:
    """Parameter counts and step times of all methods, trained round-robin after a warm-up."""
    counts, fns = {}, {}
    for name, cfg in METHODS.items():
        model = build(preset, cfg, device).train()
        counts[name] = A.count_parameters(model.model)
        fns[name] = _step_fn(model, make_optimizer(model), batch)
    interleave(fns, WARMUP_STEPS, device)
    return counts, interleave(fns, steps, device)


def _step_fn(model: torch.nn.Module, opt: torch.optim.Optimizer, batch: tuple,
             objective: Objective | None = None) -> Callable[[], None]:
    """A closure per model: a lambda written inside the loop would see only the last model."""
    return lambda: train_step(model, opt, *batch, objective)


def lora_models(preset: Preset, device: torch.device) -> dict[str, torch.nn.Module]:
    """Base, LoRA and the same LoRA merged; B is made non-zero so that the merge really changes the weights."""
    base = build(preset, None, device)
    lora = build(preset, LORA, device)
    with torch.no_grad():
        for name, p in lora.named_parameters():
            if "lora_B" in name:
                p.normal_(std=0.02)
    merged = copy.deepcopy(lora)
    A.merge(merged.model)
    return {"base (no adapter)": base.eval(), "lora r=8 unmerged": lora.eval(), "lora r=8 merged": merged.eval()}


def measure_inference(preset: Preset, images: torch.Tensor, forwards: int, device: torch.device) -> tuple[dict, float]:
    """Forward times of the three models, interleaved, and how far the merged logits are from the unmerged."""
    models = lora_models(preset, device)
    fns = {name: _forward_fn(model, images) for name, model in models.items()}
    with torch.inference_mode():
        gap = (fns["lora r=8 merged"]() - fns["lora r=8 unmerged"]()).abs().max().item()
        interleave(fns, WARMUP_STEPS, device)
        return interleave(fns, forwards, device), gap


def _forward_fn(model: torch.nn.Module, images: torch.Tensor) -> Callable[[], torch.Tensor]:
    """A closure per model (see ``_step_fn``)."""
    return lambda: model(images)


def ratio_cell(times: list[float], reference: list[float]) -> str:
    median, q1, q3 = ratio_stats(times, reference)
    return f"{median:.2f} ({q1:.2f}–{q3:.2f})"


def training_table(counts: dict, times: dict, memory: dict, args: argparse.Namespace, device: torch.device) -> str:
    measure = (
        "peak `torch.cuda.max_memory_allocated` over one training step, each method alone on the GPU"
        if device.type == "cuda"
        else "bytes saved for backward (`saved_tensors_hooks`, deduplicated by storage) + parameters + gradients "
        "+ AdamW state (2 × trainable), counted exactly rather than sampled"
    )
    lines = [
        f"**Training step of each method vs full fine-tuning** — `{args.model}`, batch {args.batch}, {device.type}; "
        f"step = forward + backward + AdamW; median (interquartile range) of {args.steps} per-round ratios, methods "
        f"round-robin after {WARMUP_STEPS} warm-up steps. Trainable % is of all parameters of the adapted model. "
        f"Memory: {measure}.",
        "",
        "| method | trainable params | trainable % | step time / full | memory / full |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in METHODS:
        trainable, total = counts[name]["trainable"], counts[name]["total"]
        lines.append(
            f"| {name} | {trainable:,} | {100 * trainable / total:.3g}% | {ratio_cell(times[name], times['full'])} "
            f"| {memory[name] / memory['full']:.2f} |"
        )
    lines += ["", f"Full fine-tuning for scale: median step {median_ms(times['full']):.1f} ms, "
                  f"memory {memory['full'] / MIB:.1f} MiB, {counts['full']['total']:,} parameters."]
    return "\n".join(lines)


def inference_table(times: dict, gap: float, args: argparse.Namespace, device: torch.device) -> str:
    base, unmerged = times["base (no adapter)"], times["lora r=8 unmerged"]
    lines = [
        f"**Inference of a merged LoRA vs the base model and the unmerged LoRA** — `{args.model}`, batch {args.batch}, "
        f"{device.type}, eval mode under `torch.inference_mode()`; median (interquartile range) of {args.forwards} "
        f"per-round ratios, models interleaved. Max |logit difference| merged vs unmerged: {gap:.1e}.",
        "",
        "| model | median forward (ms) | time / base | time / unmerged LoRA |",
        "|---|---:|---:|---:|",
    ]
    for name, t in times.items():
        lines.append(f"| {name} | {median_ms(t):.1f} | {ratio_cell(t, base)} | {ratio_cell(t, unmerged)} |")
    return "\n".join(lines)


def header(argv: list[str], device: torch.device) -> str:
    command = shlex.join(["python", "benchmarks/bench_adapters.py", *argv])
    return (f"`{command}` — torch {torch.__version__}, timm {timm.__version__}, "
            f"{torch.get_num_threads()} CPU threads, device {device.type}")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    preset = PRESETS[args.model]
    args.batch = args.batch or preset.batch
    device = torch.device(args.device)
    batch = make_batch(preset, args.batch, device)
    memory = measure_memory(preset, batch, device)
    counts, times = measure_steps(preset, batch, args.steps, device)
    infer_times, gap = measure_inference(preset, batch[0], args.forwards, device)
    report = "\n\n".join([header(argv, device), training_table(counts, times, memory, args, device),
                          inference_table(infer_times, gap, args, device)]) + "\n"
    print(report)
    if args.out:
        with open(args.out, "w") as f:
            f.write(report)


if __name__ == "__main__":
    main()
