"""TENT: test entropy minimisation (Wang et al., ICLR 2021; tta.md 1.3)."""
from __future__ import annotations

import torch

from visadapt.registry import TTA_METHODS
from visadapt.tta.base import EntropyMethod, flatten_logits, masked_mean, softmax_entropy


@TTA_METHODS.register("tent")
class Tent(EntropyMethod):
    """Minimise the mean softmax entropy of the batch w.r.t. the norm layers' affine parameters.

    ``z = model(x); loss = mean_i H(softmax(z_i)); loss.backward(); step; return z`` (the prediction is the
    pre-update forward). Logits ``[B, C, H, W]`` average the per-pixel entropy.

    Defaults (tta.md 1.3): ImageNet-C SGD lr 2.5e-4, momentum 0.9 (the default optimizer here); CIFAR10-C
    used Adam lr 1e-3; ViT (ViDA/mariodoebler config) SGD lr 1e-4. 1 step, not episodic.
    Model mode: ``eval()`` + deleted BN statistics (mariodoebler; the original used ``train()``, which only
    differs for dropout / stochastic depth). Trainable: BN/LN/GN affine params (original: BN2d only).
    """

    default_optimizer = dict(type="SGD", lr=0.00025, momentum=0.9)

    def forward_and_adapt(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.model(x)
        flat = flatten_logits(logits)
        mask = self.woc_mask(x, logits)
        loss = masked_mean(softmax_entropy(flat, dim=-1), mask)
        if loss is not None:
            extra = self.woc_loss(flat, mask)
            if extra is not None:
                loss = loss + extra
            self.optimizer_step(loss)
        return logits
