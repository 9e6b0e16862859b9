"""Where a command's data comes from: ``--data DIR`` or the embedded default (SynthCXR)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from bench.errors import UserError

log = logging.getLogger(__name__)


def data_dir(data: str | Path | None, cfg: Any) -> Path:
    """``--data`` when given, else the cached SynthCXR sized by ``cfg.data`` (generated once)."""
    if data is not None:
        path = Path(data).expanduser()
        if not path.is_dir():
            raise UserError(f"--data {path}: no such folder")
        return path
    from bench.data.synth.cache import default_data_dir

    return default_data_dir(
        seed=cfg.data.synth_seed,
        studies=cfg.data.studies,
        size=cfg.data.synth_size,
        difficulty=cfg.data.synth_difficulty,
    )


def dataset_root(name: str, data: str | Path | None, cfg: Any) -> Path:
    """The folder of dataset ``name``: ``DIR/<name>`` when DIR holds several, else DIR itself."""
    base = data_dir(data, cfg)
    candidate = base / name
    if candidate.is_dir():
        return candidate
    if data is not None:
        return base
    raise UserError(f"the embedded default at {base} has no {name!r} folder; delete it to regenerate")
