"""The run's loggers: Lightning's CSV and TensorBoard loggers, set up so that a resumed run keeps its history.

Lightning's CSVLogger deletes ``metrics.csv`` when its directory exists ("previous log files ... will be
deleted"), so ``--resume auto`` would lose every epoch before the kill, and it rewrites the file in place when a
new column appears, so a kill during that rewrite loses it too. :class:`RunCSVLogger` keeps the rows logged
before the resumed checkpoint's step, drops the ones after it (the resumed run logs them again), and replaces
the file atomically on every save. TensorBoard does the same with its own ``purge_step``.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment

from visadapt import atomic


class HistoryKeepingWriter(ExperimentWriter):
    """An ``ExperimentWriter`` that continues an existing ``metrics.csv`` instead of deleting it."""

    def __init__(self, log_dir: str, resume_step: int | None):
        self.resume_step = resume_step
        super().__init__(log_dir)
        self.rows: list[dict[str, Any]] = []
        path = Path(self.metrics_file_path)
        if resume_step is not None and path.is_file():
            with open(path, newline="") as f:
                reader = csv.DictReader(f)
                self.metrics_keys = list(reader.fieldnames or [])
                self.rows = [row for row in reader if int(row["step"]) < resume_step]

    def _check_log_dir_exists(self) -> None:
        """Lightning deletes the old ``metrics.csv`` here; a fresh run has none, a resumed one keeps it."""

    def save(self) -> None:
        if not self.metrics:
            return
        self._record_new_keys()
        self.rows += self.metrics
        self.metrics = []
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=self.metrics_keys)
        writer.writeheader()
        writer.writerows(self.rows)
        atomic.write_text(self.metrics_file_path, text.getvalue())


class RunCSVLogger(CSVLogger):
    """``CSVLogger`` writing ``<run>/logs/metrics.csv``; with ``resume_step`` (the global step of the checkpoint
    a run resumes from) it keeps the earlier rows."""

    def __init__(self, run_dir: Path, resume_step: int | None = None):
        super().__init__(run_dir, name="", version="logs")
        self.resume_step = resume_step

    @property
    @rank_zero_experiment
    def experiment(self) -> HistoryKeepingWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = HistoryKeepingWriter(self.log_dir, self.resume_step)
        return self._experiment


def run_loggers(run_dir: Path, resume_step: int | None = None) -> list:
    """The CSV and TensorBoard loggers of a run directory; TensorBoard drops the events a resumed run logs again."""
    tb_kwargs = {} if resume_step is None else {"purge_step": resume_step}
    return [RunCSVLogger(run_dir, resume_step), TensorBoardLogger(run_dir, name="", version="tb", **tb_kwargs)]
