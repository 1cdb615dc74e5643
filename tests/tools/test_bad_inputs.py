"""Every tool fed a table of bad inputs: one ``error: ...`` line on stderr naming what is wrong, no traceback,
exit code 1. Each tool runs its cases through its ``main(argv)`` in a fresh process of its own (a process per case
would spend minutes importing the same modules again)."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest
import torch

from tests.runner.helpers import ROOT, TINY, tiny_base_weights
from tests.tta.test_tta_tool import write_config

DRIVER = """
import contextlib, importlib, io, json, sys, traceback
sys.path.insert(0, sys.argv[1])
table = sys.argv[3]
module = importlib.import_module("tools." + sys.argv[2])
sys.argv = [f"tools/{sys.argv[2]}.py"]  # what argparse names the program
results = []
for argv in json.loads(table):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = module.main(argv)
        except SystemExit as exit:
            code = exit.code
        except BaseException:
            traceback.print_exc()
            code = "raised"
    results.append({"code": code, "stderr": err.getvalue()})
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Bad files of every kind next to one good tiny weights file."""
    d = tmp_path_factory.mktemp("bad")
    paths = {"weights": tiny_base_weights(d), "dir": d}
    torch.save({"state_dict": {"w": torch.ones(1)}, "hparams": argparse.Namespace(lr=1)}, d / "pickle.ckpt")
    torch.save({"model": argparse.Namespace(lr=1)}, d / "pickle.pth")
    (d / "garbage.ckpt").write_bytes(b"\x80\x02not a checkpoint at all")
    (d / "empty.safetensors").write_bytes(b"")
    (d / "blocker").write_text("a file where a folder should be")
    (d / "syntax.py").write_text("backbone = dict(\n")
    (d / "no_config").mkdir()
    (d / "bad_json").mkdir()
    (d / "bad_json" / "adapter_config.json").write_text("{not json")
    (d / "no_backbone").mkdir()
    (d / "no_backbone" / "adapter_config.json").write_text(json.dumps({"adapters": []}))
    # The TTA source must have the stream's 8 classes (a mismatch is itself a refused input).
    from visadapt.backbones import TimmBackbone

    torch.manual_seed(0)
    source = TimmBackbone("vit_tiny_patch16_224", num_classes=8, img_size=16, patch_size=4, depth=2, embed_dim=24,
                          num_heads=2).save_pretrained(d / "tiny_src.safetensors")
    paths["tta"] = write_config(d, source)
    return paths


def cases():
    """(tool, arguments with {placeholders} of the ``files`` fixture, text the error line must contain)."""
    pretrained = "--cfg-options backbone.pretrained={weights}"
    resume = f"--work-dir {{dir}}/runs {pretrained}"  # a checkpoint outside a run directory starts a new run there
    return [
        ("train", "{dir}/nope.py", "config file not found: {dir}/nope.py"),
        ("train", "{dir}/syntax.py", "syntax.py: cannot be loaded as a config"),
        ("train", f"{TINY} --cfg-options optimiser.lr=1", "unknown top-level key 'optimiser'"),
        ("train", f"{TINY} --cfg-options trainer.max_epochs", "--cfg-options: expected key=value"),
        ("train", f"{TINY} --seed one", "argument --seed: invalid int value: 'one'"),
        ("train", f"{TINY} --resume {{dir}}/none.ckpt", "--resume: checkpoint not found: {dir}/none.ckpt"),
        ("train", f"{TINY} --resume {{dir}}/pickle.ckpt {resume}",
         "pickle.ckpt: holds arbitrary Python objects (argparse.Namespace), which visadapt will not execute"),
        ("train", f"{TINY} --resume {{dir}}/garbage.ckpt {resume}", "garbage.ckpt: not a torch checkpoint"),
        ("train", f"{TINY} --cfg-options backbone.pretrained=nope.safetensors",
         "pretrained weights 'nope.safetensors' not found"),
        ("train", f"{TINY} --cfg-options backbone.pretrained={{dir}}/pickle.pth",
         "pickle.pth: holds arbitrary Python objects (argparse.Namespace)"),
        ("train", f"{TINY} --cfg-options backbone.pretrained={{dir}}/empty.safetensors",
         "empty.safetensors: not a readable safetensors file"),
        ("train", f"{TINY} --cfg-options adapter.type=lorra", "ADAPTERS: unknown type 'lorra'"),
        ("train", f"{TINY} --work-dir {{dir}}/blocker/runs", "cannot create the run directory '{dir}/blocker/runs/"),
        ("test", f"{TINY} {{dir}}/none.ckpt", "no checkpoint file or adapter directory at {dir}/none.ckpt"),
        ("test", f"{TINY} {{dir}}/garbage.ckpt {pretrained}", "garbage.ckpt: not a torch checkpoint"),
        ("test", f"{TINY} {{dir}}/pickle.ckpt {pretrained}",
         "pickle.ckpt: holds arbitrary Python objects (argparse.Namespace)"),
        ("test", f"{TINY} {{dir}}/empty.safetensors {pretrained}", "empty.safetensors: not a readable safetensors"),
        ("test", f"{TINY} {{dir}}/no_config {pretrained}", "no adapter config at {dir}/no_config/adapter_config.json"),
        ("test", f"{TINY} {{dir}} --overlays many", "argument --overlays: invalid int value: 'many'"),
        ("tta", "{tta} --cfg-options stream.severities=7", "'severities' must be a non-empty list of ints in 1..5"),
        ("tta", "{tta} --cfg-options stream.domains=fgo", "unknown domain(s) 'fgo'"),
        ("tta", "{tta} --cfg-options method.type=tnet", "TTA_METHODS: unknown type 'tnet'"),
        ("tta", "{tta} --cfg-options device=tpu", "device:"),
        ("tta", "{tta} --work-dir {dir}/blocker/runs", "cannot create the run directory '{dir}/blocker/runs/"),
        ("tta", "{tta} --work-dir {dir} --resume {dir}/no_config", "--resume {dir}/no_config: no progress.pt there"),
        ("tta", "{dir}/nope.py", "config file not found"),
        ("merge_adapter", "{dir}/none --out {dir}/m.safetensors", "adapter directory not found: {dir}/none"),
        ("merge_adapter", "{dir}/no_config --out {dir}/m.safetensors", "no adapter config at"),
        ("merge_adapter", "{dir}/bad_json --out {dir}/m.safetensors", "adapter_config.json: not valid JSON"),
        ("merge_adapter", "{dir}/no_backbone --out {dir}/m.safetensors",
         "{dir}/no_backbone: adapter_config.json has no 'backbone' entry"),
        ("merge_adapter", "{dir}/no_backbone --out {dir}/m.txt", "--out {dir}/m.txt: expected a .safetensors file"),
        ("merge_adapter", "{dir}/no_backbone", "the following arguments are required: --out"),
        ("zero_shot", "--pretrained {dir}/nothing", "{dir}/nothing"),
        ("zero_shot", "--pretrained clip_tiny_shapes --tasks colour", "unknown task 'colour'"),
        ("zero_shot", "--pretrained clip_tiny_shapes --split tset", "unknown split 'tset'"),
        ("zero_shot", "--pretrained clip_tiny_shapes --batch-size 0", "--batch-size must be >= 1, got 0"),
        ("zero_shot", "--pretrained clip_tiny_shapes --templates photo", "each template needs a '{{}}'"),
        ("zero_shot", "", "the following arguments are required: --pretrained"),
    ]


CASES = cases()


@pytest.fixture(scope="module")
def outcomes(files):
    """``{(tool, arguments): {"code": exit code, "stderr": text}}`` for every case."""
    fill = {k: str(v) for k, v in files.items()}
    found = {}
    for name in dict.fromkeys(c[0] for c in CASES):
        table = [c[1] for c in CASES if c[0] == name]
        argvs = [[a.format(**fill) for a in arguments.split()] for arguments in table]
        run = subprocess.run([sys.executable, "-c", DRIVER, str(ROOT), name, json.dumps(argvs)], cwd=ROOT,
                             capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stderr[-3000:]
        found.update({(name, arguments): out for arguments, out in zip(table, json.loads(run.stdout))})
    return found


@pytest.mark.slow
@pytest.mark.parametrize("name, arguments, expected", CASES, ids=lambda x: x if isinstance(x, str) else None)
def test_bad_input_is_one_error_line(files, outcomes, name, arguments, expected):
    out = outcomes[(name, arguments)]
    lines = out["stderr"].strip().splitlines()
    assert out["code"] == 1 and "Traceback" not in out["stderr"] and len(lines) == 1, out["stderr"][-2000:]
    assert not (files["dir"] / "runs").exists()  # a run that could not start leaves no folder
    fill = {k: str(v) for k, v in files.items()}
    assert lines[0].startswith("error: ") and lines[0][len("error: ")] not in "'\"", lines[0]  # no stray quotes
    assert expected.format(**fill) in lines[0], lines[0]
