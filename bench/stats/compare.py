"""Paired comparison of two results scored on the same samples: bootstrap and DeLong.

:func:`check_paired` refuses predictions that do not share their samples (another split hash,
other keys or order, other targets, other retrieval queries): a paired test of those has no
meaning. :func:`compare_predictions` then gives, per metric, ``a - b`` with its paired bootstrap
interval and p-value (:mod:`bench.stats.paired`), and for a per-class or binary AUROC also
DeLong's p-value (:mod:`bench.stats.auroc`). A macro AUROC (a mean over classes) has no DeLong
test here; its bootstrap p-value stands. Holm's adjustment is applied by the caller over the
whole table (:func:`adjust`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from bench.predictions import Predictions, PredictionsError
from bench.stats.auroc import delong_test
from bench.stats.paired import PairedDifference, holm, paired_difference
from bench.stats.resample import DEFAULT_LEVEL, DEFAULT_RESAMPLES, DEFAULT_SEED
from bench.stats.scorers import NOT_RESAMPLED, Rescore, resampled_metrics

log = logging.getLogger(__name__)
SAME_ARRAYS = {"targets", "relevant"}  # ground truth: must be identical on both sides


@dataclass(frozen=True)
class MetricComparison:
    metric: str
    paired: PairedDifference
    delong_p: float = math.nan
    holm_p: float = math.nan  # the bootstrap p-value, Holm-adjusted over the table
    delong_holm_p: float = math.nan


def check_paired(a: Predictions, b: Predictions) -> None:
    """Raise :class:`PredictionsError` saying why ``a`` and ``b`` cannot be compared pairwise."""
    if (a.task, a.dataset, a.kind) != (b.task, b.dataset, b.kind):
        raise PredictionsError(f"A is {a.task}/{a.dataset} ({a.kind}), B is {b.task}/{b.dataset} ({b.kind})")
    if a.split_hash != b.split_hash:
        raise PredictionsError(
            f"{a.task}/{a.dataset}: split {a.split!r} hashes differ (A {a.split_hash[:12] or 'none'}, "
            f"B {b.split_hash[:12] or 'none'}): the two were scored on different samples, so a paired "
            "comparison is meaningless (evaluate both with the same split seed and data)"
        )
    if a.keys != b.keys:
        raise PredictionsError(f"{a.task}/{a.dataset}: same split hash but the samples are in another order or set")
    for name in SAME_ARRAYS & set(a.arrays) & set(b.arrays):
        if not np.array_equal(a.arrays[name], b.arrays[name]):
            raise PredictionsError(f"{a.task}/{a.dataset}: the ground truth ({name!r}) differs between A and B")
    if a.meta.get("queries") != b.meta.get("queries"):
        raise PredictionsError(f"{a.task}/{a.dataset}: the retrieval queries differ between A and B")


def _delong(a: Predictions, b: Predictions, metric: str) -> float:
    """DeLong's p-value for ``metric`` when it is one AUROC (binary, or one class's); else NaN."""
    if a.kind == "binary" and metric == "auroc":
        sa, sb, t = a.arrays["scores"], b.arrays["scores"], a.arrays["targets"]
    elif a.kind in ("multilabel", "multiclass") and metric.startswith("auroc_"):
        labels = list(a.meta.get("labels", []))
        label = metric.removeprefix("auroc_")
        if label not in labels:
            return math.nan
        c = labels.index(label)
        sa, sb = a.arrays["scores"][:, c], b.arrays["scores"][:, c]
        t = a.arrays["targets"][:, c] if a.kind == "multilabel" else a.arrays["targets"] == c
    else:
        return math.nan
    t = np.asarray(t).astype(bool)
    if t.all() or not t.any():
        return math.nan
    return delong_test(sa, sb, t).p_value


def compare_predictions(
    a: Predictions,
    b: Predictions,
    values_a: Mapping[str, float | None],
    values_b: Mapping[str, float | None],
    rescore: Rescore | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    level: float = DEFAULT_LEVEL,
) -> list[MetricComparison]:
    """One row per metric both results report, in ``values_a``'s order (Holm columns left NaN)."""
    check_paired(a, b)
    if a.kind in NOT_RESAMPLED:
        log.warning("%s/%s: no paired bootstrap (%s)", a.task, a.dataset, NOT_RESAMPLED[a.kind])
        return []
    samples_a = resampled_metrics(a, rescore, n_resamples, seed)
    samples_b = resampled_metrics(b, rescore, n_resamples, seed)
    rows = []
    for metric, va in values_a.items():
        vb = values_b.get(metric)
        if metric not in values_b or metric not in samples_a or metric not in samples_b:
            continue
        va = math.nan if va is None else float(va)
        vb = math.nan if vb is None else float(vb)
        paired = paired_difference(va, vb, samples_a[metric], samples_b[metric], level)
        rows.append(MetricComparison(metric, paired, _delong(a, b, metric)))
    return rows


def adjust(rows: list[MetricComparison]) -> list[MetricComparison]:
    """Holm-adjust the bootstrap and the DeLong p-values, each family over all ``rows``."""
    boot = holm([r.paired.p_value for r in rows])
    dl = holm([r.delong_p for r in rows])
    return [replace(r, holm_p=bp, delong_holm_p=dp) for r, bp, dp in zip(rows, boot, dl)]
