"""The CheXpert evaluation subsets, built deterministically from a seed.

- 5x200 (zero-shot), as GLoRIA's/MGCA's ``preprocess_chexpert_5x200_data`` builds it: CheXpert
  train, frontal views, blank -> 0; class ``c`` keeps images where ``c`` is 1 and every other
  label except No Finding is 0 (the other four competition labels and the eight other
  findings), then samples ``n`` per class.
- 8x200 (retrieval candidates), as ConVIRT's released ``candidate.csv``: CheXpert train, frontal
  views; class ``c`` keeps images whose only positive among all 14 CheXpert labels is ``c``
  (other labels 0, uncertain or blank), then samples ``n`` per class. Every candidate thus has
  exactly one class, the one its relevance is judged by.

``n`` is ``per_class`` unless a class has fewer eligible images; then every class gets the
smallest class's count, so the subset stays balanced. Sampling sorts candidates by key and
draws with ``random.Random(seed)``, so the subset depends only on the records and the seed.

Also here: :func:`balance_negatives`, MGCA's SIIM training set (every positive, as many negatives).
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable, Sequence

import numpy as np

from bench.data.base import CHEXPERT_LABELS, COMPETITION_LABELS, RETRIEVAL_CLASSES, Record

log = logging.getLogger(__name__)


def label(record: Record, name: str) -> float:
    """The raw label with blank -> 0 (as the subsets' recipes read train.csv)."""
    value = record.labels.get(name, math.nan)
    return 0.0 if value is None or math.isnan(value) else float(value)


def is_frontal(record: Record) -> bool:
    view = str(record.meta.get("view", "frontal")).strip().lower()
    return view in ("frontal", "")


def exclusive_class(record: Record, classes: Sequence[str] = COMPETITION_LABELS) -> str | None:
    """The one class of ``classes`` this record belongs to under the 5x200 rule, or None."""
    positives = [c for c in classes if label(record, c) == 1.0]
    if len(positives) != 1:
        return None
    others = [n for n in CHEXPERT_LABELS if n not in ("No Finding", positives[0])]
    return positives[0] if all(label(record, n) == 0.0 for n in others) else None


def _balanced_n(pools: dict[str, list[Record]], per_class: int, what: str) -> int:
    empty = [c for c, pool in pools.items() if not pool]
    if empty:
        raise ValueError(f"{what}: no eligible image for class(es) {empty}; the data is too small or lacks them")
    n = min(per_class, *(len(p) for p in pools.values()))
    if n < per_class:
        log.warning("%s: %d image(s) per class instead of %d (smallest class has %d)", what, n, per_class, n)
    return n


def _sample(pool: list[Record], n: int, rng: random.Random) -> list[Record]:
    return rng.sample(sorted(pool, key=lambda r: r.key), n)


def _per_class(
    records: Sequence[Record],
    classify: Callable[[Record], str | None],
    classes: Sequence[str],
    per_class: int,
    seed: int,
    what: str,
) -> list[tuple[str, str]]:
    """(key, class) pairs: frontal train images by their one class, ``n`` drawn per class in order."""
    pools: dict[str, list[Record]] = {c: [] for c in classes}
    for record in records:
        if record.split == "train" and is_frontal(record):
            cls = classify(record)
            if cls is not None:
                pools[cls].append(record)
    n = _balanced_n(pools, per_class, what)
    rng = random.Random(seed)
    return [(r.key, c) for c in classes for r in _sample(pools[c], n, rng)]


def chexpert_5x200(records: Sequence[Record], per_class: int, seed: int) -> list[tuple[str, str]]:
    """(key, class) pairs of the 5xN zero-shot subset, class by class in competition order."""
    return _per_class(records, exclusive_class, COMPETITION_LABELS, per_class, seed, "CheXpert 5x200")


def single_label_class(record: Record, classes: Sequence[str] = RETRIEVAL_CLASSES) -> str | None:
    """The record's one positive CheXpert label when it is the only one and one of ``classes``."""
    positives = [n for n in CHEXPERT_LABELS if label(record, n) == 1.0]
    return positives[0] if len(positives) == 1 and positives[0] in classes else None


def chexpert_8x200(records: Sequence[Record], per_class: int, seed: int) -> list[tuple[str, str]]:
    """(key, class) pairs of the 8xN single-label retrieval candidates, class by class."""
    return _per_class(records, single_label_class, RETRIEVAL_CLASSES, per_class, seed, "CheXpert 8x200")


def balance_negatives(
    records: Sequence[Record], seed: int, positive: Callable[[Record], bool]
) -> list[Record]:
    """Every positive plus as many negatives drawn at random (MGCA's SIIM training set), in input order."""
    pos = [r for r in records if positive(r)]
    neg = [r for r in records if not positive(r)]
    rng = np.random.default_rng(seed)
    keep = rng.permutation(len(neg))[: len(pos)] if len(neg) > len(pos) else np.arange(len(neg))
    chosen = {neg[i].key for i in keep} | {r.key for r in pos}
    return [r for r in records if r.key in chosen]
