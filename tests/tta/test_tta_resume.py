"""A TTA stream stopped at a domain boundary and continued from its saved state ends exactly like an
uninterrupted one: in process for every method whose state is declared saveable, and through tools/tta.py with a
real SIGKILL."""
from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from tests.runner.helpers import ROOT, only_run, tool
from tests.tta.test_tta_tool import write_config
from visadapt.tta.config import build_from_config, load_tta_config
from visadapt.tta.evaluation import RESUMABLE_METHODS, load_method_state, method_state, run_stream

SMALL_STREAM = {"stream.domains": ["gaussian_noise", "fog", "contrast"], "stream.samples_per_domain": 8,
                "stream.batch_size": 4, "device": "cpu"}


class Stop(Exception):
    """Raised from the domain-end hook to stop a stream where a kill would."""


@pytest.mark.parametrize("name", RESUMABLE_METHODS)
def test_every_listed_method_resumes_exactly(name):
    path = ROOT / "configs" / "tta" / f"{name}_vit_tiny_shapes_c.py"
    cfg = load_tta_config(path, SMALL_STREAM | ({"method.n_augmentations": 2} if name in ("cotta", "vida") else {}))
    straight = run_stream(*build_from_config(cfg), progress=False)

    saved = {}

    def stop_after_first_domain(tally):
        buffer = io.BytesIO()
        torch.save({"tally": tally.state(), "method": method_state(method)}, buffer)
        saved["bytes"] = buffer.getvalue()
        raise Stop

    method, stream = build_from_config(cfg)
    with pytest.raises(Stop):
        run_stream(method, stream, progress=False, on_domain_end=stop_after_first_domain)
    state = torch.load(io.BytesIO(saved["bytes"]), weights_only=True)
    method, stream = build_from_config(cfg)  # a new process would build it again from the config
    load_method_state(method, state["method"])
    resumed = run_stream(method, stream, progress=False, start=state["tally"])
    assert resumed["errors"] == straight["errors"]
    assert [b["error"] for b in resumed["batches"]] == [b["error"] for b in straight["batches"]]
    assert resumed["num_resets"] == straight["num_resets"] and resumed["num_images"] == straight["num_images"]


DOMAINS = ["gaussian_noise", "shot_noise", "impulse_noise", "brightness", "contrast", "pixelate"]


@pytest.mark.slow
def test_tool_resumes_after_sigkill(tmp_path, weights):
    config = write_config(tmp_path, weights, extra="")
    options = ["--cfg-options", f"stream.domains={','.join(DOMAINS)}", "stream.samples_per_domain=192",
               "stream.batch_size=8", "--no-progress"]
    tool("tta", config, "--work-dir", tmp_path / "straight", *options)
    reference = json.loads((only_run(tmp_path / "straight") / "results.json").read_text())

    killed = tmp_path / "killed"
    cmd = [sys.executable, str(ROOT / "tools" / "tta.py"), str(config), "--work-dir", str(killed), *options]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"})
    partial, deadline = None, time.time() + 300
    while partial is None and time.time() < deadline and proc.poll() is None:
        for results in killed.glob("*/results.json"):
            try:
                text = json.loads(results.read_text())  # replaced atomically: always whole
            except FileNotFoundError:
                continue
            if 2 <= len(text["errors"]) < len(DOMAINS) and not text["complete"]:
                partial = text
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert partial is not None, "the run never wrote a partial result before finishing"
    run = only_run(killed)
    kept = json.loads((run / "results.json").read_text())
    assert not kept["complete"] and len(kept["errors"]) >= len(partial["errors"])  # what was measured is kept
    assert list(kept["errors"]) == DOMAINS[:len(kept["errors"])]

    tool("tta", config, "--work-dir", killed, "--resume", *options)
    assert only_run(killed) == run and not (run / "progress.pt").exists()
    resumed = json.loads((run / "results.json").read_text())
    assert resumed["complete"] and resumed["errors"] == reference["errors"]
    assert resumed["batches"] == reference["batches"]
    assert (run / "errors.png").is_file()


def test_resume_with_another_config_is_refused(tmp_path, weights):
    config = write_config(tmp_path, weights)
    work = tmp_path / "w"
    run = work / "20000101_000000"
    run.mkdir(parents=True)
    (run / "config.py").write_text("seed = 1\n")
    (run / "progress.pt").write_bytes(b"")
    result = tool("tta", config, "--work-dir", work, "--resume", check=False)
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "its config.py differs from" in result.stderr


def test_unusable_work_dir_fails_at_once(tmp_path, weights):
    config = write_config(tmp_path, weights)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    start = time.perf_counter()
    result = tool("tta", config, "--work-dir", blocker / "runs", check=False)
    assert result.returncode == 1 and result.stderr.startswith("error: cannot create the run directory")
    assert result.stderr.count("\n") == 1 and str(blocker) in result.stderr
    assert time.perf_counter() - start < 60


class Interrupted(BaseException):
    """Stands for a kill right after the first domain's progress was saved."""


def test_method_without_saveable_state_restarts_from_source_with_a_message(tmp_path, weights, monkeypatch, capsys):
    from tests.runner.helpers import tool_module
    from visadapt import atomic
    from visadapt.registry import TTA_METHODS
    from visadapt.tta.tent import Tent

    TTA_METHODS.register("unlisted")(type("Unlisted", (Tent,), {}))  # a method resume does not know
    try:
        tta_tool = tool_module("tta")
        config = write_config(tmp_path, weights, method='dict(type="unlisted")')
        argv = [str(config), "--work-dir", str(tmp_path / "w"), "--no-progress"]
        save = atomic.torch_save

        def save_then_stop(obj, path):
            save(obj, path)
            raise Interrupted

        monkeypatch.setattr(atomic, "torch_save", save_then_stop)
        with pytest.raises(Interrupted):
            tta_tool.main(argv)
        monkeypatch.setattr(atomic, "torch_save", save)
        run = only_run(tmp_path / "w")
        assert torch.load(run / "progress.pt", weights_only=True)["method"] is None
        assert tta_tool.main([*argv, "--resume"]) == 0
    finally:
        TTA_METHODS._entries.pop("unlisted")
    out = [line for line in capsys.readouterr().out.splitlines() if line.startswith("--resume")]
    assert out == ["--resume: the state of method 'unlisted' cannot be saved, so it starts again from the source "
                   "model after the last finished domain 'gaussian_noise'"]
    results = json.loads((run / "results.json").read_text())
    assert results["complete"] and list(results["errors"]) == ["gaussian_noise", "brightness"]
