"""Bootstrap resamples of a result's metrics from its saved predictions.

One scorer per predictions ``kind`` (:data:`SCORERS`) computes every metric of that kind for
all resamples at once (:mod:`bench.stats.weighted`); a kind without one (segmentation)
is resampled through the task's own ``rescore(predictions, rows)``, one call per
resample. What is resampled: the scored images, except for text-to-image retrieval, whose
queries are resampled (each direction's queries are its units: images for image-to-text).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from bench.predictions import Predictions
from bench.registry import Registry
from bench.stats.auroc import auroc_resampled
from bench.stats.boxes import map_resampled
from bench.stats.resample import (
    DEFAULT_LEVEL,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    Interval,
    counts,
    interval,
    resample_indices,
)
from bench.stats.weighted import (
    binary_f1_resampled,
    class_aurocs_resampled,
    macro_f1_resampled,
    mean_resampled,
    nanmean_rows,
    precision_at_k_rows,
)

log = logging.getLogger(__name__)
Draw = Callable[[str, int], np.ndarray]  # (unit, n) -> bootstrap counts [B, n]
Scorer = Callable[[Predictions, Draw], dict[str, np.ndarray]]
Rescore = Callable[..., Mapping[str, float]]  # a task's rescore(predictions, rows=None)
SCORERS: Registry[Scorer] = Registry("predictions kind")
# Kinds not resampled, with the reason (recorded in the result instead of an interval).
NOT_RESAMPLED: dict[str, str] = {}


def _labels(pred: Predictions, n: int) -> list[str]:
    labels = list(pred.meta.get("labels", []))
    if len(labels) != n:
        raise ValueError(f"{pred.task}/{pred.dataset} predictions: {len(labels)} labels in meta for {n} columns")
    return labels


def _class_aurocs(pred: Predictions, scores: np.ndarray, onehot: np.ndarray, w: np.ndarray) -> dict[str, np.ndarray]:
    per_class = class_aurocs_resampled(scores, onehot, w)
    out = {f"auroc_{label}": row for label, row in zip(_labels(pred, scores.shape[1]), per_class)}
    out["auroc"] = nanmean_rows(per_class)
    return out


@SCORERS.register("binary")
def binary(pred: Predictions, draw: Draw) -> dict[str, np.ndarray]:
    """``scores`` [N] (probability of the positive class), ``targets`` [N] 0/1; meta ``threshold``."""
    s, t = pred.arrays["scores"], pred.arrays["targets"].astype(bool)
    w = draw("images", len(s))
    predicted = s > float(pred.meta.get("threshold", 0.5))
    return {
        "auroc": auroc_resampled(s, t, w),
        "accuracy": mean_resampled(predicted == t, w),
        "f1": binary_f1_resampled(predicted, t, w),
    }


@SCORERS.register("multilabel")
def multilabel(pred: Predictions, draw: Draw) -> dict[str, np.ndarray]:
    """``scores`` and ``targets`` [N, C]; meta ``labels`` (the metric suffix of each column)."""
    s, t = pred.arrays["scores"], pred.arrays["targets"]
    return _class_aurocs(pred, s, t, draw("images", len(s)))


@SCORERS.register("multiclass")
def multiclass(pred: Predictions, draw: Draw) -> dict[str, np.ndarray]:
    """``scores`` [N, C] class probabilities, ``targets`` [N] class indices; meta ``labels``."""
    s, t = pred.arrays["scores"], pred.arrays["targets"].astype(np.int64)
    w = draw("images", len(s))
    argmax = np.argmax(s, axis=1)
    out = {
        "accuracy": mean_resampled(argmax == t, w),
        "f1_macro": macro_f1_resampled(argmax, t, s.shape[1], w),
    }
    out.update(_class_aurocs(pred, s, np.eye(s.shape[1])[t], w))
    return out


@SCORERS.register("retrieval")
def retrieval(pred: Predictions, draw: Draw) -> dict[str, np.ndarray]:
    """``scores`` and ``relevant`` [N_images, N_queries]; meta ``ks``. i2t resamples images, t2i queries."""
    s, rel = pred.arrays["scores"], pred.arrays["relevant"]
    wi, wq = draw("images", s.shape[0]), draw("queries", s.shape[1])
    out = {}
    for k in pred.meta.get("ks", (1, 5, 10)):
        out[f"i2t_P@{k}"] = mean_resampled(precision_at_k_rows(s, rel, k), wi)
        out[f"t2i_P@{k}"] = mean_resampled(precision_at_k_rows(s.T, rel.T, k), wq)
    return out


@SCORERS.register("detection")
def detection(pred: Predictions, draw: Draw) -> dict[str, np.ndarray]:
    """Flat box arrays (``tasks.detection.flatten_boxes``); meta ``iou_thresholds`` (metric -> IoU
    thresholds) and ``recall_thresholds`` (the 101 recall points as the metric library uses them)."""
    w = draw("images", len(pred))
    points = pred.meta.get("recall_thresholds")
    return {name: map_resampled(pred.arrays, len(pred), thresholds, w, points)
            for name, thresholds in pred.meta["iou_thresholds"].items()}


def _generic(pred: Predictions, rescore: Rescore, indices: np.ndarray) -> dict[str, np.ndarray]:
    rows = [rescore(pred, rows=r) for r in indices]
    names = rows[0].keys() if rows else []
    return {name: np.array([float(r[name]) for r in rows]) for name in names}


def resampled_metrics(
    pred: Predictions,
    rescore: Rescore | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> dict[str, np.ndarray]:
    """metric -> [n_resamples] values over bootstrap resamples of ``pred`` (see the module docstring)."""
    if pred.kind in SCORERS:
        drawn: dict[tuple[str, int], np.ndarray] = {}

        def draw(unit: str, n: int) -> np.ndarray:
            if (unit, n) not in drawn:
                drawn[unit, n] = counts(resample_indices(n, n_resamples, seed, unit), n)
            return drawn[unit, n]

        return SCORERS.get(pred.kind)(pred, draw)
    if rescore is None:
        raise ValueError(f"predictions kind {pred.kind!r} has no vectorised scorer; pass the task's rescore")
    return _generic(pred, rescore, resample_indices(len(pred), n_resamples, seed, "images"))


def identity_metrics(pred: Predictions, rescore: Rescore | None = None) -> dict[str, float]:
    """The scorer's metrics on the saved predictions themselves (no resampling)."""
    if pred.kind in SCORERS:
        return {k: float(v[0]) for k, v in SCORERS.get(pred.kind)(pred, lambda unit, n: np.ones((1, n))).items()}
    if rescore is None:
        raise ValueError(f"predictions kind {pred.kind!r} has no vectorised scorer; pass the task's rescore")
    return {k: float(v) for k, v in rescore(pred).items()}


