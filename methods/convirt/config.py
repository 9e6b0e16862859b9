"""ConVIRT's own settings (the ``method`` section of the resolved config)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bench.constraints import Choice, Range

TEXT_POOL_NAMES: tuple[str, ...] = ("max", "mean", "cls")  # the poolings of model.TEXT_POOLS (a test keeps them equal)


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

    # What ``--set method.<key>`` may hold (bench.config checks it on resolve, before any build).
    CONSTRAINTS: ClassVar[dict[str, Range | Choice]] = {
        "temperature": Range(0, above=True),
        "lambda_weight": Range(0, 1),
        "text_pool": Choice(TEXT_POOL_NAMES),
        "proj_hidden": Range(1),
    }
