"""Where a command's data comes from: ``--data DIR`` or the embedded default (SynthCXR)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from bench.errors import UserError
from bench.stale import remove_stale

log = logging.getLogger(__name__)


def data_dir(data: str | Path | None, cfg: Any) -> Path:
    """``--data`` when given, else the cached SynthCXR sized by ``cfg.data`` (generated once)."""
    if data is not None:
        path = Path(data).expanduser()
        if not path.is_dir():
            raise UserError(f"--data {path}: no such folder")
        return path
    from bench.data.synth.cache import cache_root, default_data_dir

    remove_stale(cache_root())  # folders of generations that were killed
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


def data_source(name: str, data: str | Path | None, cfg: Any) -> dict[str, Any]:
    """Where a result's data came from, recorded in every result and checkpoint.

    ``embedded-default`` (no ``--data``: the generator version, seed, studies, size and
    difficulty), ``synthcxr`` (``--data`` pointing at a folder ``bench data synth`` wrote: the
    same fields from its manifest) or ``dataset`` (a user's copy of a real dataset: its name,
    root and a fingerprint of the files at its top level: names, sizes and mtimes, which is
    where every format keeps its CSV/list files). Only ``dataset`` results are ever compared
    with published numbers.
    """
    import hashlib
    import json

    root = dataset_root(name, data, cfg)
    synth = _synth_manifest(root)
    if data is None or synth is not None:
        info = synth or {}
        source = {
            "kind": "embedded-default" if data is None else "synthcxr",
            "name": name,
            "generator_version": info.get("generator_version"),
            "seed": info.get("seed", cfg.data.synth_seed),
            "studies": info.get("studies", cfg.data.studies),
            "size": info.get("size", cfg.data.synth_size),
            "difficulty": cfg.data.synth_difficulty if data is None else info.get("difficulty"),
        }
        if data is not None:
            source["root"] = str(root)
        return source
    stats = sorted(
        (p.name, p.stat().st_size, int(p.stat().st_mtime)) for p in root.iterdir() if p.is_file()
    )
    fingerprint = hashlib.sha256(json.dumps(stats).encode()).hexdigest()[:16]
    return {"kind": "dataset", "name": name, "root": str(root.resolve()), "fingerprint": fingerprint}


def _synth_manifest(root: Path) -> dict[str, Any] | None:
    """The SynthCXR manifest of the folder holding ``root`` (or of ``root``), if there is one."""
    import json

    from bench.data.synth.generate import MANIFEST

    for folder in (root, root.parent):
        path = folder / MANIFEST
        if path.is_file():
            try:
                return json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return {}
    return None
