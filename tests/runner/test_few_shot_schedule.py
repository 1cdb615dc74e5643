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


def test_tasks_get_class_names_shots_and_dataset_templates_they_declare():
    from visadapt.registry import accepted_arguments
    from visadapt.runner.build import data_facts
    from visadapt.tasks import ClassificationTask, ProLIPTask, SegmentationTask

    class Data:
        num_classes = 2

        class train_set:
            class_names, shots, templates = ["a", "b"], 4, ["{} texture."]

    assert data_facts(Data()) == dict(num_classes=2, class_names=["a", "b"], shots=4, templates=["{} texture."])
    accepted, open_ended = accepted_arguments(ProLIPTask)
    assert {"class_names", "shots", "templates", "reg_lambda"} <= set(accepted) and not open_ended  # via **kwargs
    assert set(ProLIPTask.data_inputs) <= set(accepted)
    assert ClassificationTask.data_inputs == ("num_classes",) == SegmentationTask.data_inputs
    # Only a classifier asks its backbone for a head; SAM and CLIP are built without num_classes.
    assert ClassificationTask.backbone_inputs({"num_classes": 3}) == {"num_classes": 3}
    assert SegmentationTask.backbone_inputs({"num_classes": 3}) == ProLIPTask.backbone_inputs({"num_classes": 3}) == {}
