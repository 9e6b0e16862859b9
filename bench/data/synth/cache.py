"""The embedded default: SynthCXR generated once into a cache folder outside the repository.

``$BENCH_CACHE`` (default ``~/.cache/medvlp-bench``) holds one folder per generator version and
parameters, e.g. ``synth-2-seed0-n2000-224px`` (``-builtin-boxes`` appended when the real RSNA boxes
are not installed, see ``boxes``). It is generated into a temporary sibling under a
file lock and renamed into place when complete, so concurrent processes neither clash nor see
half-written data; a ``.complete`` marker (with the generation summary) makes later calls reuse it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

from bench.data.synth.boxes import opacity_boxes
from bench.data.synth.difficulty import resolve_difficulty
from bench.data.synth.generate import GENERATOR_VERSION, generate
from bench.fileio import CACHE_ENV, atomic_path, cache_root

log = logging.getLogger(__name__)
__all__ = ["CACHE_ENV", "MARKER", "cache_root", "default_data_dir", "folder_name"]
MARKER = ".complete"


def folder_name(seed: int, studies: int, size: int, difficulty: str | dict | None = None) -> str:
    name = f"synth-{GENERATOR_VERSION}-seed{seed}-n{studies}-{size}px"
    if opacity_boxes().source != "rsna-labels":  # the real RSNA boxes are not installed
        name += "-builtin-boxes"
    diff = resolve_difficulty(difficulty)
    if diff != resolve_difficulty("default"):
        tag = hashlib.sha256(json.dumps(asdict(diff), sort_keys=True).encode()).hexdigest()[:10]
        name += f"-d{tag}"
    return name


@contextlib.contextmanager
def _locked(path: Path, poll: float = 0.5) -> Iterator[None]:
    """An exclusive lock on ``path`` (flock where available, else an O_EXCL lock file)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - non-POSIX
        fcntl = None
    if fcntl is not None:
        with path.open("a") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return
    while True:  # pragma: no cover - non-POSIX
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            time.sleep(poll)
    try:  # pragma: no cover
        yield
    finally:  # pragma: no cover
        os.close(fd)
        path.unlink(missing_ok=True)


def default_data_dir(
    seed: int = 0,
    studies: int = 2000,
    size: int = 224,
    difficulty: str | dict | None = None,
    *,
    root: Path | str | None = None,
) -> Path:
    """The cached SynthCXR folder for these parameters, generated on first use."""
    base = Path(root).expanduser() if root is not None else cache_root()
    final = base / folder_name(seed, studies, size, difficulty)
    if (final / MARKER).is_file():
        return final
    base.mkdir(parents=True, exist_ok=True)
    with _locked(base / f"{final.name}.lock"):
        if (final / MARKER).is_file():  # another process finished it while we waited
            return final
        log.info(
            "generating the embedded default (SynthCXR, %d studies, %d px) into %s", studies, size, final
        )
        workers = min(6, os.cpu_count() or 1)
        with atomic_path(final, directory=True) as tmp:  # an incomplete leftover (no marker) is replaced
            summary = generate(
                tmp, studies=studies, seed=seed, size=size, difficulty=difficulty or "default", workers=workers
            )
            summary.pop("out", None)
            (tmp / MARKER).write_text(json.dumps(summary, sort_keys=True, indent=1) + "\n", encoding="utf-8")
    return final
