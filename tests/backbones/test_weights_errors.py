"""Weight files that cannot be used say so in one line naming the file; a refused pickle says how to convert it."""
from __future__ import annotations

import argparse
import re
import subprocess
import sys

import pytest
import torch

from visadapt.backbones.weights import load_state_dict, resolve_weights


def test_refused_pickle_names_the_file_and_its_conversion_works(tmp_path):
    path = tmp_path / "trusted.pth"
    torch.save({"state_dict": {"w": torch.arange(3.0)}, "args": argparse.Namespace(lr=1)}, path)
    with pytest.raises(ValueError) as info:
        load_state_dict(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path}: holds arbitrary Python objects (argparse.Namespace)")
    assert "which visadapt will not execute" in message
    command = re.search(r'python -c "(.+)"$', message).group(1)
    subprocess.run([sys.executable, "-c", command], check=True, cwd=tmp_path)  # what a user who trusts it runs
    assert torch.equal(load_state_dict(tmp_path / "trusted.safetensors")["w"], torch.arange(3.0))


def test_missing_file_message_does_not_double_the_suffix(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        resolve_weights("nope.safetensors")
    assert "nope.safetensors.safetensors" not in str(info.value) and "model-zoo entry" not in str(info.value)
    with pytest.raises(FileNotFoundError, match="and no model-zoo entry .*vit_tiny_shape.safetensors"):
        resolve_weights("vit_tiny_shape")  # a bare name may be a model-zoo entry: say which was looked for
