"""``BenchMixedLoss``: MGCA's segmentation loss as an MMSeg loss.

MGCA (and GLoRIA before it) trains its U-Net with ``MixedLoss(alpha=10)``:
``alpha * focal(gamma=2) - log(soft Dice)``, both on one sigmoid output. The focal term is the
binary cross-entropy weighted by ``(1 - p_t) ** gamma`` and averaged over pixels; the Dice is
computed over the whole batch at once with a smoothing of 1. The ``-log`` makes the Dice term
pull hard while the overlap is still small, which matters for thin, rare masks (pneumothorax).

MMSeg's own ``DiceLoss`` cannot stand in: with one output channel its one-hot target is the
background channel, and it uses ``1 - Dice``. Pixels labelled ``ignore_index`` are left out.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class BenchMixedLoss(nn.Module):
    """``alpha * focal - log(Dice)`` on a 1-channel logit (or the logit difference of 2 channels)."""

    def __init__(
        self,
        alpha: float = 10.0,
        gamma: float = 2.0,
        smooth: float = 1.0,
        loss_weight: float = 1.0,
        loss_name: str = "loss_mixed",
    ) -> None:
        super().__init__()
        self.alpha, self.gamma, self.smooth = alpha, gamma, smooth
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(
        self, pred: torch.Tensor, target: torch.Tensor, weight=None, ignore_index: int = 255, **kwargs
    ) -> torch.Tensor:
        if pred.shape[1] not in (1, 2):
            raise ValueError(f"BenchMixedLoss takes 1 or 2 output channels, got {pred.shape[1]}")
        logit = pred[:, 0] if pred.shape[1] == 1 else pred[:, 1] - pred[:, 0]
        valid = target != ignore_index
        logit = logit[valid].float()
        truth = (target[valid] == 1).float()
        bce = F.binary_cross_entropy_with_logits(logit, truth, reduction="none")
        focal = (bce * torch.exp(self.gamma * F.logsigmoid(-logit * (truth * 2.0 - 1.0)))).mean()
        prob = torch.sigmoid(logit)
        dice = (2.0 * (prob * truth).sum() + self.smooth) / (prob.sum() + truth.sum() + self.smooth)
        return self.loss_weight * (self.alpha * focal - torch.log(dice))

    @property
    def loss_name(self) -> str:
        return self._loss_name


def register() -> None:
    """Register :class:`BenchMixedLoss` in MMSeg's model registry (idempotent)."""
    from mmseg.registry import MODELS

    if MODELS.get("BenchMixedLoss") is not BenchMixedLoss:
        MODELS.register_module(name="BenchMixedLoss", module=BenchMixedLoss, force=True)


register()
