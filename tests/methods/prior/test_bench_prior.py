"""Time one PRIOR training step (forward, backward, AdamW) per stage at the tiny preset.

Measured only with ``--benchmark-enable`` (e.g. ``tox -e bench``); otherwise each step runs once
as a smoke test. No timing is asserted.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
import torch

from bench.config import resolve
from bench.perf.step import SENTENCES
from methods.prior import PRIOR


@pytest.fixture(scope="module")
def setup() -> tuple[PRIOR, dict[str, Any], torch.optim.Optimizer]:
    cfg = resolve("tiny", "prior", method_config_cls=PRIOR.Config)  # 128 px, MiniLM, 2-layer decoder
    torch.manual_seed(0)
    model = PRIOR.from_config(cfg)
    rng = random.Random(0)
    reports = [rng.sample(SENTENCES, rng.randint(4, 7)) for _ in range(cfg.train.batch_size)]
    gen = torch.Generator().manual_seed(0)
    batch = {
        "images": torch.randn(
            cfg.train.batch_size, 1, cfg.model.image_size, cfg.model.image_size, generator=gen
        ),
        "text": model.tokenize(reports),
    }
    optimizer = torch.optim.AdamW([p for p in model.parameters()], lr=1e-4)  # frozen ones get no grad
    return model, batch, optimizer


@pytest.mark.benchmark
@pytest.mark.slow
@pytest.mark.parametrize("stage", ["stage1", "stage2", "stage3"])
def test_training_step(
    benchmark: Any, setup: tuple[PRIOR, dict[str, Any], torch.optim.Optimizer], stage: str
) -> None:
    model, batch, optimizer = setup
    model.set_stage(stage)
    model.train()
    benchmark.group = "prior-tiny-step-b32-128px"
    benchmark.extra_info["stage"] = stage

    def step() -> dict[str, torch.Tensor]:
        optimizer.zero_grad(set_to_none=True)
        out = model(batch)
        sum(v for k, v in out.items() if k.endswith("_loss")).backward()
        optimizer.step()
        return out

    out = benchmark.pedantic(step, rounds=3, iterations=1, warmup_rounds=1)
    assert all(torch.isfinite(v).all() for v in out.values())
