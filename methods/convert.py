"""Shared pieces of the official-checkpoint converters (``methods/<m>/convert.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch


def unwrap(checkpoint: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """The flat tensor dict of a flat or Lightning/``{"model": ...}`` checkpoint, without DDP's
    ``module.`` prefix; non-tensor entries are left out."""
    state: Any = checkpoint
    if isinstance(checkpoint, Mapping):
        for key in ("state_dict", "model"):
            if isinstance(checkpoint.get(key), Mapping):
                state = checkpoint[key]
                break
    if not isinstance(state, Mapping):
        raise ValueError(f"expected a state dict (or a checkpoint holding one), got {type(checkpoint).__name__}")
    return {
        key.removeprefix("module."): value for key, value in state.items() if isinstance(value, torch.Tensor)
    }


def rename_prefixes(
    state: Mapping[str, torch.Tensor], prefixes: tuple[tuple[str, str], ...], strip: str = ""
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Rename keys by the first matching ``(source prefix, our prefix)``; an empty target prefix
    drops the key. ``strip`` is removed from each key first. Returns ``(mapped, sorted unmatched)``."""
    mapped: dict[str, torch.Tensor] = {}
    unmatched: list[str] = []
    for key, value in state.items():
        short = key.removeprefix(strip) if strip else key
        target = None
        for src, dst in prefixes:
            if short.startswith(src):
                target = dst + short[len(src) :] if dst else None
                break
        if target is None:
            unmatched.append(key)
        else:
            mapped[target] = value
    return mapped, sorted(unmatched)
