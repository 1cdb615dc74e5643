"""SAM's mask decoder with one prompt per image: the stock ``predict_masks`` called image by image vs visadapt's
batched pass over the same modules (``predict_masks_per_image``), forward + backward, side by side.

    PYTHONPATH=. python benchmarks/bench_sam_decoder.py [--preset tiny|vit_b] [--batch N] [--rounds N] [--out FILE]

The stock decoder repeats each image embedding once per prompt (it serves one image with N prompts), so a batch
of B images with one box each is decoded either with B calls or with one batched call. Both give the same masks
(tests/backbones/test_sam.py); this measures what the loop costs. Random weights; box prompts from random masks.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import interleave, median_ms, ratio_stats  # noqa: E402

from visadapt.backbones.sam import build_sam, predict_masks_per_image  # noqa: E402

PRESETS = {  # (image size, encoder kwargs, prompt dim, decoder kwargs, batch)
    "tiny": (64, dict(embed_dim=64, depth=4, num_heads=4, patch_size=8, window_size=4, global_attn_indexes=[1, 3],
                      out_chans=32), 32, dict(mlp_dim=128, num_heads=2, iou_head_hidden_dim=32, mask_in_chans=8), 64),
    "vit_b": (1024, dict(embed_dim=768, depth=12, num_heads=12, global_attn_indexes=[2, 5, 8, 11]), 256, {}, 4),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=PRESETS, default="tiny")
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    size, encoder, dim, decoder, batch = PRESETS[args.preset]
    batch = args.batch or batch
    device = torch.device(args.device)
    torch.manual_seed(0)
    sam = build_sam(size, encoder, dim, decoder, 3).to(device)
    side = size // encoder.get("patch_size", 16)
    embeddings = torch.randn(batch, dim, side, side, device=device, requires_grad=True)
    corners = torch.rand(batch, 2, 2, device=device).sort(1).values * size
    boxes = corners.permute(0, 2, 1).reshape(batch, 4)[:, [0, 2, 1, 3]]  # (x0, y0, x1, y1)
    pe = sam.prompt_encoder.get_dense_pe()

    def step(batched: bool) -> None:
        sparse, dense = sam.prompt_encoder(points=None, boxes=boxes, masks=None)
        if batched:
            masks, iou = predict_masks_per_image(sam.mask_decoder, embeddings, pe, sparse, dense)
        else:
            parts = [sam.mask_decoder.predict_masks(embeddings[i:i + 1], pe, sparse[i:i + 1], dense[i:i + 1])
                     for i in range(batch)]
            masks, iou = (torch.cat(p) for p in zip(*parts))
        (masks.float().mean() + iou.float().mean()).backward()

    fns = {"one image at a time (stock)": lambda: step(False), "batched": lambda: step(True)}
    for fn in fns.values():  # warm-up
        fn()
    times = interleave(fns, args.rounds, device)
    ref = times["one image at a time (stock)"]
    median, q1, q3 = ratio_stats(ref, times["batched"])
    lines = [f"# SAM decoder, one box per image: preset {args.preset}, batch {batch}, {device}, "
             f"{torch.get_num_threads()} threads, {args.rounds} rounds", "",
             "| decoding | forward + backward (ms, median) |", "|---|---:|"]
    lines += [f"| {name} | {median_ms(t):.1f} |" for name, t in times.items()]
    lines += ["", f"speed-up of the batched pass: {median:.1f}x (quartiles {q1:.1f}-{q3:.1f}) per step"]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
