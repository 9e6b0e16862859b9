"""Timing of one training step (forward, backward, AdamW) under each numeric lever of
``bench.precision``: fp32, bf16 autocast (``train.cpu_bf16``), channels-last
(``train.channels_last``) and both, per method (PRIOR at stages 1 and 3), at two shapes:

- ``tiny``: the tiny preset (small ResNet at 128 px, frozen MiniLM), batch 32;
- ``default``: the default preset's shape (ResNet-50 at 224 px, a BERT-base-shaped text tower
  trained end to end, random weights), batch 8; measured only with ``--benchmark-enable``.

``tox -e bench -- tests/methods/test_bench_levers.py --benchmark-save=levers`` keeps the JSON;
``pytest-benchmark compare`` sets two such files side by side. Nothing about time is asserted.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from bench import precision
from bench.config_values import LEVERS_OFF
from bench.perf.step import build_step
from bench.perf.text_shape import write_text_tower

CASES = [("convirt", None), ("gloria", None), ("prior", "stage1"), ("prior", "stage3")]
LEVERS = {"fp32": LEVERS_OFF, **{key.split(".")[1]: {**LEVERS_OFF, key: True} for key in LEVERS_OFF},
          "all": dict.fromkeys(LEVERS_OFF, True)}  # bf16 is "cpu_bf16"; every case sets all three
# train.compile on top of fp32 and of the three levers: its first step compiles (timed apart)
COMPILED = {"compile": {**LEVERS_OFF, "train.compile": True},
            "all+compile": {**dict.fromkeys(LEVERS_OFF, True), "train.compile": True}}
SHAPES = {"tiny": ("tiny", 32, {}), "default": ("default", 8, {"model.image_weights": None})}


@pytest.fixture(scope="module")
def bert_base(tmp_path_factory) -> str:
    return str(write_text_tower("bert-base", tmp_path_factory.mktemp("bert-base")))


def _build(request, shape: str, method: str, stage: str | None, settings: dict[str, Any]):
    preset, batch_size, extra = SHAPES[shape]
    overrides = {**extra, **settings}
    if shape == "default":
        overrides["model.text_encoder"] = request.getfixturevalue("bert_base")
    return build_step(method, preset, batch_size, overrides, stage)


def _measure(benchmark: Any, step: Any, shape: str, method: str, stage: str | None, **info: Any) -> None:
    size, batch_size = step.cfg.model.image_size, step.cfg.train.batch_size
    benchmark.group = f"{shape}-{method}{'-' + stage if stage else ''}-b{batch_size}-{size}px"
    benchmark.extra_info.update(**info, threads=torch.get_num_threads(), cpu_bf16=precision.cpu_has_bf16())
    out = benchmark.pedantic(step, rounds=5 if shape == "tiny" else 3, iterations=1, warmup_rounds=1)
    assert all(torch.isfinite(v).all() for k, v in out.items() if k.endswith("_loss"))


@pytest.mark.benchmark
@pytest.mark.parametrize("lever", list(LEVERS))
@pytest.mark.parametrize("method,stage", CASES, ids=[f"{m}-{s}" if s else m for m, s in CASES])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_step_under_lever(benchmark: Any, request, shape: str, method: str, stage: str | None, lever: str) -> None:
    if shape == "default" and not benchmark.enabled:
        pytest.skip("the default shape is measured only with --benchmark-enable")
    _measure(benchmark, _build(request, shape, method, stage, LEVERS[lever]), shape, method, stage, lever=lever)


@pytest.mark.benchmark
@pytest.mark.parametrize("lever", list(COMPILED))
@pytest.mark.parametrize("method,stage", CASES, ids=[f"{m}-{s}" if s else m for m, s in CASES])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_compiled_step(benchmark: Any, request, shape: str, method: str, stage: str | None, lever: str) -> None:
    """The step under ``train.compile``: ``compile_s`` is its first call (dynamo + inductor), the
    timed rounds follow two warm-up calls (the second recompiles once for the optimizer state)."""
    import time

    import torch._dynamo

    if not benchmark.enabled:
        pytest.skip("compiling takes a minute or more per case; measured only with --benchmark-enable")
    torch._dynamo.reset()
    step = _build(request, shape, method, stage, COMPILED[lever])
    start = time.perf_counter()
    step()
    _measure(benchmark, step, shape, method, stage, lever=lever, compile_s=round(time.perf_counter() - start, 1))
