"""AUROC by ranks, vectorised over bootstrap resamples, and DeLong's test (Sun & Xu 2014).

:func:`auroc_resampled` computes the Mann-Whitney statistic once per resample from one sort of
the scores: with the scores grouped into tie groups in ascending order, the weighted number of
(positive, negative) pairs ranked correctly is ``sum_g P_g * (N_below_g + N_g / 2)``, where
``P_g``/``N_g`` are the resample's positive/negative weights in group ``g``; a resample is a row
of counts, so 1,000 resamples cost one [1000, n_groups] cumulative sum. Ties count one half,
as in scikit-learn's and torchmetrics' AUROC. A resample (or a class) without both a positive
and a negative has no AUROC: NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm, rankdata

CHUNK = 128  # resamples per block: keeps the [chunk, n] work arrays in cache-sized memory


def _groups(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(order, starts): the ascending sort of ``scores`` and the first position of each tie group."""
    order = np.argsort(scores, kind="stable")
    s = scores[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    return order, starts


def auroc_resampled(scores: np.ndarray, targets: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """AUROC of ``scores`` [n] against 0/1 ``targets`` [n] under each row of ``weights`` [B, n].

    ``weights`` are bootstrap counts (:func:`bench.stats.resample.counts`); None means the plain
    AUROC (one row of ones). Returns [B] float64, NaN where a row lacks positives or negatives.
    """
    scores = np.asarray(scores, dtype=np.float64).ravel()
    positive = np.asarray(targets).ravel().astype(bool)
    if scores.shape != positive.shape:
        raise ValueError(f"auroc: {scores.size} scores for {positive.size} targets")
    if np.isnan(scores).any():
        raise ValueError("auroc: scores contain NaN")
    w = np.ones((1, scores.size)) if weights is None else np.atleast_2d(np.asarray(weights, dtype=np.float64))
    if w.shape[1] != scores.size:
        raise ValueError(f"auroc: weights have {w.shape[1]} columns for {scores.size} scores")
    out = np.empty(w.shape[0])
    if scores.size == 0:
        out[:] = math.nan
        return out
    order, starts = _groups(scores)
    pos = positive[order]
    for lo in range(0, w.shape[0], CHUNK):
        ws = w[lo : lo + CHUNK][:, order]
        p = np.add.reduceat(np.where(pos, ws, 0.0), starts, axis=1)
        q = np.add.reduceat(np.where(pos, 0.0, ws), starts, axis=1)
        below = np.cumsum(q, axis=1) - q
        u = np.einsum("bg,bg->b", p, below + 0.5 * q)
        pairs = p.sum(axis=1) * q.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[lo : lo + CHUNK] = np.where(pairs > 0, u / np.where(pairs > 0, pairs, 1.0), math.nan)
    return out


def auroc(scores: np.ndarray, targets: np.ndarray) -> float:
    """Binary AUROC (ties count one half); NaN without both classes."""
    return float(auroc_resampled(scores, targets)[0])


@dataclass(frozen=True)
class DeLongResult:
    """DeLong's comparison of two correlated AUROCs on the same samples."""

    auroc_a: float
    auroc_b: float
    difference: float  # a - b
    variance: float  # of the difference
    z: float
    p_value: float  # two-sided
    low: float  # the normal interval of the difference at ``level``
    high: float
    level: float = 0.95


def delong_components(scores: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sun & Xu's fast algorithm: (aucs [k], V10 [k, m], V01 [k, n]) for scores [k, N].

    V10 (V01) are the structural components of the positives (negatives): the fraction of
    negatives a positive outranks (of positives that outrank a negative), ties one half. They come
    from midranks: ranks among all N (Tz), among positives (Tx) and among negatives (Ty).
    """
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    positive = np.asarray(targets).ravel().astype(bool)
    x, y = scores[:, positive], scores[:, ~positive]
    m, n = x.shape[1], y.shape[1]
    if m == 0 or n == 0:
        raise ValueError(f"DeLong needs positives and negatives; got {m} positive(s), {n} negative(s)")
    tx = rankdata(x, axis=1)
    ty = rankdata(y, axis=1)
    tz = rankdata(np.concatenate([x, y], axis=1), axis=1)
    aucs = (tz[:, :m].sum(axis=1) / m - (m + 1) / 2.0) / n
    v10 = (tz[:, :m] - tx) / n
    v01 = 1.0 - (tz[:, m:] - ty) / m
    return aucs, v10, v01


def delong_covariance(scores: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(aucs [k], covariance [k, k]) of the AUROCs of k score vectors [k, N] (DeLong 1988)."""
    aucs, v10, v01 = delong_components(scores, targets)
    m, n = v10.shape[1], v01.shape[1]
    s10 = np.atleast_2d(np.cov(v10)) if m > 1 else np.zeros((len(aucs), len(aucs)))
    s01 = np.atleast_2d(np.cov(v01)) if n > 1 else np.zeros((len(aucs), len(aucs)))
    return aucs, s10 / m + s01 / n


def delong_test(scores_a: np.ndarray, scores_b: np.ndarray, targets: np.ndarray, level: float = 0.95) -> DeLongResult:
    """Two-sided DeLong test of AUROC(a) = AUROC(b) for two score vectors on the same samples.

    A zero variance (identical rankings) gives z = 0 and p = 1 when the AUROCs agree.
    """
    aucs, cov = delong_covariance(np.vstack([np.ravel(scores_a), np.ravel(scores_b)]), targets)
    diff = float(aucs[0] - aucs[1])
    var = float(max(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1], 0.0))
    if var <= 1e-15:
        z = 0.0 if abs(diff) <= 1e-12 else math.copysign(math.inf, diff)
    else:
        z = diff / math.sqrt(var)
    p = float(2 * norm.sf(abs(z)))
    half = norm.ppf(0.5 + level / 2) * math.sqrt(var)
    return DeLongResult(float(aucs[0]), float(aucs[1]), diff, var, z, min(p, 1.0), diff - half, diff + half, level)
