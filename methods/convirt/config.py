"""ConVIRT's own settings (the ``method`` section of the resolved config)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Config:
    # Loss (paper; edreisMD nt_xent.py and BenchX ConVIRTLoss agree): cosine / temperature,
    # L = lambda * l(image->text) + (1 - lambda) * l(text->image).
    temperature: float = 0.1
    lambda_weight: float = 0.75
    # Report embedding from the text tower's last layer: "max" (the paper: max-pooling over all
    # output vectors), "mean" (the edreisMD re-implementation) or "cls".
    text_pool: str = "max"
    # Hidden width of the Linear-ReLU-Linear heads; None = embed_dim (BenchX's 2048-768-768 head).
    proj_hidden: int | None = None
    gather_with_grad: bool = True
