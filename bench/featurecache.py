"""The feature cache: per-record tensors of a frozen encoder, in memory and on disk.

A sweep over label fractions and seeds encodes each image once: tasks ask
:meth:`FeatureCache.get` for the tensors of some records and pass a function that encodes the
records not cached yet. Its default folder is :func:`default_root`, ``features`` under the
harness's cache root (:func:`bench.fileio.cache_root`).

Layout: ``<root>/<model id>/<dataset>-<kind>-<size>px/<hash of the shard's keys>.pt``, each shard
a dict ``{"keys": [...], "tensors": {name: Tensor[N, ...]}}`` written atomically. The model id
names the weights (``sha256-<hex>`` of a checkpoint file, or
``random-<method>-seed<S>-<config hash>``); images are cached per record, so a request for new
records computes only those.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from bench.fileio import WeightsFileError, cache_root, load_weights_only, safe_name, write_bytes_atomic
from bench.hashing import keys_hash
from bench.stale import remove_stale

log = logging.getLogger(__name__)


def default_root() -> Path:
    """``<cache root>/features``: where ``bench evaluate`` keeps features unless told otherwise."""
    return cache_root() / "features"


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
        return self.root / safe_name(model_id) / safe_name(f"{dataset}-{kind}-{size}px")

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
            remove_stale(folder)  # temporaries of writers killed mid-shard
            for path in sorted(folder.glob("*.pt")):
                try:
                    shard = load_weights_only(path)  # a shard holding pickled code is refused, never run
                    fresh = [k for k in shard["keys"] if k not in store.index]
                    if len(fresh) == len(shard["keys"]):
                        store.add(list(shard["keys"]), shard["tensors"])
                except WeightsFileError as exc:  # a refused or broken shard is encoded again, never fatal
                    log.warning("ignoring feature cache shard %s (its records are encoded again)", exc)
                except Exception as exc:  # noqa: BLE001 - readable, but not a shard
                    log.warning("ignoring feature cache shard %s: not a shard (%s: %s); its records are encoded "
                                "again", path, type(exc).__name__, str(exc)[:200])
        self._stores[namespace] = store
        return store

    def _save(self, namespace: tuple[str, str, str, int], keys: list[str], tensors: dict[str, torch.Tensor]) -> None:
        folder = self.folder(namespace)
        if folder is None:
            return
        shard = {"keys": keys, "tensors": tensors}
        write_bytes_atomic(folder / f"{keys_hash(keys)[:32]}.pt", lambda fh: torch.save(shard, fh))


def cache_for(cfg: Any) -> FeatureCache:
    """The frozen-feature cache ``eval.cache_dir`` names ("" = the default cache, "none" = off)."""
    where = cfg.eval.cache_dir.strip()
    if where.lower() == "none":
        return FeatureCache(None)
    return FeatureCache(Path(where) if where else default_root())
