"""The CheXpert evaluation subsets, built deterministically from a seed.

- 5x200 (zero-shot), as GLoRIA's/MGCA's ``preprocess_chexpert_5x200_data`` builds it: CheXpert
  train, frontal views, blank -> 0; class ``c`` keeps images where ``c`` is 1 and every other
  label except No Finding is 0 (the other four competition labels and the eight other
  findings), then samples ``n`` per class.
- 8x200 (retrieval candidates), as ConVIRT's ``candidate.csv``: per class, ``n`` train images
  whose label for the class is 1; an image is a candidate of one class only.

``n`` is ``per_class`` unless a class has fewer eligible images; then every class gets the
smallest class's count, so the subset stays balanced. Sampling sorts candidates by key and
draws with ``random.Random(seed)``, so the subset depends only on the records and the seed.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Sequence

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


def chexpert_5x200(records: Sequence[Record], per_class: int, seed: int) -> list[tuple[str, str]]:
    """(key, class) pairs of the 5xN zero-shot subset, class by class in competition order."""
    pools: dict[str, list[Record]] = {c: [] for c in COMPETITION_LABELS}
    for record in records:
        if record.split == "train" and is_frontal(record):
            cls = exclusive_class(record)
            if cls is not None:
                pools[cls].append(record)
    n = _balanced_n(pools, per_class, "CheXpert 5x200")
    rng = random.Random(seed)
    return [(r.key, c) for c in COMPETITION_LABELS for r in _sample(pools[c], n, rng)]


def _draw_exclusive(pools: dict[str, list[Record]], n: int, seed: int) -> dict[str, list[Record]] | None:
    """n per class, rarest class first so common classes do not take the rare ones' images."""
    rng = random.Random(seed)
    taken: set[str] = set()
    drawn: dict[str, list[Record]] = {}
    for cls in sorted(pools, key=lambda c: (len(pools[c]), c)):
        pool = [r for r in pools[cls] if r.key not in taken]
        if len(pool) < n:
            return None
        drawn[cls] = _sample(pool, n, rng)
        taken.update(r.key for r in drawn[cls])
    return drawn


def chexpert_8x200(records: Sequence[Record], per_class: int, seed: int) -> list[tuple[str, str]]:
    """(key, class) pairs of the 8xN retrieval candidates; no image is drawn for two classes."""
    eligible = [r for r in records if r.split == "train" and is_frontal(r)]
    pools = {c: [r for r in eligible if label(r, c) == 1.0] for c in RETRIEVAL_CLASSES}
    n = _balanced_n(pools, per_class, "CheXpert 8x200")
    drawn = _draw_exclusive(pools, n, seed)
    while drawn is None and n > 1:  # overlapping classes: fewer per class until every class fits
        n -= 1
        drawn = _draw_exclusive(pools, n, seed)
    if drawn is None:
        raise ValueError("CheXpert 8x200: the classes share their only images; no exclusive draw exists")
    if n < per_class:
        log.warning("CheXpert 8x200: %d candidate(s) per class", n)
    return [(r.key, c) for c in RETRIEVAL_CLASSES for r in drawn[c]]
