"""Bootstrap resampling: seeded index draws, count matrices and percentile intervals.

Every interval and paired comparison in the harness draws its resamples here, so the same seed,
the same number of units and the same unit name give the same indices: two results scored on
the same test samples are resampled identically, which is what makes a bootstrap paired.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import asdict, dataclass

import numpy as np

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0
DEFAULT_LEVEL = 0.95


def resample_indices(n: int, n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED, unit: str = "") -> np.ndarray:
    """[n_resamples, n] int64 indices drawn with replacement from ``range(n)``.

    ``unit`` names what is resampled (``"images"``, ``"queries"``); it enters the seed so two
    unit sets of one result (retrieval's images and queries) get independent draws.
    """
    if n < 0 or n_resamples < 1:
        raise ValueError(f"resample_indices: n={n}, n_resamples={n_resamples}; need n >= 0 and n_resamples >= 1")
    rng = np.random.default_rng([int(seed), zlib.crc32(unit.encode())])
    return rng.integers(0, max(n, 1), size=(n_resamples, n), dtype=np.int64)


def counts(indices: np.ndarray, n: int) -> np.ndarray:
    """[B, n] float64: how often each unit occurs in each resample (the identity draw is all ones)."""
    b = indices.shape[0]
    flat = (indices + np.arange(b, dtype=np.int64)[:, None] * n).ravel()
    return np.bincount(flat, minlength=b * n).reshape(b, n).astype(np.float64)


@dataclass(frozen=True)
class Interval:
    """A point estimate with its percentile bootstrap interval.

    ``undefined``: resamples where the metric was NaN (e.g. no positive drawn); they are left out
    of the percentiles. ``low``/``high`` are NaN when the estimate itself is NaN or every
    resample was undefined.
    """

    value: float
    low: float
    high: float
    level: float = DEFAULT_LEVEL
    n_resamples: int = DEFAULT_RESAMPLES
    seed: int = DEFAULT_SEED
    undefined: int = 0

    def to_dict(self) -> dict[str, float | int | None]:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()}


def percentile_interval(samples: np.ndarray, level: float = DEFAULT_LEVEL) -> tuple[float, float, int]:
    """(low, high, undefined) of the finite ``samples`` at ``level`` (numpy's linear percentile)."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"interval level {level}; expected a number in (0, 1)")
    samples = np.asarray(samples, dtype=np.float64)
    finite = samples[np.isfinite(samples)]
    undefined = int(samples.size - finite.size)
    if finite.size == 0:
        return math.nan, math.nan, undefined
    alpha = (1.0 - level) / 2.0
    low, high = np.percentile(finite, [100 * alpha, 100 * (1 - alpha)])
    return float(low), float(high), undefined


def interval(value: float, samples: np.ndarray, level: float = DEFAULT_LEVEL, seed: int = DEFAULT_SEED) -> Interval:
    """:class:`Interval` of ``value`` from its bootstrap ``samples``."""
    low, high, undefined = percentile_interval(samples, level)
    if not math.isfinite(value):
        low = high = math.nan
    return Interval(float(value), low, high, level, int(np.asarray(samples).size), seed, undefined)