def bootstrap_intervals(
    pred: Predictions,
    values: Mapping[str, float | None],
    rescore: Rescore | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    level: float = DEFAULT_LEVEL,
) -> dict[str, Interval]:
    """Percentile intervals of the metrics in ``values`` (a result's metrics; None = undefined)."""
    samples = resampled_metrics(pred, rescore, n_resamples, seed)
    missing = sorted(set(values) - set(samples))
    if missing:
        log.warning("%s/%s: no bootstrap for metric(s) %s", pred.task, pred.dataset, missing)
    return {
        name: interval(float("nan") if values[name] is None else float(values[name]), samples[name], level, seed)
        for name in values
        if name in samples
    }


def ci_record(intervals: Mapping[str, Interval], meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON a result stores: ``{"method": "percentile bootstrap", ..., "metrics": {name: [low, high]}}``."""
    first = next(iter(intervals.values()), None)
    return {
        "method": "percentile bootstrap",
        "level": first.level if first else DEFAULT_LEVEL,
        "n_resamples": first.n_resamples if first else 0,
        "seed": first.seed if first else DEFAULT_SEED,
        "metrics": {k: [v.to_dict()["low"], v.to_dict()["high"]] for k, v in intervals.items()},
        "undefined": {k: v.undefined for k, v in intervals.items() if v.undefined},
        **(meta or {}),
    }
