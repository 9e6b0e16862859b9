"""Statistics for auditable numbers: bootstrap intervals, paired comparisons, DeLong, Holm.

numpy and scipy only (no torch), so ``bench compare`` and ``bench rescore`` load fast.
"""

from bench.stats.auroc import DeLongResult, auroc, auroc_resampled, delong_covariance, delong_test
from bench.stats.paired import PairedDifference, bootstrap_p_value, holm, paired_difference
from bench.stats.resample import (
    DEFAULT_RESAMPLES,
    Interval,
    counts,
    interval,
    percentile_interval,
    resample_indices,
)

__all__ = [
    "DEFAULT_RESAMPLES",
    "DeLongResult",
    "Interval",
    "PairedDifference",
    "auroc",
    "auroc_resampled",
    "bootstrap_p_value",
    "counts",
    "delong_covariance",
    "delong_test",
    "holm",
    "interval",
    "paired_difference",
    "percentile_interval",
    "resample_indices",
]
