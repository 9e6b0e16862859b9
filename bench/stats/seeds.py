"""A against B over pretraining seeds: does a change move the numbers beyond seed-to-seed noise?

``bench compare`` pairs a result with its counterpart of the same pretraining seed and resamples
the test set, which answers "are these two models different on these samples". A change that
alters numerics (bf16, another kernel) sends every pretraining run down another trajectory, so
it makes a different model at the same seed almost surely, as another seed would. Whether it
*changes the method* is a question about the spread over pretraining seeds: each side's values
of a metric over its seeds, their means, and Welch's t-test of equal means (scipy), with Holm's
adjustment over the table. Results group by (task, dataset, protocol, fraction, evaluation seed);
a cell needs at least two seeds on each side.
"""

from __future__ import annotations

import math
import warnings
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.stats.paired import holm

CELL_KEY = ("task", "dataset", "protocol", "fraction", "seed")  # what the two sides' seed sets share
MIN_SEEDS = 2


@dataclass(frozen=True)
class SeedComparison:
    """One metric of one cell: each side's values over its pretraining seeds, and Welch's test."""

    cell: dict[str, Any]
    metric: str
    a: tuple[float, ...]
    b: tuple[float, ...]
    p_value: float
    holm_p: float = math.nan

    @property
    def difference(self) -> float:
        return float(np.mean(self.a) - np.mean(self.b))


def welch_p(a: Iterable[float], b: Iterable[float]) -> float:
    """Two-sided p of Welch's t-test of equal means. Both sides constant: 1 if equal, else 0 (no
    seed noise at all, and a difference); NaN with fewer than two values on a side."""
    from scipy.stats import ttest_ind

    xa, xb = np.asarray(list(a), np.float64), np.asarray(list(b), np.float64)
    if min(xa.size, xb.size) < MIN_SEEDS:
        return math.nan
    if np.ptp(xa) == 0 and np.ptp(xb) == 0:
        return 1.0 if xa[0] == xb[0] else 0.0
    with warnings.catch_warnings():  # near-equal values: scipy warns of precision loss, the p stays valid
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(ttest_ind(xa, xb, equal_var=False).pvalue)


def _by_cell(results: Iterable[tuple[Path, Any]]) -> dict[tuple, dict[str, dict[int, float]]]:
    """cell -> metric -> pretraining seed -> value (finite values only)."""
    out: dict[tuple, dict[str, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    for _, r in results:
        cell = tuple(getattr(r, k) for k in CELL_KEY)
        for metric, value in r.metrics.items():
            if value is not None and math.isfinite(value):
                out[cell][metric][r.pretrain_seed if r.pretrain_seed is not None else -1] = float(value)
    return out


def compare_over_seeds(a: list[tuple[Path, Any]], b: list[tuple[Path, Any]]) -> list[SeedComparison]:
    """Every metric both sides hold in a cell where each has at least two pretraining seeds,
    Holm-adjusted over the returned rows, in cell then metric order."""
    ia, ib = _by_cell(a), _by_cell(b)
    rows: list[SeedComparison] = []
    for cell in sorted(set(ia) & set(ib), key=str):
        for metric in sorted(set(ia[cell]) & set(ib[cell])):
            va, vb = ia[cell][metric], ib[cell][metric]
            if min(len(va), len(vb)) < MIN_SEEDS:
                continue
            xa, xb = tuple(va[s] for s in sorted(va)), tuple(vb[s] for s in sorted(vb))
            rows.append(SeedComparison(dict(zip(CELL_KEY, cell)), metric, xa, xb, welch_p(xa, xb)))
    adjusted = holm([r.p_value for r in rows])
    return [SeedComparison(r.cell, r.metric, r.a, r.b, r.p_value, h) for r, h in zip(rows, adjusted)]


def summary(rows: list[SeedComparison], alpha: float = 0.05) -> str:
    """One sentence: how many rows fall below ``alpha`` before and after Holm, and how many one
    expects below it by chance when A and B are the same (a fraction ``alpha`` of them)."""
    tested = [r for r in rows if math.isfinite(r.p_value)]
    raw = sum(r.p_value < alpha for r in tested)
    adjusted = sum(r.holm_p < alpha for r in tested)
    return (f"{len(tested)} metric(s) over pretraining seeds; {raw} with Welch p < {alpha:g} "
            f"(about {alpha * len(tested):.1f} expected by chance if A and B are the same), {adjusted} after Holm")
