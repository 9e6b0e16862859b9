"""Task metrics under bootstrap weights, vectorised over resamples (numpy only).

Each function takes per-unit values and ``weights`` [B, n] (bootstrap counts; a row of ones is
the plain metric) and returns [B] values. They follow the definitions the tasks report through
torchmetrics (see ``tasks/common/metrics.py``), and the tests check them against it and against
scikit-learn: F1 is 0 when there are no true and no predicted positives; macro F1 averages the
classes that occur among the targets or the predictions; the macro AUROC skips classes whose
AUROC is undefined (no positive or no negative).
"""

from __future__ import annotations

import math

import numpy as np

from bench.stats.auroc import auroc_resampled


def _rows(weights: np.ndarray, n: int) -> np.ndarray:
    w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    if w.shape[1] != n:
        raise ValueError(f"weights have {w.shape[1]} columns for {n} units")
    return w


def mean_resampled(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted mean of per-unit ``values`` [n] (a per-query P@k, a per-image Dice) per resample."""
    values = np.asarray(values, dtype=np.float64).ravel()
    w = _rows(weights, values.size)
    total = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (w @ values) / np.where(total > 0, total, 1.0), math.nan)


def _f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    denom = 2 * tp + fp + fn
    return np.where(denom > 0, 2 * tp / np.where(denom > 0, denom, 1.0), 0.0)


def binary_f1_resampled(predicted: np.ndarray, targets: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """F1 of the positive class from 0/1 predictions and targets [n]."""
    p = np.asarray(predicted).ravel().astype(bool)
    t = np.asarray(targets).ravel().astype(bool)
    w = _rows(weights, p.size)
    tp, fp, fn = (w @ (a & b).astype(np.float64) for a, b in ((p, t), (p, ~t), (~p, t)))
    return _f1(tp, fp, fn)


def macro_f1_resampled(predicted: np.ndarray, targets: np.ndarray, n_classes: int, weights: np.ndarray) -> np.ndarray:
    """Macro F1 over the classes present (as a target or a prediction) in each resample."""
    p = np.asarray(predicted).ravel().astype(np.int64)
    t = np.asarray(targets).ravel().astype(np.int64)
    w = _rows(weights, p.size)
    hit = (p == t).astype(np.float64)
    onehot_p = np.eye(n_classes)[p]  # [n, C]
    onehot_t = np.eye(n_classes)[t]
    tp = w @ (onehot_t * hit[:, None])  # [B, C]
    fp = w @ onehot_p - tp
    fn = w @ onehot_t - tp
    present = (tp + fp + fn) > 0
    f1 = _f1(tp, fp, fn)
    n_present = present.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_present > 0, (f1 * present).sum(axis=1) / np.maximum(n_present, 1), 0.0)


def class_aurocs_resampled(scores: np.ndarray, targets: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """[C, B] AUROC of each column of ``scores`` [n, C] against 0/1 ``targets`` [n, C]."""
    scores = np.asarray(scores, dtype=np.float64)
    targets = np.asarray(targets)
    w = _rows(weights, scores.shape[0])
    return np.stack([auroc_resampled(scores[:, c], targets[:, c], w) for c in range(scores.shape[1])])


def nanmean_rows(values: np.ndarray) -> np.ndarray:
    """Mean over axis 0 skipping NaN ([C, B] -> [B]); NaN where every class is NaN."""
    values = np.asarray(values, dtype=np.float64)
    defined = np.isfinite(values)
    n = defined.sum(axis=0)
    total = np.where(defined, values, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, total / np.maximum(n, 1), math.nan)


def precision_at_k_rows(scores: np.ndarray, relevant: np.ndarray, k: int) -> np.ndarray:
    """Per row of ``scores`` [Q, C]: the fraction of its top-``k`` columns that are relevant.

    Ties break by column order (a stable descending sort), as the retrieval task does; ``k`` is
    clipped to C.
    """
    scores = np.asarray(scores, dtype=np.float64)
    k = min(int(k), scores.shape[1])
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(np.asarray(relevant, dtype=np.float64), top, axis=1).mean(axis=1)
