"""Saved per-sample predictions: what a task scored, enough to recompute its metrics.

A task leaves a :class:`Predictions` on ``data.predictions`` (it does no file I/O itself); the
engine fills in the split hash and writes it next to the result JSON with
:func:`write_predictions`, which returns the file's sha256 for the result to record.

Format: one ``.npz`` (numpy, compressed, read with ``allow_pickle=False``) holding
``meta.json`` (a JSON string: format version, task, dataset, kind, split, split hash and the
task's own metadata such as class names or the P@k cut-offs), ``keys`` (the record keys of the
scored samples, in row order: ids into the hashed split) and one ``a.<name>`` per array.

``kind`` names how :mod:`bench.stats.scorers` resamples the arrays (``binary``, ``multilabel``,
``multiclass``, ``retrieval``; any other kind is resampled through the task's own ``rescore``).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import UserError

FORMAT_VERSION = 1
SUFFIX = ".predictions.npz"
_META, _KEYS, _ARRAY = "meta.json", "keys", "a."


class PredictionsError(UserError):
    """A predictions file that cannot be read, or does not match its result."""


@dataclass
class Predictions:
    """Per-sample outputs of one evaluation.

    task/dataset: as in the result. kind: see the module docstring. keys: the scored records'
    keys, one per row of the per-image arrays. split: the name of the split they come from
    ("test", or "subset" for the zero-shot and retrieval subsets); split_hash: that split's hash
    (:func:`bench.data.splits.split_hash`), filled by the engine. arrays: name -> numpy array
    (the task documents its names). meta: JSON-serialisable settings the metrics need.
    """

    task: str
    dataset: str
    kind: str
    keys: list[str]
    arrays: dict[str, np.ndarray]
    split: str = "test"
    split_hash: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.keys = [str(k) for k in self.keys]
        self.arrays = {name: np.asarray(value) for name, value in self.arrays.items()}
        for name, value in self.arrays.items():
            if value.dtype == object:
                raise ValueError(f"predictions array {name!r} has dtype object; use numeric or str arrays")

    def __len__(self) -> int:
        return len(self.keys)

    def header(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "task": self.task,
            "dataset": self.dataset,
            "kind": self.kind,
            "split": self.split,
            "split_hash": self.split_hash,
            "meta": self.meta,
        }


def sha256_file(path: Path | str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def predictions_path(result_path: Path | str) -> Path:
    """The predictions file beside a result JSON: ``<stem>.predictions.npz``."""
    path = Path(result_path)
    return path.with_name(path.stem + SUFFIX)


def write_predictions(pred: Predictions, path: Path | str) -> str:
    """Write ``pred`` atomically to ``path``; returns the file's sha256."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    members = {_META: np.array(json.dumps(pred.header(), sort_keys=True, allow_nan=False))}
    members[_KEYS] = np.array(pred.keys, dtype=np.str_)
    members.update({_ARRAY + name: value for name, value in pred.arrays.items()})
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **members)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(buffer.getvalue())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return sha256_file(path)


def read_predictions(path: Path | str, sha256: str | None = None) -> Predictions:
    """Read a file written by :func:`write_predictions`; with ``sha256``, check the file first."""
    path = Path(path)
    if not path.is_file():
        raise PredictionsError(f"{path}: no such predictions file")
    if sha256 is not None and sha256_file(path) != sha256:
        raise PredictionsError(f"{path}: sha256 {sha256_file(path)[:12]}... differs from the result's {sha256[:12]}...")
    try:
        with np.load(path, allow_pickle=False) as npz:
            header = json.loads(str(npz[_META]))
            keys = npz[_KEYS].tolist()
            arrays = {name[len(_ARRAY) :]: npz[name] for name in npz.files if name.startswith(_ARRAY)}
    except (OSError, ValueError, KeyError) as exc:
        raise PredictionsError(f"{path}: not a predictions file ({exc})") from None
    if header.get("format_version", 0) > FORMAT_VERSION:
        raise PredictionsError(
            f"{path}: format_version {header['format_version']} is newer than this harness reads ({FORMAT_VERSION})"
        )
    return Predictions(
        header["task"], header["dataset"], header["kind"], keys, arrays,
        header.get("split", "test"), header.get("split_hash", ""), header.get("meta", {}),
    )


ENTRY = "predictions"  # the key of a result's ``extra`` that names its predictions file


def save_for_result(pred: Predictions, result_path: Path | str, split_hashes: dict[str, str]) -> dict[str, Any]:
    """Write ``pred`` beside ``result_path``; returns the entry for ``result.extra["predictions"]``.

    The split hash comes from the result's ``split_hashes`` (the engine's hashed split of the
    same name), so a predictions file and its result cannot disagree about the samples.
    """
    if pred.split not in split_hashes:
        raise ValueError(f"predictions name split {pred.split!r}; the result hashed {sorted(split_hashes)}")
    pred.split_hash = split_hashes[pred.split]
    path = predictions_path(result_path)
    sha = write_predictions(pred, path)
    return {"file": path.name, "sha256": sha, "kind": pred.kind, "split": pred.split, "split_hash": pred.split_hash}


def load_for_result(result_path: Path | str, extra: dict[str, Any], split_hashes: dict[str, str]) -> Predictions:
    """The predictions a result names (``extra["predictions"]``), checked by sha256 and split hash."""
    entry = extra.get(ENTRY)
    if not entry:
        raise PredictionsError(f"{result_path}: the result names no predictions file (extra.{ENTRY} is missing)")
    path = Path(result_path).parent / entry["file"]
    pred = read_predictions(path, sha256=entry.get("sha256"))
    want = split_hashes.get(pred.split)
    if want is not None and pred.split_hash != want:
        raise PredictionsError(
            f"{path}: split {pred.split!r} hash {pred.split_hash[:12]} differs from the result's {want[:12]}"
        )
    return pred
