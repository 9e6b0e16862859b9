"""The numeric levers of a training step: bf16 autocast (CUDA, and CPU where it has bf16 units)
and the channels-last memory format for the convolutional trunk.

``step_context(device, train_cfg)`` is what the trainer enters around each forward; ``prepare``
puts a module and ``to_memory_format`` a batch in the configured memory format. The methods keep
their contrastive terms and the prototype bank in float32 under autocast (they cast before the
similarity), so bf16 touches the encoders' and decoders' matrix products only.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger(__name__)

# CPU flags that give oneDNN native bf16 matrix products (without them bf16 is emulated: slower)
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


@functools.cache
def cpu_has_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """True where the CPU advertises native bf16 (AVX512-BF16 or AMX-BF16)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return False
    flags = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags.update(line.partition(":")[2].split())
            break
    return any(f in flags for f in BF16_CPU_FLAGS)


def autocast_dtype(device: torch.device, train_cfg: Any) -> torch.dtype | None:
    """bf16 on CUDA with ``train.amp``; on CPU with ``train.cpu_bf16`` where the CPU has bf16
    units (else a warning and fp32); None for fp32."""
    if device.type == "cuda":
        return torch.bfloat16 if train_cfg.amp else None
    if device.type == "cpu" and getattr(train_cfg, "cpu_bf16", False):
        if cpu_has_bf16():
            return torch.bfloat16
        log.warning("train.cpu_bf16: this CPU has no native bf16 (%s); training in fp32", "/".join(BF16_CPU_FLAGS))
    return None


def step_context(device: torch.device, train_cfg: Any) -> contextlib.AbstractContextManager:
    """The autocast context a training forward runs in (a null context for fp32)."""
    dtype = autocast_dtype(device, train_cfg)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def memory_format(train_cfg: Any) -> torch.memory_format:
    return torch.channels_last if getattr(train_cfg, "channels_last", False) else torch.contiguous_format


def prepare(module: torch.nn.Module, train_cfg: Any) -> torch.nn.Module:
    """The module's 4-d parameters (convolution weights) in the configured memory format."""
    fmt = memory_format(train_cfg)
    return module.to(memory_format=fmt) if fmt is torch.channels_last else module


def to_memory_format(batch: Any, train_cfg: Any) -> Any:
    """Every 4-d floating tensor of a batch (the images) in the configured memory format."""
    fmt = memory_format(train_cfg)
    if fmt is not torch.channels_last:
        return batch
    return _apply(batch, fmt)


def _apply(batch: Any, fmt: torch.memory_format) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.contiguous(memory_format=fmt) if batch.dim() == 4 and batch.is_floating_point() else batch
    if isinstance(batch, dict):
        return {k: _apply(v, fmt) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_apply(v, fmt) for v in batch)
    return batch
