"""Renderer throughput (images/s at 224 px on one core); measured, never asserted as a time."""

from __future__ import annotations

import numpy as np
import pytest

from bench.data.synth.difficulty import DEFAULT
from bench.data.synth.findings import sample_plan
from bench.data.synth.render import render_frontal

BATCH = 50


@pytest.mark.benchmark
def test_render_images_per_second(benchmark) -> None:
    plans = [sample_plan(np.random.default_rng(s), DEFAULT).findings for s in range(BATCH)]
    render_frontal(np.random.default_rng(0), (), DEFAULT, 224)  # builds the texture banks once

    def render_batch() -> None:
        for s, findings in enumerate(plans):
            render_frontal(np.random.default_rng(s), findings, DEFAULT, 224)

    benchmark.pedantic(render_batch, rounds=3, iterations=1)
    if benchmark.stats is not None:  # None under --benchmark-disable
        benchmark.extra_info["images_per_second"] = BATCH / benchmark.stats["min"]
