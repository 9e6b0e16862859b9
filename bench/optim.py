"""Optimizer and learning-rate schedule of one pretraining stage.

AdamW over the trainable parameters, with weight decay on weight matrices and kernels only: biases,
normalisation weights, scalars and logit scales/temperatures are not decayed. The schedule is
per optimizer step: linear warmup from ``warmup_start_lr`` to the stage's ``lr`` over
``warmup_steps``, then a half cosine to zero at the stage's last step (pl_bolts'
``LinearWarmupCosineAnnealingLR`` as PRIOR uses it, stepped per iteration).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR

from bench.api import Stage

NO_DECAY_NAMES = ("logit_scale", "temperature")


def no_decay(name: str, param: torch.Tensor) -> bool:
    """True for biases, norm weights and other 0-/1-d tensors, and for logit scales."""
    leaf = name.rsplit(".", 1)[-1]
    return param.ndim < 2 or leaf == "bias" or any(key in leaf for key in NO_DECAY_NAMES)


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Trainable parameters split into a decayed and a non-decayed group (empty groups left out)."""
    decay, plain = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (plain if no_decay(name, param) else decay).append(param)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": plain, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


def make_optimizer(model: nn.Module, lr: float, weight_decay: float, fused: bool = False) -> torch.optim.AdamW:
    """AdamW over :func:`param_groups`; ``fused`` (``train.fused_adamw``): one fused kernel per
    parameter group instead of the per-tensor foreach loop (the same update to float rounding)."""
    groups = param_groups(model, weight_decay)
    if not groups:
        raise ValueError(f"{type(model).__name__} has no trainable parameters in this stage")
    return torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay, fused=True if fused else None)


def warmup_cosine(steps: int, warmup_steps: int, start_factor: float) -> Callable[[int], float]:
    """Factor of the peak lr at step ``t`` (0-based) of a stage of ``steps`` steps."""
    steps = max(1, int(steps))
    warmup = max(0, min(int(warmup_steps), steps - 1))

    def factor(t: int) -> float:
        if t < warmup:
            return start_factor + (1.0 - start_factor) * t / warmup
        progress = (t - warmup) / max(1, steps - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


def make_scheduler(optimizer: torch.optim.Optimizer, stage: Stage) -> LambdaLR:
    start = stage.warmup_start_lr / stage.lr if stage.lr > 0 else 0.0
    return LambdaLR(optimizer, warmup_cosine(stage.steps, stage.warmup_steps, start))


def stage_bounds(stages: list[Stage]) -> list[tuple[int, int]]:
    """[(first step, end step)) of each stage in global steps."""
    out, start = [], 0
    for stage in stages:
        out.append((start, start + stage.steps))
        start += stage.steps
    return out


def stage_index(bounds: list[tuple[int, int]], step: int) -> int:
    """The stage that global step ``step`` (0-based) belongs to (the last one past the end)."""
    for i, (_, end) in enumerate(bounds):
        if step < end:
            return i
    return len(bounds) - 1
