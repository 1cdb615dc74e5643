"""What a finished ProLIP run did, next to the zero-shot head it started from: how far W moved, class counts and
confusion of the test predictions, support-set fit, and a check of the task's maths against an independent
plain-torch loop of the reference recipe (clip.md 2.2-2.3) on the run's own cached features (with the lr and
lambda a prolip_fewval run's search chose).

    python benchmarks/prolip_diagnose.py work_dirs/few_shot_clip_tiny_shapes/runs/size/prolip/k1_seed1/<stamp>
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from mmengine.config import Config
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from visadapt.runner.build import build_datamodule, build_task, data_facts  # noqa: E402


def reference_loop(features, labels, text, w0, lr, reg_lambda):
    """ProLIP as the reference writes it: Adam(eps 1e-4), CosineAnnealingLR over the views, one full-batch step
    per view, CE(100 cos) + lambda * MSELoss(reduction='sum')(W0, W)."""
    w = torch.nn.Parameter(w0.clone())
    optimizer = torch.optim.Adam([w], lr=lr, eps=1e-4)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, len(features))
    for view in range(len(features)):
        logits = 100 * F.normalize(features[view] @ w, dim=-1) @ text.t()
        loss = F.cross_entropy(logits, labels) + reg_lambda * F.mse_loss(w.view(-1), w0.view(-1), reduction="sum")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    return w.detach()


@torch.no_grad()
def main(run_dir: str) -> None:
    torch.set_num_threads(1)
    run = Path(run_dir)
    cfg = Config.fromfile(str(run / "config.py"))
    data = build_datamodule(cfg)
    task = build_task(cfg, data_facts(data)).eval()
    search = run / "prolip_search.json"  # prolip_fewval: the final run trained with the pair its search chose
    if search.is_file():
        chosen = json.loads(search.read_text())["chosen"]
        task.reg_lambda, task.optimizer_cfg = chosen["lambda"], {**task.optimizer_cfg, "lr": chosen["lr"]}
    w0 = task.backbone.model.visual.proj.detach().clone()
    w = next(v for k, v in load_file(str(run / "adapter" / "adapter.safetensors")).items() if k.endswith("proj"))
    text = task.text_embeddings()
    print(f"lambda {task.reg_lambda:g}, lr {task.optimizer_cfg['lr']:g}; ||W0|| {w0.norm():.3f}, "
          f"||W - W0|| {(w - w0).norm():.3f} ({100 * (w - w0).norm() / w0.norm():.1f} %), "
          f"lambda ||W - W0||^2 {task.reg_lambda * (w - w0).pow(2).sum():.3f}")
    print("cos between class prompts:", [[round(float(c), 3) for c in row] for row in text @ text.t()])
    pre, labels = zip(*[(task.backbone.encode_image_pre_projection(x), y) for x, y in data.test_dataloader()])
    pre, labels = torch.cat(pre), torch.cat(labels)
    caches = [load_file(str(p)) for p in sorted((run / "feature_cache").glob("*.safetensors"))]
    support = max(caches, key=lambda c: c["features"].shape[0])
    for name, proj in (("zero-shot", w0), ("trained", w)):
        pred = (F.normalize(pre @ proj, dim=-1) @ text.t()).argmax(-1)
        confusion = torch.zeros(data.num_classes, data.num_classes, dtype=torch.long)
        confusion.index_put_((labels, pred), torch.ones_like(pred), accumulate=True)
        fit = (F.normalize(support["features"] @ proj, dim=-1) @ text.t()).argmax(-1) == support["labels"]
        print(f"{name:>9}: test top-1 {100 * (pred == labels).float().mean():.2f}, predicted counts "
              f"{torch.bincount(pred, minlength=data.num_classes).tolist()}, confusion (rows = truth) "
              f"{confusion.tolist()}; support top-1 over the cached views {100 * fit.float().mean():.1f}")
    with torch.enable_grad():
        ref = reference_loop(support["features"], support["labels"], text, w0, task.optimizer_cfg["lr"],
                             task.reg_lambda)
    print(f"independent reference loop: max |W_ref - W_run| = {(ref - w).abs().max():.2e}")


if __name__ == "__main__":
    main(sys.argv[1])
