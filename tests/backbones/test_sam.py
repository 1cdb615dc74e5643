"""SAMBackbone on a tiny SAM built from segment_anything's own modules: prompts per image, checkpoint loading
(official .pth layout, other input sizes, other numbers of mask outputs), save/load and merged-LoRA round trips."""
from __future__ import annotations

import pytest
import torch

pytest.importorskip("segment_anything")

from visadapt import adapters as A  # noqa: E402
from visadapt.backbones.sam import SAMBackbone, build_sam  # noqa: E402
from visadapt.registry import ConfigError  # noqa: E402
from visadapt.segmentation.prompts import boxes_from_masks, sample_points  # noqa: E402

TINY = dict(variant="custom", image_size=64, prompt_embed_dim=32,
            encoder=dict(embed_dim=32, depth=2, num_heads=2, window_size=2, global_attn_indexes=[1], out_chans=32),
            decoder=dict(mlp_dim=64, num_heads=2, iou_head_hidden_dim=32, mask_in_chans=4))


def tiny(**overrides) -> SAMBackbone:
    torch.manual_seed(0)
    return SAMBackbone(**{**TINY, **overrides})


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    images = torch.rand(2, 3, 64, 64, generator=g)
    masks = torch.zeros(2, 64, 64)
    masks[0, 10:30, 5:20] = 1
    masks[1, 40:60, 30:62] = 1
    return images, masks


def test_prompt_modes_and_per_image_decoding(batch):
    sam = tiny()
    images, masks = batch
    points = sample_points(masks, positives=2, negatives=1, generator=torch.Generator().manual_seed(1))
    boxes = boxes_from_masks(masks)
    with torch.no_grad():
        for kwargs in (dict(), dict(points=points), dict(boxes=boxes), dict(points=points, boxes=boxes)):
            logits, iou = sam(images, **kwargs)
            assert logits.shape == (2, 1, 64, 64) and iou.shape == (2, 1)
            alone, _ = sam(images[1:], **{k: (v[0][1:], v[1][1:]) if k == "points" else v[1:]
                                          for k, v in kwargs.items()})
            torch.testing.assert_close(logits[1:], alone, atol=1e-5, rtol=1e-4)  # image 1 with its own prompt
        logits, iou = sam(images, boxes=boxes, outputs="multimask")
        assert logits.shape == (2, 3, 64, 64)
        everything, _ = sam(images, boxes=boxes, outputs="all")
        torch.testing.assert_close(everything[:, 1:], logits)
        torch.testing.assert_close(everything[:, :1], sam(images, boxes=boxes)[0])
    with pytest.raises(ValueError, match="64x64"):
        sam(torch.rand(1, 3, 32, 32))


def test_one_prompt_for_all_images_decodes_the_batch_at_once_like_one_by_one(batch):
    sam = tiny()
    images, masks = batch
    coords, labels = sample_points(masks[:1], positives=3, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        for kwargs in (dict(), dict(points=(coords, labels)), dict(boxes=boxes_from_masks(masks[:1]))):
            logits, iou = sam(images, outputs="all", **kwargs)
            for i in range(len(images)):
                alone, alone_iou = sam(images[i:i + 1], outputs="all", **kwargs)
                torch.testing.assert_close(logits[i:i + 1], alone, atol=1e-5, rtol=1e-4)
                torch.testing.assert_close(iou[i:i + 1], alone_iou, atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match="outputs"):
        sam(images, outputs="best")


def test_official_layout_other_sizes_and_output_counts_load(tmp_path, batch):
    images, _ = batch
    source = tiny()
    torch.save(source.model.state_dict(), tmp_path / "sam_tiny.pth")  # what build_sam.py reads
    same = tiny(checkpoint=str(tmp_path / "sam_tiny.pth"))
    with torch.no_grad():
        torch.testing.assert_close(same(images)[0], source(images)[0])
    bigger = tiny(checkpoint=str(tmp_path / "sam_tiny.pth"), image_size=96)  # pos_embed and rel_pos resampled
    assert bigger.model.image_encoder.pos_embed.shape[1:3] == (6, 6) and not bigger.dropped
    classes = tiny(checkpoint=str(tmp_path / "sam_tiny.pth"), num_multimask_outputs=5)
    assert any(n.startswith("mask_decoder.mask_tokens") for n in classes.dropped)
    torch.testing.assert_close(classes.model.image_encoder.blocks[0].attn.qkv.weight,
                               source.model.image_encoder.blocks[0].attn.qkv.weight)
    with pytest.raises(ConfigError, match="shape"):
        tiny(checkpoint=str(tmp_path / "sam_tiny.pth"), encoder=dict(TINY["encoder"], embed_dim=64))


def test_save_pretrained_rebuilds_from_metadata_and_merged_lora_loads_into_stock_sam(tmp_path, batch):
    images, _ = batch
    sam = tiny()
    A.inject(sam.model, dict(type="lora", r=4, target_modules=["image_encoder.blocks.*.attn.qkv"]))
    with torch.no_grad():
        for name, p in A.adapter_state_dict(sam.model).items():
            p.add_(0.05 * torch.randn_like(p))
        expected, _ = sam(images)
    A.merge(sam.model)
    stock = build_sam(64, TINY["encoder"], 32, TINY["decoder"], 3)
    stock.load_state_dict(sam.model.state_dict())  # a stock segment_anything Sam
    sam.save_pretrained(tmp_path / "sam.safetensors")
    reloaded = SAMBackbone(checkpoint=str(tmp_path / "sam.safetensors"))  # size and outputs from the metadata
    with torch.no_grad():
        torch.testing.assert_close(reloaded(images)[0], expected, atol=1e-5, rtol=1e-4)
        low, _ = stock.mask_decoder(image_embeddings=stock.image_encoder(reloaded.normalize(images[:1])),
                                    image_pe=stock.prompt_encoder.get_dense_pe(),
                                    sparse_prompt_embeddings=stock.prompt_encoder(None, None, None)[0],
                                    dense_prompt_embeddings=stock.prompt_encoder(None, None, None)[1],
                                    multimask_output=False)
        torch.testing.assert_close(torch.nn.functional.interpolate(low, size=(64, 64), mode="bilinear"),
                                   expected[:1], atol=1e-5, rtol=1e-4)
