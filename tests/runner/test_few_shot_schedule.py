"""Few-shot recipes give their training length as a function of K; the runner turns it into Trainer arguments."""
from __future__ import annotations

import pytest
from mmengine.config import Config

from visadapt.registry import ConfigError
from visadapt.runner.build import trainer_kwargs


def test_steps_per_shot_and_epochs_by_shots():
    lora = Config(dict(trainer=dict(devices=1), few_shot_schedule=dict(max_steps_per_shot=500)))
    assert trainer_kwargs(lora, shots=16) == dict(devices=1, max_steps=8000, max_epochs=-1)  # CLIP-LoRA: 500 x K
    coop = Config(dict(few_shot_schedule=dict(max_epochs={1: 50, 2: 100, 4: 100, 8: 200, 16: 200})))
    assert trainer_kwargs(coop, shots=2) == dict(max_epochs=100)
    with pytest.raises(ConfigError, match="no entry for 3 shots"):
        trainer_kwargs(coop, shots=3)
    with pytest.raises(ConfigError, match="needs a few-shot training set"):
        trainer_kwargs(lora)
    with pytest.raises(ConfigError, match="exactly one of"):
        trainer_kwargs(Config(dict(few_shot_schedule=dict(max_steps=3))), shots=1)


def test_tasks_get_class_names_shots_and_dataset_templates_they_accept():
    from visadapt.runner.build import data_inputs, init_arguments
    from visadapt.tasks import ClassificationTask, ProLIPTask

    class Data:
        class_names, shots, templates = ["a", "b"], 4, ["{} texture."]

    assert data_inputs(Data()) == dict(class_names=["a", "b"], shots=4, templates=["{} texture."])
    assert {"class_names", "shots", "templates", "reg_lambda"} <= init_arguments(ProLIPTask)  # through **kwargs
    assert not {"class_names", "shots", "templates"} & init_arguments(ClassificationTask)
