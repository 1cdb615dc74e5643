"""Training shows its progress in a file (plain lines) and on a terminal (a bar that knows step-bounded runs)."""
from __future__ import annotations

import lightning as L
from lightning.pytorch.callbacks import RichProgressBar
from lightning.pytorch.demos.boring_classes import BoringModel

from tests.runner.helpers import TINY, tool
from visadapt.runner.progress import LINES_PER_RUN, PlainProgress, StepAwareRichProgressBar


def test_training_to_a_file_prints_a_line_per_epoch(tmp_path):
    result = tool("train", TINY, "--work-dir", tmp_path, "--cfg-options", "trainer.enable_progress_bar=True")
    lines = [line for line in result.stdout.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in lines] == ["1/2", "2/2"]
    assert all("train/loss" in line and "val/acc" in line for line in lines)


def test_step_bounded_run_prints_lines_every_few_steps(capsys):
    trainer = L.Trainer(max_steps=40, max_epochs=-1, callbacks=[PlainProgress()], logger=False,
                        enable_checkpointing=False, enable_model_summary=False, limit_val_batches=0)
    trainer.fit(BoringModel())
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("step ")]
    assert len(lines) == LINES_PER_RUN and lines[-1].startswith("step 40/40 ")


def test_rich_bar_of_a_step_bounded_run_has_no_negative_epoch_count():
    trainer = L.Trainer(max_steps=1600, max_epochs=-1, logger=False)
    stock, ours = RichProgressBar(), StepAwareRichProgressBar()
    for bar in (stock, ours):
        bar.setup(trainer, BoringModel(), stage="fit")
    assert stock._get_train_description(1270).strip() == "Epoch 1270/-2"  # the upstream description
    assert ours._get_train_description(1270) == "Epoch 1270 (max_steps 1600)"


def test_the_bar_on_a_terminal_and_lines_elsewhere(monkeypatch):
    import sys

    from visadapt.runner.progress import progress_callbacks

    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    assert [type(c) for c in progress_callbacks({})] == [StepAwareRichProgressBar]
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False, raising=False)
    assert [type(c) for c in progress_callbacks({})] == [PlainProgress]
    assert progress_callbacks({"enable_progress_bar": False}) == []
