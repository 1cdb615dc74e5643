"""Bad configs fail early with a message naming the key, value or file."""
from __future__ import annotations

import pytest

from tests.runner.helpers import TINY
from tools import train as train_tool
from visadapt.registry import ConfigError
from visadapt.runner import load_config
from visadapt.runner.build import build_datamodule, build_task, data_facts, trainer_kwargs
from visadapt.optim import build_model_optimizer


def _build(cfg):
    """Everything tools/train.py builds before the Trainer starts, optimizer included."""
    task = build_task(cfg, data_facts(build_datamodule(cfg)))
    return build_model_optimizer(task, cfg.optimizer.to_dict())


def test_unknown_top_level_key_suggests_the_right_one(tmp_path):
    bad = tmp_path / "typo.py"
    bad.write_text(f"_base_ = ['{TINY}']\noptimiser = dict(lr=1)\n")
    with pytest.raises(ConfigError, match=r"typo.py: unknown top-level key 'optimiser' \(did you mean 'optimizer'\?\)"):
        load_config(bad)


def test_missing_config_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.py"):
        load_config(tmp_path / "nope.py")


def test_syntax_error_names_the_file(tmp_path):
    bad = tmp_path / "broken.py"
    bad.write_text("backbone = dict(\n")
    with pytest.raises(ConfigError, match="broken.py"):
        load_config(bad)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"adapter.type": "lorra"}, r"unknown type 'lorra'.*Did you mean 'lora'"),
        ({"adapter.rank": 4}, r"ADAPTERS 'lora': unknown argument\(s\) 'rank'"),
        ({"adapter.target_modules": ["blocks.*.atn.qkv"]}, r"matches no module.*Near matches: blocks.0.attn.qkv"),
        ({"backbone.type": "TimBackbone"}, r"BACKBONES: unknown type 'TimBackbone'.*Did you mean 'TimmBackbone'"),
        ({"backbone.depht": 3}, r"bad architecture argument"),
        ({"backbone.pretrained": "/no/such/weights.safetensors"}, r"/no/such/weights.safetensors.*Model-zoo entries"),
        ({"data.train.task": "colour"}, r"data.train: ShapesDataset: unknown task 'colour'"),
        ({"data.train.type": "Shapes"}, r"data.train: DATASETS: unknown type 'Shapes'.*ShapesDataset"),
        ({"data.batchsize": 3}, r"data: unknown argument\(s\) 'batchsize' \(did you mean 'batch_size'\?\)"),
        ({"optimizer.type": "Adamw"}, r"optimizer.type 'Adamw' is not a torch.optim optimizer; valid: .*AdamW"),
        ({"optimizer.betas2": 0.9}, r"optimizer 'AdamW': unknown argument\(s\) 'betas2'"),
    ],
)
def test_bad_values_are_named(options, message):
    cfg = load_config(TINY, options)
    with pytest.raises(Exception, match=message):
        _build(cfg)


def test_unknown_trainer_argument_is_named():
    with pytest.raises(ConfigError, match=r"trainer: unknown argument\(s\) 'max_epoch' \(did you mean 'max_epochs'\?\)"):
        trainer_kwargs(load_config(TINY, {"trainer.max_epoch": 3}))


def test_tool_prints_one_line_error_and_exits_1(tmp_path, capsys):
    code = train_tool.main([str(TINY), "--work-dir", str(tmp_path), "--cfg-options", "adapter.type=lorra"])
    assert code == 1
    assert "error: ADAPTERS: unknown type 'lorra'" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # the run folder made for it is gone: nothing ran
