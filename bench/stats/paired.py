"""Paired comparisons: the bootstrap of a difference, its p-value, and Holm's adjustment.

Two results scored on the same test samples are resampled with the same indices (same seed,
same units), so each resample gives one difference ``a - b`` and the spread of those
differences carries the correlation between the two. The p-value inverts the percentile
interval: it is the smallest ``1 - level`` at which the interval of the difference excludes 0,
``p = min(1, 2 * min(P*(d <= 0), P*(d >= 0)))`` with the add-one correction
``P*(E) = (1 + #E) / (1 + B)``, so it is never 0 (the smallest is ``2 / (B + 1)``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from bench.stats.resample import DEFAULT_LEVEL, percentile_interval


@dataclass(frozen=True)
class PairedDifference:
    """``a - b`` with its paired bootstrap interval and two-sided p-value."""

    a: float
    b: float
    difference: float
    low: float
    high: float
    p_value: float
    level: float = DEFAULT_LEVEL
    n_resamples: int = 0
    undefined: int = 0  # resamples where either side was NaN

    def to_dict(self) -> dict[str, float | int | None]:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()}


def bootstrap_p_value(differences: np.ndarray) -> float:
    """Two-sided p-value of "no difference" from bootstrap differences (NaN ones left out)."""
    d = np.asarray(differences, dtype=np.float64)
    d = d[np.isfinite(d)]
    if d.size == 0:
        return math.nan
    le = (1 + np.count_nonzero(d <= 0)) / (1 + d.size)
    ge = (1 + np.count_nonzero(d >= 0)) / (1 + d.size)
    return float(min(1.0, 2 * min(le, ge)))


def paired_difference(
    a: float, b: float, samples_a: np.ndarray, samples_b: np.ndarray, level: float = DEFAULT_LEVEL
) -> PairedDifference:
    """The difference of two point estimates with the interval and p-value of their paired resamples.

    ``samples_a``/``samples_b`` [B] must come from the same resample indices.
    """
    sa, sb = np.asarray(samples_a, dtype=np.float64), np.asarray(samples_b, dtype=np.float64)
    if sa.shape != sb.shape:
        raise ValueError(f"paired bootstrap: {sa.shape} resamples of a for {sb.shape} of b")
    d = sa - sb
    diff = float(a) - float(b)
    low, high, undefined = percentile_interval(d, level)
    p = bootstrap_p_value(d)
    if not math.isfinite(diff):
        low = high = p = math.nan
    return PairedDifference(float(a), float(b), diff, low, high, p, level, int(d.size), undefined)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the input order; NaN entries stay NaN and do not count.

    The i-th smallest of m p-values becomes ``max_{j <= i} min(1, (m - j + 1) p_(j))``.
    (scipy has no Holm; statsmodels' ``multipletests(method="holm")`` gives the same numbers.)
    """
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, math.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if ok.size == 0:
        return out.tolist()
    order = ok[np.argsort(p[ok], kind="stable")]
    m = order.size
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
    return out.tolist()
