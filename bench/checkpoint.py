"""This project's checkpoint format: write atomically, read with ``weights_only=True``, rebuild.

A checkpoint is a plain dict of tensors and JSON-able values (so ``torch.load(weights_only=True)``
reads it without unpickling code):

``format``, ``method`` (registry name), ``drop`` (ablated components), ``config``
(``BenchConfig.to_dict()``), ``model`` (state dict), and for training checkpoints ``optimizer``,
``scheduler``, ``step``, ``stage``, ``stage_name``, ``total_steps``, ``rng`` (one entry per rank),
``world_size``, ``global_batch``; always ``versions`` (package versions) and ``created``.

:func:`load_checkpoint` is what tasks use: it rebuilds the method by name through
:data:`bench.registry.METHODS` with the stored config and drop list.
:func:`build_method` gives the same architecture untrained (the "random" baseline).
"""

from __future__ import annotations

import logging
import os
import platform
import random
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench import __version__
from bench.config import BenchConfig, ConfigError, _flatten, _set_path
from bench.data.base import DataFormatError
from bench.registry import METHODS

log = logging.getLogger(__name__)

FORMAT = "medvlp-bench/checkpoint-1"
_PACKAGES = ("torch", "torchvision", "transformers", "numpy")


def package_versions() -> dict[str, str]:
    out = {"bench": __version__, "python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` to ``path`` atomically: a temporary file in the same folder, then
    ``os.replace``; a crash mid-write leaves the previous file intact."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "versions": package_versions(), "created": time.time(), **payload}
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            torch.save(payload, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def read_checkpoint(path: str | Path, map_location: Any = "cpu") -> dict[str, Any]:
    """The raw checkpoint dict (``weights_only=True``); FileNotFoundError / ValueError when unusable."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - unpickling errors come in many types
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        raise DataFormatError(path, f"not a readable checkpoint ({type(exc).__name__}: {reason})") from exc
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise DataFormatError(
            path,
            f"not a medvlp-bench checkpoint (format {FORMAT!r} expected); "
            "convert official weights with `bench import --format ...`"
        )
    return ckpt


def check_resumable(ckpt: dict[str, Any], path: Path, method: torch.nn.Module, total_steps: int) -> None:
    """UserError unless ``ckpt`` was written by a run of this method, ablation and length."""
    from bench.errors import UserError

    if ckpt.get("method") != method.name or list(ckpt.get("drop", [])) != list(method.drop):
        raise UserError(f"{path} holds {ckpt.get('method')} without {ckpt.get('drop')}, not {method.name} "
                        f"without {list(method.drop)}; use another output folder")
    if ckpt.get("total_steps") != total_steps:
        raise UserError(f"{path} was written by a {ckpt.get('total_steps')}-step run; this one has {total_steps} "
                        "steps (resume with the same preset, --steps and --set)")


def config_from_dict(data: dict[str, Any], method_config_cls: type | None = None) -> BenchConfig:
    """Rebuild a :class:`BenchConfig` from its ``to_dict()`` form (unknown keys warn and are skipped)."""
    cfg = BenchConfig(preset=data.get("preset", "default"), method_name=data.get("method_name", ""))
    if method_config_cls is not None:
        cfg.method = method_config_cls()
    sections = {k: v for k, v in data.items() if isinstance(v, dict)}
    if cfg.method is None:
        sections.pop("method", None)
    for key, value in _flatten(sections).items():
        try:
            _set_path(cfg, key, value, "checkpoint config")
        except ConfigError as exc:
            log.warning("ignoring stored setting: %s", exc)
    return cfg


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


# -- RNG state (plain tensors and ints, so weights_only loading accepts it) ---------------------
def rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *map(_plain_num, np_state[2:])],
        "python": _to_lists(random.getstate()),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"].cpu())
    name, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), int(pos), int(has_gauss), float(gauss)))
    random.setstate(_to_tuples(state["python"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"].cpu())


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _plain_num(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v


def _to_lists(v: Any) -> Any:
    return [_to_lists(x) for x in v] if isinstance(v, (tuple, list)) else v


def _to_tuples(v: Any) -> Any:
    return tuple(_to_tuples(x) for x in v) if isinstance(v, list) else v

