"""The dense tasks' protocol lookup: a registered, named protocol, switched to fine-tuning on request."""

from __future__ import annotations

import dataclasses
from typing import TypeVar

from bench.config import BenchConfig
from bench.registry import Registry

P = TypeVar("P")


def resolve(registry: Registry[P], cfg: BenchConfig, key: str, default: str) -> P:
    """``cfg.eval.<key>`` (else ``default``) from ``registry``; with ``cfg.eval.finetune`` the same
    protocol with every stage training, named ``<name without -frozen>-finetune``."""
    proto = registry.get(getattr(cfg.eval, key, default))
    if getattr(cfg.eval, "finetune", False):
        name = proto.name.removesuffix("-frozen") + "-finetune"
        proto = dataclasses.replace(proto, name=name, frozen_stages=-1)
    return proto
