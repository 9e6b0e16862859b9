"""Timing of one training step (forward + backward) at the tiny preset: batch 32, 128 px.

Run with ``pytest tests/methods/test_bench_steps.py --benchmark-enable``; without it each
benchmark runs once as a smoke test. ``text_cache``: warm = the frozen text tower's outputs are
served from the cache (every epoch after the first on fixed reports), cold = recomputed.
"""

from __future__ import annotations

import pytest
import torch
from method_helpers import REPORTS, tiny_config

from methods.convirt import ConVIRT
from methods.gloria import GLoRIA

METHODS = {"convirt": ConVIRT, "gloria": GLoRIA}


@pytest.mark.benchmark
@pytest.mark.parametrize("text_cache", ["warm", "cold"])
@pytest.mark.parametrize("method", sorted(METHODS))
def test_training_step(benchmark, method: str, text_cache: str) -> None:
    cls = METHODS[method]
    cfg = tiny_config(method, cls.Config)
    torch.manual_seed(0)
    model = cls.from_config(cfg).train()
    n, size = cfg.train.batch_size, cfg.model.image_size
    assert (n, size) == (32, 128)
    # distinct reports, so a cold cache recomputes every one of them
    reports = [REPORTS[i % len(REPORTS)] + [f"Finding number {i}."] for i in range(n)]
    batch = {
        "images": torch.randn(n, 1, size, size, generator=torch.Generator().manual_seed(0)),
        "text": model.tokenize(reports),
    }

    def step() -> float:
        if text_cache == "cold" and model.text.cache is not None:
            model.text.cache.clear()
        model.zero_grad(set_to_none=True)
        losses = model(batch)
        total = sum(losses.values())
        total.backward()
        return float(total.detach())

    if benchmark.enabled:
        step()  # warm-up (allocations, first cache fill)
    loss = benchmark.pedantic(step, rounds=5, iterations=1, warmup_rounds=1)
    assert torch.isfinite(torch.tensor(loss))
