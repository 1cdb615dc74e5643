"""Train / test entry points behind ``tools/train.py`` and ``tools/test.py``."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Sequence

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint
from mmengine.config import Config

from visadapt import atomic
from visadapt.adapters import load_adapter
from visadapt.backbones.weights import load_state_dict, load_torch_file
from visadapt.config import to_plain
from visadapt.runner.build import build_datamodule, build_task, data_facts, trainer_kwargs
from visadapt.runner.callbacks import AdapterExport, FlushLogsOnCheckpoint, RNGStateCallback
from visadapt.runner.loggers import run_loggers
from visadapt.runner.progress import progress_callbacks
from visadapt.data.fewshot import FewShotDataset
from visadapt.registry import check_kwargs
from visadapt.segmentation.overlay import save_overlays
from visadapt.runner.workdir import (LAST_CHECKPOINT, RUN_DIR_ENV, is_launched_worker, outermost_new,
                                     removed_on_error, resolve_run)


FEW_SHOT_SPLIT = "few_shot_split.json"


def train(cfg: Config, work_root: Path, resume: str | None = None, callbacks: Sequence[L.Callback] = ()) -> dict[str, Any]:
    """Fit, validate and test one config; returns (and writes to ``results.json``) the final metrics. ``callbacks``
    join the run's own (a caller's progress report, say)."""
    new_root = outermost_new(Path(work_root))
    run_dir, ckpt_path = resolve_run(Path(work_root), resume)
    continued = ckpt_path is not None and ckpt_path.parent.parent == run_dir  # else the run directory is new
    created = None if continued or is_launched_worker() else new_root or run_dir
    os.environ[RUN_DIR_ENV] = str(run_dir)
    seed = int(cfg.get("seed", 0))
    L.seed_everything(seed, workers=True, verbose=False)
    # Until training starts, a failure (a bad value in the config) takes the new run directory with it.
    with removed_on_error(created):
        if not is_launched_worker():
            atomic.write_text(run_dir / "config.py", cfg.pretty_text)

        datamodule = build_datamodule(cfg)
        shots = getattr(datamodule.train_set, "shots", None)
        if isinstance(datamodule.train_set, FewShotDataset) and not is_launched_worker():
            # The exact support set, so that the run can be repeated (data.train.split_file=...) or compared.
            datamodule.train_set.save(run_dir / FEW_SHOT_SPLIT, source=to_plain(cfg.data.train.dataset))
        task = build_task(cfg, data_facts(datamodule))
        ckpt_dir = run_dir / "checkpoints"
        # One callback keeps last.ckpt current (what --resume continues): every epoch, or every
        # checkpoint.every_n_train_steps steps for few-shot runs whose epochs are a single step; another keeps the
        # best on val.
        ckpt_cfg = to_plain(cfg.get("checkpoint", {}))
        monitor, mode = task.monitor
        check_kwargs(lambda monitor=monitor, mode=mode, every_n_train_steps=None: None, ckpt_cfg, where="checkpoint")
        every = ckpt_cfg.get("every_n_train_steps")
        checkpoints = [ModelCheckpoint(dirpath=ckpt_dir, filename=LAST_CHECKPOINT[:-5], monitor=None, save_top_k=1,
                                       enable_version_counter=False, every_n_train_steps=every,
                                       every_n_epochs=None if every else 1)]
        if datamodule.val_set is not None:
            checkpoints.append(ModelCheckpoint(dirpath=ckpt_dir, filename="best",
                                               monitor=ckpt_cfg.get("monitor", monitor), mode=ckpt_cfg.get("mode", mode),
                                               save_top_k=1, enable_version_counter=False))
        metadata = {
            "backbone": to_plain(cfg.backbone),
            "num_classes": datamodule.num_classes,
            "class_names": datamodule.class_names,
            "seed": seed,
        }
        fit_kwargs = trainer_kwargs(cfg, shots)
        trainer = L.Trainer(
            default_root_dir=run_dir,
            logger=run_loggers(run_dir, resume_step(ckpt_path)),
            callbacks=[*checkpoints, RNGStateCallback(), FlushLogsOnCheckpoint(),
                       AdapterExport(run_dir / "adapter", metadata), *progress_callbacks(fit_kwargs),
                       *callbacks],
            **fit_kwargs,
        )
    start = time.perf_counter()
    # The task's own stage before fitting (a feature cache, a search); val / test stay on the original data.
    fit_data = task.prepare_fit(datamodule, run_dir)
    trainer.fit(task, datamodule=fit_data, ckpt_path=ckpt_path, weights_only=True)
    fit_seconds = time.perf_counter() - start
    metrics = test_metrics(trainer, task, datamodule) if datamodule.test_set is not None else {}
    results = {
        "config": Path(cfg.filename).stem if cfg.filename else None,
        "run_dir": str(run_dir),
        "seed": seed,
        "epochs": trainer.current_epoch,
        "resumed_from": str(ckpt_path) if ckpt_path else None,
        "fit_seconds": round(fit_seconds, 2),
        "parameters": task.parameter_counts(),
        "metrics": metrics,
    }
    if trainer.is_global_zero:
        atomic.write_text(run_dir / "results.json", json.dumps(results, indent=2))
        print_table(results)
    return results


def resume_step(ckpt_path: Path | None) -> int | None:
    """The logging step a resumed run continues from: rows and events logged after it are logged again."""
    if ckpt_path is None:
        return None
    state = load_torch_file(ckpt_path)
    try:
        return int(state["loops"]["fit_loop"]["epoch_loop.state_dict"]["_batches_that_stepped"])
    except (KeyError, TypeError):
        raise ValueError(f"{ckpt_path}: not a Lightning training checkpoint (no loop state to resume)") from None


def test_metrics(trainer: L.Trainer, task: L.LightningModule, datamodule: Any) -> dict[str, float]:
    """Test the in-memory model (the last iterate: the protocol never selects on test)."""
    out = trainer.test(task, datamodule=datamodule, verbose=False)
    return {k: round(float(v), 6) for k, v in (out[0] if out else {}).items()}


def evaluate(cfg: Config, weights: str | Path, overlays: int = 0, out_dir: str | Path | None = None) -> dict[str, Any]:
    """Test a trained model from a Lightning checkpoint or an adapter export directory. Segmentation tasks also
    draw ``overlays`` PNGs (image | ground truth | prediction) of the first test images into ``out_dir``
    (default: ``overlays/`` in the run directory the weights come from)."""
    L.seed_everything(int(cfg.get("seed", 0)), verbose=False)
    datamodule = build_datamodule(cfg)
    shots = getattr(datamodule.train_set, "shots", None)
    task = build_task(cfg, data_facts(datamodule))
    weights = Path(weights)
    if weights.is_dir():
        load_adapter(task.adapted_model, weights)
    elif weights.is_file():
        task.load_adapter_checkpoint(load_state_dict(weights), source=str(weights))
    else:
        raise FileNotFoundError(f"no checkpoint file or adapter directory at {weights}")
    trainer = L.Trainer(logger=False, enable_checkpointing=False, **{
        k: v for k, v in trainer_kwargs(cfg, shots).items() if k in ("accelerator", "devices", "precision")
    })
    results = {"weights": str(weights), "parameters": task.parameter_counts(),
               "metrics": test_metrics(trainer, task, datamodule)}
    if overlays and hasattr(task, "predict_masks"):
        directory = Path(out_dir) if out_dir else run_directory_of(weights) / "overlays"
        paths = save_overlays(task, datamodule.test_dataloader(), directory, overlays)
        results["overlays"] = str(directory)
        print(f"wrote {len(paths)} overlays (image | ground truth | prediction) to {directory}")
    print_table(results)
    return results


def run_directory_of(weights: Path) -> Path:
    """The run directory holding ``weights`` (``<run>/adapter`` or ``<run>/checkpoints/*.ckpt``), else its folder."""
    folder = weights if weights.is_dir() else weights.parent
    return folder.parent if folder.name in ("adapter", "checkpoints") else folder


def print_table(results: dict[str, Any]) -> None:
    rows = [(k, f"{v:.4f}" if isinstance(v, float) else str(v)) for k, v in results["metrics"].items()]
    params = results["parameters"]
    rows += [("trainable params", f"{params['trainable']:,}"), ("total params", f"{params['total']:,}"),
             ("trainable share", f"{100 * params['trainable'] / max(1, params['total']):.2f}%")]
    rows += [(k, str(results[k])) for k in ("seed", "epochs", "fit_seconds", "run_dir") if k in results]
    width = max(len(r[0]) for r in rows)
    line = "-" * (width + 3 + max(len(r[1]) for r in rows))
    print("\n" + line)
    for name, value in rows:
        print(f"{name:<{width}} | {value}")
    print(line)

