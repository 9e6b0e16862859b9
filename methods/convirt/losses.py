"""ConVIRT's loss: bidirectional InfoNCE over cosine similarities, weighted by lambda."""

from __future__ import annotations

import torch
from torch import nn

from methods.contrastive import bidirectional_infonce


class ConVIRTLoss(nn.Module):
    """``lambda * l(v->u) + (1 - lambda) * l(u->v)`` with ``l`` the InfoNCE of cosine / tau.

    Negatives are the whole global batch (gathered across ranks).
    """

    def __init__(self, temperature: float = 0.1, lambda_weight: float = 0.75, gather_with_grad: bool = True) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        if not 0.0 <= lambda_weight <= 1.0:
            raise ValueError(f"lambda_weight must be in [0, 1], got {lambda_weight}")
        self.temperature = temperature
        self.lambda_weight = lambda_weight
        self.gather_with_grad = gather_with_grad

    def forward(self, image: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        v_to_u, u_to_v = bidirectional_infonce(image, text, 1.0 / self.temperature, self.gather_with_grad)
        return self.lambda_weight * v_to_u + (1.0 - self.lambda_weight) * u_to_v
