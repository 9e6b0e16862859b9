"""What ``bench evaluate`` hands to a task: :class:`TaskData`, and the :class:`FeatureCache`.

A task's ``evaluate(method, data, cfg)`` does no file I/O of its own: the CLI reads the dataset,
computes the splits (and writes them out with their hashes), and passes everything in ``data``.
Frozen-encoder features go through ``data.cache``, so a sweep over label fractions and seeds
encodes each image once; the cache is the one place that touches disk on a task's behalf.

Cache layout: ``<root>/<model id>/<dataset>-<kind>-<size>px/<hash of the shard's keys>.pt``,
each shard a dict ``{"keys": [...], "tensors": {name: Tensor[N, ...]}}``. The model id names the
weights (``sha256-<hex>`` of a checkpoint file, or ``random-<method>-seed<S>-<config hash>``);
images are cached per record, so a request for new records computes only those.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from bench.data.base import Record, Table
from bench.stale import remove_stale

log = logging.getLogger(__name__)


@dataclass
class TaskData:
    """Everything one evaluation run needs besides the method and the config.

    dataset: registry name ("chexpert", "rsna", ...); root: that dataset's folder.
    table: the records as the dataset's reader returned them.
    splits: split name -> record keys for this run ("train"/"val"/"test" at ``fraction`` and
        ``seed``; a task's ``prepare`` hook may replace them, e.g. by the zero-shot subset).
    model_id: names the weights for the feature cache (see the module docstring).
    cache: the feature cache, or None to encode every time.
    data_dir: the folder holding every dataset (tasks that read a sibling, e.g. mimic-cxr reports).
    work_dir: a scratch folder for this run (the dense tasks write their toolbox logs there).
    extras: inputs a task's ``prepare`` hook computed (e.g. retrieval text queries).
    """

    dataset: str
    root: Path
    table: Table
    splits: dict[str, list[str]] = field(default_factory=dict)
    fraction: float = 1.0
    seed: int = 0
    model_id: str = "unknown"
    cache: FeatureCache | None = None
    data_dir: Path | None = None
    work_dir: Path | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    _index: dict[str, Record] | None = field(default=None, repr=False, compare=False)

    def record(self, key: str) -> Record:
        if self._index is None:
            self._index = {r.key: r for r in self.table.records}
        try:
            return self._index[key]
        except KeyError:
            raise KeyError(f"{self.dataset}: no record with key {key!r}") from None

    def records(self, split: str) -> list[Record]:
        """The records of ``split`` in split order; a missing split raises naming the present ones."""
        if split not in self.splits:
            raise KeyError(f"{self.dataset}: no split {split!r}; splits: {sorted(self.splits)}")
        return [self.record(k) for k in self.splits[split]]


def fraction_splits(splits: dict[str, list[str]], fraction: float) -> dict[str, list[str]]:
    """{"train", "val", "test"} for one label fraction from :func:`bench.data.splits.make_splits` output."""
    from bench.data.splits import fraction_name

    name = fraction_name(fraction)
    if name not in splits:
        have = sorted(k for k in splits if k.startswith("train"))
        raise ValueError(f"no split {name!r} for label fraction {fraction:g}; present: {have}")
    return {"train": list(splits[name]), "val": list(splits.get("val", [])), "test": list(splits.get("test", []))}


def keys_hash(keys: Sequence[str]) -> str:
    """sha256 of the keys, one per line, in the given order (names a cache shard)."""
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]+", "-", text)


Compute = Callable[[list[str]], dict[str, torch.Tensor]]


class _Store:
    """The rows of one namespace held in memory: key -> row, tensors concatenated."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.tensors: dict[str, torch.Tensor] = {}

    def add(self, keys: list[str], tensors: dict[str, torch.Tensor]) -> None:
        if self.tensors and set(tensors) != set(self.tensors):
            raise ValueError(f"cached tensors {sorted(self.tensors)} differ from new ones {sorted(tensors)}")
        start = len(self.index)
        for i, key in enumerate(keys):
            self.index[key] = start + i
        for name, value in tensors.items():
            old = self.tensors.get(name)
            self.tensors[name] = value if old is None else torch.cat([old, value])

    def take(self, keys: Sequence[str]) -> dict[str, torch.Tensor]:
        rows = torch.tensor([self.index[k] for k in keys], dtype=torch.long)
        return {name: value.index_select(0, rows) for name, value in self.tensors.items()}


class FeatureCache:
    """Per-record tensors keyed by (model id, dataset, kind, image size), in memory and on disk.

    ``root=None`` keeps everything in memory only. ``computed`` counts the records encoded and
    ``extractions`` the calls that encoded any, so tests can check the cache is hit.
    """

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else None
        self._stores: dict[tuple[str, ...], _Store] = {}
        self.computed = 0
        self.extractions = 0

    def folder(self, namespace: tuple[str, str, str, int]) -> Path | None:
        if self.root is None:
            return None
        model_id, dataset, kind, size = namespace
        return self.root / _safe(model_id) / _safe(f"{dataset}-{kind}-{size}px")

    def get(
        self, namespace: tuple[str, str, str, int], keys: Sequence[str], compute: Compute
    ) -> dict[str, torch.Tensor]:
        """Tensors for ``keys`` in order; ``compute(missing_keys)`` encodes what is not cached yet.

        ``compute`` returns ``{name: Tensor[len(missing), ...]}`` on any device; rows are stored
        on the CPU.
        """
        store = self._load(namespace)
        missing = list(dict.fromkeys(k for k in keys if k not in store.index))
        if missing:
            tensors = {n: t.detach().cpu() for n, t in compute(missing).items()}
            for name, value in tensors.items():
                if value.shape[0] != len(missing):
                    raise ValueError(f"compute returned {value.shape[0]} rows of {name!r} for {len(missing)} keys")
            store.add(missing, tensors)
            self._save(namespace, missing, tensors)
            self.computed += len(missing)
            self.extractions += 1
            log.info("encoded %d image(s) for %s", len(missing), "/".join(map(str, namespace)))
        return store.take(keys)

    def _load(self, namespace: tuple[str, str, str, int]) -> _Store:
        if namespace in self._stores:
            return self._stores[namespace]
        store = _Store()
        folder = self.folder(namespace)
        if folder is not None and folder.is_dir():
            remove_stale(folder)
            for path in sorted(folder.glob("*.pt")):
                try:
                    shard = torch.load(path, map_location="cpu", weights_only=True)
                    fresh = [k for k in shard["keys"] if k not in store.index]
                    if len(fresh) == len(shard["keys"]):
                        store.add(list(shard["keys"]), shard["tensors"])
                except Exception as exc:  # noqa: BLE001 - a broken shard is re-encoded, never fatal
                    log.warning("ignoring unreadable feature cache shard %s (%s)", path, exc)
        self._stores[namespace] = store
        return store

    def _save(self, namespace: tuple[str, str, str, int], keys: list[str], tensors: dict[str, torch.Tensor]) -> None:
        folder = self.folder(namespace)
        if folder is None:
            return
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".shard.{os.getpid()}.", suffix=".tmp", dir=folder)
        os.close(fd)
        try:
            torch.save({"keys": keys, "tensors": tensors}, tmp)
            os.replace(tmp, folder / f"{keys_hash(keys)[:32]}.pt")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
