"""Writing files safely: atomic replacement, portable file names, the cache root.

Every file the harness writes that another process may read while it is written (results,
checkpoints, feature-cache shards, logs, the SynthCXR folder) goes through :func:`atomic_path`:
the content is written under a temporary name in the target's folder and renamed into place with
``os.replace``, so a reader sees the old file or the new one, never half of one, and a crash
mid-write leaves the previous file intact.

Reading tensor files someone else may have written (checkpoints, official weights, ImageNet
weights, feature-cache shards, the dense tasks' trunk files) goes through :func:`load_weights_only`:
``torch.load(weights_only=True)``, so a file whose pickle would run code is refused, never executed,
and the refusal is one line naming the file and what it held.

This module imports nothing of the project but :mod:`bench.errors`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.errors import UserError

CACHE_ENV = "BENCH_CACHE"


def cache_root() -> Path:
    """``$BENCH_CACHE`` or ``~/.cache/medvlp-bench``: SynthCXR and the feature cache live below it."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "medvlp-bench").expanduser()


def safe_name(text: str) -> str:
    """``text`` with every run of characters outside ``[A-Za-z0-9_.+-]`` replaced by one ``-``."""
    return re.sub(r"[^A-Za-z0-9_.+-]+", "-", text)


@contextlib.contextmanager
def atomic_path(path: str | Path, *, directory: bool = False) -> Iterator[Path]:
    """A fresh temporary sibling of ``path`` (not created yet) to write; renamed onto ``path`` when
    the block ends cleanly.

    The temporary name starts with a dot (``.<name>.<pid>-<random>.tmp``), so globs for the real
    files do not see it; the caller creates it (so it gets the usual permissions). With
    ``directory=True`` it is a folder, and an existing ``path`` folder is removed just before the
    rename (``os.replace`` cannot replace a non-empty folder). On an exception the temporary is
    removed and the exception propagates.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        yield tmp
        if directory and path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | Path, write: Any) -> Path:
    """Call ``write(fh)`` on a binary file that replaces ``path`` atomically once flushed to disk."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        write(fh)
        fh.flush()
        os.fsync(fh.fileno())
    return path


def write_text_atomic(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Replace ``path`` with ``text`` atomically (flushed to disk before the rename)."""
    return write_bytes_atomic(path, lambda fh: fh.write(text.encode(encoding)))


def write_json_atomic(path: str | Path, data: Any) -> Path:
    """``data`` as indented, key-sorted JSON (NaN refused) replacing ``path`` atomically."""
    text = json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n"
    return write_text_atomic(path, text)


def link_or_copy(src: str | Path, dst: str | Path) -> Path:
    """``dst`` as a second name for ``src``'s bytes (a hard link, else a copy), placed atomically."""
    dst = Path(dst)
    with atomic_path(dst) as tmp:
        try:
            os.link(src, tmp)  # a second name for the same bytes: free
        except OSError:
            shutil.copyfile(src, tmp)
    return dst


class WeightsFileError(UserError):
    """A file ``torch.load(weights_only=True)`` cannot read: damaged, not torch's format, or holding
    pickled code or objects. ``reason`` is the one-line why."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


def refusal_reason(exc: BaseException) -> str:
    """One line: why a weights-only load refused a file (the global its pickle would import, if any)."""
    text = str(exc)
    found = re.search(r"GLOBAL ([\w.]+)", text)  # torch names the global the pickle would import
    if found:
        return (f"it holds pickled code or objects ({found.group(1)}), refused: only tensors and plain data "
                "are loaded (weights_only)")
    first = text.strip().splitlines()[0][:200] if text.strip() else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def load_weights_only(path: str | Path, map_location: Any = "cpu") -> Any:
    """``torch.load(path, weights_only=True)``: tensors and plain data, no code from the file runs.

    FileNotFoundError when there is no file; :class:`WeightsFileError` (a user error, one line) when
    it cannot be read that way.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - unpickling fails in many ways, all of them "unreadable"
        raise WeightsFileError(path, refusal_reason(exc)) from exc
