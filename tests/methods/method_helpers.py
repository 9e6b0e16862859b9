"""Helpers shared by the method tests: tiny-preset configs and small batches."""

from __future__ import annotations

from typing import Any

import torch

from bench.config import resolve

REPORTS = [
    ["No acute cardiopulmonary process.", "Heart size is normal."],
    ["Small left pleural effusion.", "Right-sided pneumothorax, 1.5 cm apical.", "Lines unchanged."],
    ["Bibasilar atelectasis.", "No pneumothorax."],
    ["Moderate cardiomegaly with pulmonary edema.", "Effusions are small.", "Tubes in place.", "Stable."],
]


def tiny_config(method: str, config_cls: type, **overrides: Any) -> Any:
    return resolve("tiny", method, overrides=overrides, method_config_cls=config_cls)


def make_batch(model: Any, n: int, size: int = 64, seed: int = 0) -> dict[str, Any]:
    gen = torch.Generator().manual_seed(seed)
    reports = [REPORTS[i % len(REPORTS)] for i in range(n)]
    return {"images": torch.randn(n, 1, size, size, generator=gen), "text": model.tokenize(reports)}
