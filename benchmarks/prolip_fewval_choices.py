"""The (lr, lambda) pairs ProLIP's few-shot validation search chose in a sweep, with their val top-1 (and the
val top-1 of the pair that leaves W at W0 for comparison: the smallest lr with the largest lambda).

    python benchmarks/prolip_fewval_choices.py [work_dirs/few_shot_clip_tiny_shapes]
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def main(out: str = "work_dirs/few_shot_clip_tiny_shapes") -> None:
    print("dataset K seed | chosen lr lambda | val top-1 (chosen, near-W0 pair) | val images")
    files = sorted(Path(out).glob("runs/*/prolip_fewval/k*_seed*/*/prolip_search.json"),
                   key=lambda p: (p.parts[-5], int(p.parts[-3].split("_")[0][1:]), int(p.parts[-3].split("seed")[1])))
    for path in files:
        record = json.loads(path.read_text())
        chosen, grid, val = record["chosen"], record["grid"], record["validation"]
        still = min(grid, key=lambda g: (g["lr"], -g["lambda"]))
        print(f"{path.parts[-5]} {val['shots']:>2} {val['seed']:>2} | {chosen['lr']:.0e} {chosen['lambda']:g} | "
              f"{100 * chosen['val_acc']:.1f} {100 * still['val_acc']:.1f} | {len(val['indices'])}")


if __name__ == "__main__":
    main(*sys.argv[1:])
