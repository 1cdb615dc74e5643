"""Few-shot CLIP tasks on a tiny random CLIP: CLIP-LoRA save / reload / merge, ProLIP's loss, CoOp's prompts,
the linear probe, the feature cache."""
from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

open_clip = pytest.importorskip("open_clip")

from tests.backbones.test_clip import TINY_CLIP  # noqa: E402
from tests.conftest import perturb_adapters  # noqa: E402
from visadapt import adapters as A  # noqa: E402
from visadapt.backbones import OpenCLIPBackbone  # noqa: E402
from visadapt.backbones.clip_attention import fuse_attention  # noqa: E402
from visadapt.data.feature_cache import FeatureViews, build_feature_cache  # noqa: E402
from visadapt.registry import ConfigError  # noqa: E402
from visadapt.tasks import CLIPClassificationTask, CLIPLinearProbeTask, ProLIPTask  # noqa: E402

CLASSES = ["small", "medium", "large"]
ATTN = ["visual.transformer.resblocks.*.attn", "transformer.resblocks.*.attn"]
CLIP_LORA = dict(type="lora", r=2, alpha=1.0, use_rslora=True, dropout=0.25,
                 target_modules=[f"{t}.{p}_proj" for t in ATTN for p in "qkv"])


def backbone(split: bool = False) -> OpenCLIPBackbone:
    torch.manual_seed(0)
    return OpenCLIPBackbone(model_cfg=TINY_CLIP, split_attention=split).eval()


@pytest.fixture
def images():
    return torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(1))


def test_zero_shot_task_is_the_backbone_head_with_a_fixed_scale(images):
    task = CLIPClassificationTask(backbone(), 3, CLASSES, templates=["a {}.", "a photo of a {}."],
                                  adapter=dict(type="parameters")).eval()
    assert task.parameter_counts()["trainable"] == 0 and task.configure_optimizers() is None
    clip = task.backbone
    clip.set_classifier(CLASSES, ["a {}.", "a photo of a {}."])
    expected = 100.0 * clip.encode_image(images) @ clip.class_embeddings.t()
    torch.testing.assert_close(task(images), expected)
    learnt = CLIPClassificationTask(backbone(), 3, CLASSES, adapter=dict(type="parameters"), logit_scale=None)
    assert learnt.scale() == pytest.approx(float(clip.model.logit_scale.exp()))


def test_clip_lora_recomputes_class_embeddings_only_while_the_text_tower_trains(images):
    task = CLIPClassificationTask(backbone(split=True), 3, CLASSES, adapter=CLIP_LORA)
    assert task.text_trainable
    # 184,320 on ViT-B/16 (clip.md 1.1); here 1 block per tower: 3 x 2 x (32 + 32) + 3 x 2 x (16 + 16)
    assert task.parameter_counts()["trainable"] == 3 * 2 * 64 + 3 * 2 * 32
    task.train()
    assert task.text_embeddings().requires_grad and task.text_embeddings() is not task.text_embeddings()
    task.eval()
    cached = task.text_embeddings()
    assert not cached.requires_grad and task.text_embeddings() is cached
    frozen_text = CLIPClassificationTask(backbone(split=True), 3, CLASSES,
                                         adapter=dict(CLIP_LORA, target_modules=CLIP_LORA["target_modules"][:3]))
    assert not frozen_text.text_trainable
    frozen_text.train()
    assert frozen_text.text_embeddings() is frozen_text.text_embeddings()


def test_clip_lora_saved_reloaded_and_merged_predicts_the_same(images, tmp_path):
    task = CLIPClassificationTask(backbone(split=True), 3, CLASSES, adapter=CLIP_LORA)
    perturb_adapters(task.backbone.model)
    task.train()
    task.eval()  # toggling modes must not fold the LoRA into the weights (CLIP-LoRA's loralib does, clip.md 4e)
    expected = task(images)
    A.save_adapter(task.backbone.model, tmp_path)
    fresh = CLIPClassificationTask(backbone(split=True), 3, CLASSES, adapter=CLIP_LORA)
    A.load_adapter(fresh.backbone.model, tmp_path)
    torch.testing.assert_close(fresh.eval()(images), expected, atol=0, rtol=0)

    A.merge(task.backbone.model)
    fuse_attention(task.backbone.model)
    plain = open_clip.CLIP(**TINY_CLIP).eval()
    plain.load_state_dict(task.backbone.model.state_dict())
    clip = task.backbone
    text = F.normalize(plain.encode_text(clip.tokenize([f"a photo of a {c}." for c in CLASSES])), dim=-1)
    image = F.normalize(plain.encode_image(clip.normalize(images)), dim=-1)
    torch.testing.assert_close(100.0 * image @ text.t(), expected, atol=1e-3, rtol=1e-4)


