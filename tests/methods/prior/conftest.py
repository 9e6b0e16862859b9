"""Fixtures of the PRIOR tests: tiny-preset models (bundled MiniLM, 64 px) and report batches."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

from bench.config import resolve

PRIOR_REPORTS = [
    ["No acute cardiopulmonary process.", "Heart size is normal.", "Lungs are clear."],
    ["Small left pleural effusion.", "Right-sided pneumothorax.", "Lines unchanged.", "Stable mediastinum."],
    ["Bibasilar atelectasis.", "No pneumothorax."],
    [
        "Moderate cardiomegaly.",
        "Pulmonary edema.",
        "Small effusions.",
        "Tubes in place.",
        "No focal consolidation.",
    ],
]


@pytest.fixture(scope="session")
def build_prior() -> Callable[..., Any]:
    """build_prior(faithful=False, drop=(), **overrides) -> PRIOR at the tiny preset, 64 px."""
    from methods.prior import PRIOR

    def build(faithful: bool = False, drop: tuple[str, ...] = (), seed: int = 0, **overrides: Any) -> Any:
        settings = {"model.image_size": 64, "model.faithful": faithful, **overrides}
        cfg = resolve("tiny", "prior", overrides=settings, method_config_cls=PRIOR.Config)
        torch.manual_seed(seed)
        return PRIOR.from_config(cfg, drop=drop)

    return build


def prior_batch(model: Any, n: int = 4, size: int = 64, seed: int = 0) -> dict[str, Any]:
    gen = torch.Generator().manual_seed(seed)
    reports = [PRIOR_REPORTS[i % len(PRIOR_REPORTS)] for i in range(n)]
    return {"images": torch.randn(n, 1, size, size, generator=gen), "text": model.tokenize(reports)}


@pytest.fixture(scope="session")
def batch_of() -> Callable[..., dict[str, Any]]:
    return prior_batch
