"""What ``bench evaluate`` hands to a task: :class:`TaskData`, the task-input contract.

The harness reads the dataset, computes the splits (and writes them out with their hashes) and
passes the records, the splits and the folders in ``data``; a task's
``evaluate(method, data, cfg)`` takes its inputs from there. Tasks may still touch files: images
are read through the records' paths, retrieval reads the sibling ``mimic-cxr`` folder under
``data_dir`` for report queries, and the dense tasks write PNG images, masks, COCO files and
their toolboxes' logs under ``work_dir``. Frozen-encoder features go through ``data.cache``
(:class:`bench.featurecache.FeatureCache`), so a sweep over label fractions and seeds encodes
each image once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.data.base import Record, Table
from bench.featurecache import FeatureCache


@dataclass
class TaskData:
    """Everything one evaluation run needs besides the method and the config.

    dataset: registry name ("chexpert", "rsna", ...); root: that dataset's folder.
    table: the records as the dataset's reader returned them.
    splits: split name -> record keys for this run ("train"/"val"/"test" at ``fraction`` and
        ``seed``; a task's ``prepare`` hook may replace them, e.g. by the zero-shot subset).
    model_id: names the weights for the feature cache (see :mod:`bench.featurecache`).
    cache: the feature cache, or None to encode every time.
    images: the preprocessed image cache at the model's size when one covers the dataset
        (``bench data cache``; loaders read its rows instead of decoding), else None.
    data_dir: the folder holding every dataset (tasks that read a sibling, e.g. mimic-cxr reports).
    work_dir: a scratch folder for this run (the dense tasks write their toolbox logs there).
    extras: inputs a task's ``prepare`` hook computed (e.g. retrieval text queries).
    predictions: the per-sample :class:`bench.predictions.Predictions` a task's ``evaluate``
        assigns (never mutates) for the engine to save beside the result; None if it saves none.
    """

    dataset: str
    root: Path
    table: Table
    splits: dict[str, list[str]] = field(default_factory=dict)
    fraction: float = 1.0
    seed: int = 0
    model_id: str = "unknown"
    cache: FeatureCache | None = None
    images: Any = None  # the preprocessed image cache (bench.data.image_cache.ImageCache) or None
    data_dir: Path | None = None
    work_dir: Path | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    predictions: Any = None
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
