"""The levers of a training step: bf16 autocast (CUDA, and CPU where it has bf16 units), the
channels-last memory format for the convolutional trunk, ``torch.compile`` and gradient
checkpointing of the transformer towers.

``step_context(device, train_cfg)`` is what the trainer enters around each forward; ``prepare``
puts a module and ``to_memory_format`` a batch in the configured memory format; ``compile_step``
and ``checkpoint_towers`` apply ``train.compile`` and ``train.text_checkpointing`` to a method,
and ``guarded`` runs a compiled step with its eager fallback. The methods keep their contrastive
terms and the prototype bank in float32 under autocast (they cast before the similarity), so
bf16 touches the encoders' and decoders' matrix products only.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable
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


def checkpoint_towers(module: torch.nn.Module, train_cfg: Any) -> list[str]:
    """With ``train.text_checkpointing``, gradient checkpointing (non-reentrant) in every Hugging
    Face model inside ``module`` that supports it (the text tower; PRIOR's sentence decoder): each
    layer's activations are recomputed in the backward instead of kept. The names it enabled."""
    if not getattr(train_cfg, "text_checkpointing", False):
        return []
    names = [name for name, m in module.named_modules() if getattr(m, "supports_gradient_checkpointing", False)
             and hasattr(m, "gradient_checkpointing_enable")]
    for name in names:
        tower = module.get_submodule(name)
        if hasattr(tower, "activation_checkpointing_enable"):  # transformers >= 5.x's name for it
            tower.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            tower.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if names:
        log.info("train.text_checkpointing: gradient checkpointing in %s", ", ".join(names))
    else:
        log.warning("train.text_checkpointing: %s holds no transformer tower that supports it", type(module).__name__)
    return names


BACKEND = "inductor"  # what train.compile compiles with


def compile_step(module: torch.nn.Module, train_cfg: Any, backend: Any = None) -> bool:
    """With ``train.compile``, ``module.compile()`` (in place: its state dict and checkpoints keep
    their keys). Random draws (dropout) stay eager's, from torch's generator (inductor's
    ``fallback_random``), so a compiled run differs from an eager one by float rounding only. A
    frame that fails to compile runs eager with a warning (dynamo's ``suppress_errors``), and
    where dynamo is not supported the step stays eager: True if compiled."""
    if not getattr(train_cfg, "compile", False):
        return False
    import torch._dynamo

    if not torch._dynamo.is_dynamo_supported():
        log.warning("train.compile: torch.compile is not supported on this Python/platform; the step runs eager")
        return False
    import torch._inductor.config

    torch._dynamo.config.suppress_errors = True
    torch._inductor.config.fallback_random = True
    backend = backend or BACKEND
    module.compile(backend=backend)
    log.info("train.compile: %s compiled (%s); the first steps of each stage compile, later ones reuse it",
             type(module).__name__, backend if isinstance(backend, str) else getattr(backend, "__name__", backend))
    return True


def is_compiled(module: torch.nn.Module) -> bool:
    return getattr(module, "_compiled_call_impl", None) is not None


def guarded(module: torch.nn.Module, fn: Callable[[], Any], probe: bool) -> Any:
    """``fn()``; where ``probe`` and ``module`` is compiled, a failure of the compiled code at run
    time (a compiler bug: dynamo's ``suppress_errors`` covers compile-time failures only) turns
    ``module`` back to eager, restores the random state ``fn`` started from, and runs ``fn`` again,
    so the step is the one an eager run takes. ``fn`` must start from zeroed gradients."""
    if not (probe and is_compiled(module)):
        return fn()
    cpu = torch.get_rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    try:
        return fn()
    except Exception as error:  # KeyboardInterrupt and SystemExit pass
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        log.warning("train.compile: the compiled step failed (%s: %s); %s runs eager from here",
                    type(error).__name__, first[:200], type(module).__name__)
        module._compiled_call_impl = None
        torch.set_rng_state(cpu)
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)
        return fn()
