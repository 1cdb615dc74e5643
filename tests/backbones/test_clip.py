"""OpenCLIPBackbone on a tiny open_clip CLIP: zero-shot head maths, the local-dir format, loading rules."""
from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

open_clip = pytest.importorskip("open_clip")

from visadapt.backbones import OpenCLIPBackbone  # noqa: E402
from visadapt.registry import BACKBONES, ConfigError  # noqa: E402

TINY_CLIP = dict(
    embed_dim=16,
    quick_gelu=True,
    vision_cfg=dict(image_size=16, layers=1, width=32, head_width=16, patch_size=8),
    text_cfg=dict(context_length=12, vocab_size=49408, width=16, heads=2, layers=1),
)
CLASSES = ["circle", "square", "star"]
TEMPLATES = ["a {}.", "a photo of a {}."]


@pytest.fixture
def clip():
    torch.manual_seed(0)
    return OpenCLIPBackbone(model_cfg=TINY_CLIP, class_names=CLASSES, templates=TEMPLATES).eval()


@pytest.fixture
def images():
    return torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(1))


def test_zero_shot_head_is_the_template_ensemble(clip, images):
    per_prompt = clip.encode_text([t.format(c) for c in CLASSES for t in TEMPLATES]).view(3, 2, -1)
    expected = F.normalize(per_prompt.mean(1), dim=-1)  # mean of unit prompt embeddings, renormalised
    torch.testing.assert_close(clip.class_embeddings, expected)
    logits = clip(images)
    manual = clip.model.logit_scale.exp() * clip.encode_image(images) @ expected.t()
    assert logits.shape == (4, 3)
    torch.testing.assert_close(logits, manual)
    # the image path is open_clip's own encode_image on normalised pixels
    torch.testing.assert_close(clip.encode_image(images),
                               clip.model.encode_image((images - clip.mean) / clip.std, normalize=True))


def test_local_dir_export_loads_in_open_clip_and_back(clip, images, tmp_path, monkeypatch):
    folder = clip.save_pretrained(tmp_path / "tiny_clip", command="test")
    assert json.loads((folder / "open_clip_config.json").read_text())["visadapt"] == {"command": "test"}
    plain = open_clip.create_model(f"local-dir:{folder}").eval()  # no visadapt code involved
    torch.testing.assert_close(plain.encode_image(clip.normalize(images), normalize=True), clip.encode_image(images))
    tokens = open_clip.get_tokenizer(f"local-dir:{folder}")(["a red star."])
    torch.testing.assert_close(plain.encode_text(tokens, normalize=True), clip.encode_text(["a red star."]))
    again = OpenCLIPBackbone(pretrained=str(folder), class_names=CLASSES, templates=TEMPLATES).eval()
    torch.testing.assert_close(again(images), clip(images), atol=0, rtol=0)
    monkeypatch.setenv("VISADAPT_MODEL_ZOO", str(tmp_path))  # a model-zoo entry is found by name
    by_name = BACKBONES.build(dict(type="OpenCLIPBackbone", pretrained="tiny_clip", class_names=CLASSES))
    torch.testing.assert_close(by_name.encode_image(images), clip.encode_image(images), atol=0, rtol=0)


def test_named_model_with_local_weights_file(clip, images, tmp_path):
    from safetensors.torch import save_file

    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "visadapt-test-tiny.json").write_text(json.dumps(TINY_CLIP))
    open_clip.add_model_config(tmp_path / "cfg")
    weights = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in clip.model.state_dict().items()}, str(weights))
    named = OpenCLIPBackbone("visadapt-test-tiny", pretrained=str(weights), mean=clip.mean.flatten().tolist(),
                             std=clip.std.flatten().tolist()).eval()
    torch.testing.assert_close(named.encode_image(images), clip.encode_image(images), atol=0, rtol=0)


def test_bad_inputs_are_explained(clip, images):
    with pytest.raises(FileNotFoundError, match="never downloads"):
        OpenCLIPBackbone("ViT-B-16-quickgelu", pretrained="openai")
    with pytest.raises(ConfigError, match="unknown open_clip model 'ViT-B-17'"):
        OpenCLIPBackbone("ViT-B-17")
    with pytest.raises(ConfigError, match="templates must be"):
        clip.set_classifier(CLASSES, ["a photo"])
    with pytest.raises(FileNotFoundError, match="neither a folder with open_clip_config.json nor a model-zoo"):
        OpenCLIPBackbone(pretrained="no_such_clip")
    with pytest.raises(ConfigError, match="either model_cfg"):
        OpenCLIPBackbone(model_cfg=TINY_CLIP, pretrained="x")
    bare = OpenCLIPBackbone(model_cfg=TINY_CLIP)
    with pytest.raises(RuntimeError, match="no classifier"):
        bare(images)


def test_zero_shot_tool_reports_every_task(clip, tmp_path, capsys):
    from tools import zero_shot

    folder = clip.save_pretrained(tmp_path / "tiny_clip")
    assert zero_shot.main(["--pretrained", str(folder), "--tasks", "shape,size", "--split", "val200",
                           "--templates", "a {}.", "a photo of a {}."]) == 0
    lines = capsys.readouterr().out.splitlines()
    # A line per task as it finishes (the tool is silent for minutes on a large split otherwise), then the table.
    assert [line.split(":")[0] for line in lines[:2]] == ["[1/2] shape", "[2/2] size"]
    header = next(i for i, line in enumerate(lines) if line.startswith("task"))
    rows = {line.split()[0]: line.split() for line in lines[header + 1:]}
    assert set(rows) == {"shape", "size", "mean"} and rows["shape"][1:3] == ["8", "12.5"]
    assert 0 <= float(rows["size"][3]) <= 100
    assert zero_shot.main(["--pretrained", str(tmp_path / "nothing")]) == 1
