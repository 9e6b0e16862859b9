"""This project's checkpoint format: write atomically, read with ``weights_only=True``, rebuild.

A checkpoint is a plain dict of tensors and JSON-able values (so ``torch.load(weights_only=True)``
reads it without unpickling code): :func:`checkpoint_payload` gives the part every checkpoint
holds, ``method`` (registry name), ``drop`` (ablated components), ``config``
(``BenchConfig.to_dict()``) and ``model`` (state dict); training checkpoints add ``optimizer``,
``scheduler``, ``step``, ``stage``, ``stage_name``, ``total_steps``, ``rng`` (one entry per rank,
:mod:`bench.seeding`), ``world_size``, ``global_batch``; imported ones add ``imported``.
:func:`save_checkpoint` always adds ``format``, ``versions`` (:func:`bench.environment.package_versions`)
and ``created``.

:func:`load_checkpoint` is what tasks use: it rebuilds the method by name through
:data:`bench.registry.METHODS` with the stored config (:func:`bench.stored_config.config_from_dict`)
and drop list. :func:`build_method` gives the same architecture untrained (the "random" baseline).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from bench.config import BenchConfig
from bench.data.base import DataFormatError
from bench.environment import package_versions
from bench.errors import UserError
from bench.fileio import WeightsFileError, load_weights_only, write_bytes_atomic
from bench.registry import METHODS
from bench.stored_config import config_from_dict

FORMAT = "medvlp-bench/checkpoint-1"
__all__ = [
    "FORMAT",
    "build_method",
    "check_resumable",
    "checkpoint_payload",
    "load_checkpoint",
    "read_checkpoint",
    "save_checkpoint",
]


def checkpoint_payload(method: torch.nn.Module, cfg: BenchConfig, **fields: Any) -> dict[str, Any]:
    """What every checkpoint of ``method`` holds (name, drop list, config, weights), plus ``fields``."""
    return {
        "method": method.name,
        "drop": list(method.drop),
        "config": cfg.to_dict(),
        "model": method.state_dict(),
        **fields,
    }


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` to ``path`` atomically (:func:`bench.fileio.atomic_path`); a crash
    mid-write leaves the previous file intact."""
    payload = {"format": FORMAT, "versions": package_versions(), "created": time.time(), **payload}
    return write_bytes_atomic(path, lambda fh: torch.save(payload, fh))


def read_checkpoint(path: str | Path, map_location: Any = "cpu") -> dict[str, Any]:
    """The raw checkpoint dict (``weights_only=True``); FileNotFoundError / ValueError when unusable."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        ckpt = load_weights_only(path, map_location)
    except WeightsFileError as exc:
        raise DataFormatError(path, f"not a readable checkpoint ({exc.reason})") from exc
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise DataFormatError(
            path,
            f"not a medvlp-bench checkpoint (format {FORMAT!r} expected); "
            "convert official weights with `bench import --format ...`"
        )
    return ckpt


def check_resumable(ckpt: dict[str, Any], path: Path, method: torch.nn.Module, total_steps: int) -> None:
    """UserError unless ``ckpt`` was written by a run of this method, ablation and length."""
    if ckpt.get("method") != method.name or list(ckpt.get("drop", [])) != list(method.drop):
        raise UserError(f"{path} holds {ckpt.get('method')} without {ckpt.get('drop')}, not {method.name} "
                        f"without {list(method.drop)}; use another output folder")
    if ckpt.get("total_steps") != total_steps:
        raise UserError(f"{path} was written by a {ckpt.get('total_steps')}-step run; this one has {total_steps} "
                        "steps (resume with the same preset, --steps and --set)")


def build_method(name: str, cfg: BenchConfig, drop: tuple[str, ...] | list[str] = ()) -> torch.nn.Module:
    """The method ``name`` built from ``cfg`` with ``drop`` ablated, untrained."""
    cls = METHODS.get(name)
    return cls.from_config(cfg, drop=tuple(drop))


def load_checkpoint(path: str | Path, map_location: Any = "cpu") -> tuple[torch.nn.Module, BenchConfig]:
    """(method with the checkpoint's weights, in eval mode; its resolved config)."""
    ckpt = read_checkpoint(path, map_location)
    name = ckpt["method"]
    cls = METHODS.get(name)
    cfg = config_from_dict(ckpt["config"], getattr(cls, "Config", None))
    method = cls.from_config(cfg, drop=tuple(ckpt.get("drop", ())))
    missing, unexpected = method.load_state_dict(ckpt["model"], strict=False)
    if missing or unexpected:
        raise ValueError(
            f"{path}: weights do not fit {name} as configured: {len(missing)} missing "
            f"(e.g. {missing[:5]}), {len(unexpected)} unexpected (e.g. {unexpected[:5]})"
        )
    method.eval()
    return method, cfg
