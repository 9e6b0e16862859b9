"""One training step of a method, built for measurement: model, a fixed batch of 4-7-sentence
reports and random images, AdamW, and the numeric levers of :mod:`bench.precision`.

``build_step(method, preset, batch_size, overrides, stage)`` returns a :class:`Step`; calling it
runs forward, backward and the optimizer step, as the trainer does (``bench.train``), on CPU.
The lever benchmarks (tests/methods/test_bench_levers.py) and ``python -m bench.perf.profile``
time and profile it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import torch

from bench import precision

SENTENCES = ("No acute cardiopulmonary process.", "Heart size is normal.", "The lungs are clear.",
             "Small left pleural effusion.", "Mild cardiomegaly.", "There is no pneumothorax.",
             "Right lower lobe opacity may represent atelectasis.", "Support devices are unchanged in position.")


@dataclass
class Step:
    model: Any
    batch: dict[str, Any]
    optimizer: torch.optim.Optimizer
    context: Any
    cfg: Any

    probe: bool = True  # under train.compile, the first call falls back to eager if the compiled code fails

    def __call__(self) -> dict[str, torch.Tensor]:
        out = precision.guarded(self.model, self._forward_backward, self.probe)
        self.probe = False
        self.optimizer.step()
        return out

    def _forward_backward(self) -> dict[str, torch.Tensor]:
        self.optimizer.zero_grad(set_to_none=True)
        with self.context:
            out = self.model(self.batch)
            loss = sum(v for k, v in out.items() if k.endswith("_loss"))
        loss.backward()
        return out


def build_step(method: str, preset: str, batch_size: int, overrides: dict[str, Any] | None = None,
               stage: str | None = None, seed: int = 0) -> Step:
    from bench.config import resolve
    from bench.optim import make_optimizer
    from bench.registry import METHODS

    cls = METHODS.get(method)
    cfg = resolve(preset, method, overrides={**(overrides or {}), "train.batch_size": batch_size},
                  method_config_cls=getattr(cls, "Config", None))
    torch.manual_seed(seed)
    model = cls.from_config(cfg).train()
    if stage:
        model.set_stage(stage)
    precision.prepare(model, cfg.train)
    precision.checkpoint_towers(model, cfg.train)
    precision.compile_step(model, cfg.train)
    rng = random.Random(seed)
    reports = [rng.sample(SENTENCES, rng.randint(4, 7)) for _ in range(batch_size)]
    size = cfg.model.image_size
    gen = torch.Generator().manual_seed(seed)
    images = torch.randn(batch_size, model.in_channels, size, size, generator=gen)
    batch = precision.to_memory_format({"images": images, "text": model.tokenize(reports)}, cfg.train)
    optimizer = make_optimizer(model, 1e-4, cfg.train.weight_decay, cfg.train.fused_adamw)
    return Step(model, batch, optimizer, precision.step_context(torch.device("cpu"), cfg.train), cfg)