def test_prolip_trains_the_projection_on_pre_projection_features_with_a_pull_to_init(images):
    task = ProLIPTask(backbone(), 3, CLASSES, shots=4)
    assert task.reg_lambda == 0.25  # validation-free lambda = 1 / shots
    proj = task.backbone.model.visual.proj
    assert [n for n, p in task.backbone.model.named_parameters() if p.requires_grad] == ["visual.proj"]
    pre = task.backbone.encode_image_pre_projection(images)
    torch.testing.assert_close(pre @ proj, task.backbone.encode_image(images, normalize=False))
    torch.testing.assert_close(task.training_logits(pre), task(images))
    assert float(task.regularizer().detach()) == 0.0
    with torch.no_grad():
        proj.add_(0.1)
    assert float(task.regularizer().detach()) == pytest.approx(0.25 * 0.01 * proj.numel(), rel=1e-4)
    with pytest.raises(ConfigError, match="1/shots"):
        ProLIPTask(backbone(), 3, CLASSES)
    assert ProLIPTask(backbone(), 3, CLASSES, reg_lambda=0.0).reg_lambda == 0.0


def test_prolip_search_picks_the_pair_best_on_validation_and_restores_w0():
    torch.manual_seed(0)
    search = dict(split="val", lrs=[1e-1, 1e-9], lambdas=[0.0])
    task = ProLIPTask(backbone(), 3, CLASSES, shots=2, search=search,
                      optimizer=dict(type="Adam", lr=5e-3, eps=1e-4), scheduler=dict(type="cosine"))
    w0 = task.initial_proj.clone()
    features = torch.randn(20, 6, w0.shape[0])
    with torch.no_grad():
        zero_shot = task.training_logits(features[0]).argmax(-1)
    train = [(f, (zero_shot + 1) % 3) for f in features]  # labels the zero-shot head gets all wrong
    # Validation labels = the zero-shot predictions: only the pair that leaves W at W0 (lr 1e-9) scores 100 %.
    record = task.search_hyperparameters(train, features[0], zero_shot)
    accs = {g["lr"]: g["val_acc"] for g in record["grid"]}
    assert accs[1e-9] == 1.0 and accs[1e-1] < 0.5
    assert record["chosen"]["lr"] == 1e-9 and task.optimizer_cfg["lr"] == 1e-9 and task.reg_lambda == 0.0
    torch.testing.assert_close(task.backbone.model.visual.proj.detach(), w0)  # the final run starts from W0
    # Validation labels = the training labels: the pair that moves W (lr 0.1) wins.
    record = task.search_hyperparameters(train, features[0], (zero_shot + 1) % 3)
    assert record["chosen"] == max(record["grid"], key=lambda g: g["val_acc"]) and record["chosen"]["lr"] == 1e-1
    assert record["chosen"]["val_acc"] == 1.0 and task.optimizer_cfg == dict(type="Adam", lr=1e-1, eps=1e-4)
    torch.testing.assert_close(task.backbone.model.visual.proj.detach(), w0)
    with pytest.raises(ConfigError, match="reg_lambda must be None"):
        ProLIPTask(backbone(), 3, CLASSES, shots=2, reg_lambda=0.5, search=search)


def test_prolip_search_draws_k_shots_of_the_val_split_and_never_reads_test(tmp_path, monkeypatch):
    from visadapt.data import ShapesDataset
    from visadapt.data.datamodule import ImageDataModule

    source = dict(type="ShapesDataset", task="size", split="train", image_size=16, num_samples=60)
    data = ImageDataModule(train=dict(type="FewShotDataset", dataset=source, shots=2),
                           test=dict(type="ShapesDataset", task="size", split="test", image_size=16), seed=3,
                           train_transforms=[dict(type="ColorJitter", brightness=0.5, p=1.0)])

    real_load = ShapesDataset.load

    def load(self, idx):
        assert self.split != "test", "the search read the test split"
        return real_load(self, idx)

    monkeypatch.setattr(ShapesDataset, "load", load)
    task = ProLIPTask(backbone(), 3, CLASSES, shots=2, feature_views=2,
                      search=dict(split="val200", lrs=[1e-3], lambdas=[1.0, 0.0]),
                      optimizer=dict(type="Adam", lr=5e-3, eps=1e-4))
    task.prepare_fit(data, tmp_path)
    record = json.loads((tmp_path / "prolip_search.json").read_text())
    val = ShapesDataset("size", "val200", image_size=16, num_samples=60)
    validation = {k: record["validation"][k] for k in ("split", "shots", "seed")}
    assert validation == {"split": "val200", "shots": 2, "seed": 3}
    assert sorted(val.label(i) for i in record["validation"]["indices"]) == [0, 0, 1, 1, 2, 2]
    assert [(g["lr"], g["lambda"]) for g in record["grid"]] == [(1e-3, 1.0), (1e-3, 0.0)]
    assert task.optimizer_cfg["lr"] == 1e-3 and task.reg_lambda == record["chosen"]["lambda"]
    for split in ("test", "train"):
        bad = ProLIPTask(backbone(), 3, CLASSES, shots=2, feature_views=1, search=dict(split=split))
        with pytest.raises(ConfigError, match="must be a validation split"):
            bad.validation_shots(data)


def test_coop_context_initialised_from_words_reproduces_the_hand_written_prompt(images, tmp_path):
    task = CLIPClassificationTask(backbone(), 3, CLASSES, adapter=dict(type="coop", ctx_init="a photo of a"),
                                  logit_scale=None)
    assert task.parameter_counts()["trainable"] == 4 * TINY_CLIP["text_cfg"]["width"] and task.text_trainable
    expected = task.backbone.class_text_embeddings(CLASSES, ["a photo of a {}."])
    torch.testing.assert_close(task.class_embeddings(), expected, atol=1e-6, rtol=1e-5)
    task.train()
    task.class_embeddings().sum().backward()
    ctx = task.backbone.model.prompt_context.ctx
    assert ctx.grad is not None and ctx.grad.abs().sum() > 0
    with torch.no_grad():
        ctx.add_(0.5)
    A.save_adapter(task.backbone.model, tmp_path)
    fresh = CLIPClassificationTask(backbone(), 3, CLASSES, adapter=dict(type="coop", ctx_init="a photo of a"),
                                   logit_scale=None)
    A.load_adapter(fresh.backbone.model, tmp_path)
    torch.testing.assert_close(fresh.eval()(images), task.eval()(images))


def test_coop_refuses_a_context_that_leaves_no_room_for_the_class_name():
    task = CLIPClassificationTask(backbone(), 2, ["very large object", "dot"], adapter=dict(type="coop", n_ctx=8))
    with pytest.raises(ConfigError, match="'very large object'.*12 tokens"):
        task.class_embeddings()
    with pytest.raises(ConfigError, match="class_token_position"):
        A.inject(backbone().model, dict(type="coop", class_token_position="middle"))


def test_linear_probe_scores_cached_embeddings_with_its_head(images):
    task = CLIPLinearProbeTask(backbone(), 3, CLASSES, l2=0.5)
    assert [n for n, p in task.backbone.model.named_parameters() if p.requires_grad] == [
        "linear_probe_head.weight", "linear_probe_head.bias"]
    features = task.encode_for_cache(images)
    torch.testing.assert_close(task.training_logits(features), task(images))
    assert float(task.regularizer().detach()) == pytest.approx(0.5 * float(task.head.weight.detach().pow(2).sum()))


def test_parameters_adapter_names_what_it_cannot_find():
    with pytest.raises(ConfigError, match="visual.projection"):
        A.inject(backbone().model, dict(type="parameters", parameters=["visual.projection"]))


class CountingEncoder:
    def __init__(self):
        self.images = 0

    def __call__(self, images):
        self.images += len(images)
        return images.flatten(1)[:, :5]


def test_feature_cache_is_computed_once_per_key_one_view_per_epoch(tmp_path):
    from visadapt.data import FewShotDataset, ShapesDataset

    jitter = [dict(type="ColorJitter", brightness=0.5, p=1.0)]
    data = FewShotDataset(ShapesDataset("size", "train", image_size=16, num_samples=60), shots=2, seed=1,
                          transform=jitter)
    encode = CountingEncoder()
    path = build_feature_cache(encode, data, 3, tmp_path, {"encoder": "a"}, batch_size=4)
    assert encode.images == 3 * 6
    assert build_feature_cache(encode, data, 3, tmp_path, {"encoder": "a"}) == path and encode.images == 18
    assert build_feature_cache(encode, data, 3, tmp_path, {"encoder": "b"}) != path
    views = FeatureViews(path)
    assert len(views) == 3
    first, labels = views[0]
    assert labels.tolist() == [data.label(i) for i in range(6)]
    torch.testing.assert_close(first, encode(torch.stack([data[i][0] for i in range(6)])))
    second, _ = views[1]
    torch.testing.assert_close(second, encode(torch.stack([data[6 + i][0] for i in range(6)])))
    assert not torch.equal(first, second)  # another view is another augmentation
