"""COCO mean average precision of boxes under bootstrap weights over images (numpy only).

COCO's evaluation (pycocotools, which torchmetrics' ``MeanAveragePrecision`` calls) matches
detections to ground truth within each image: detections by descending score (at most 100 per
image), each to the unmatched true box of the highest IoU at or above the threshold. Matching
never looks across images, so it is done once per image and IoU threshold; a bootstrap resample
only re-weights images. Per class and threshold, the pooled detections sorted by score give
weighted cumulative true and false positives, recall and precision; precision is made
non-increasing from the right and read at the 101 recall points 0, 0.01, ..., 1 (0 past the
last recall reached; torchmetrics passes them as float32 values, so the caller may give those); AP is their mean; a class and threshold without any true box is left out,
and the mAP is the mean of the rest (NaN when none is left). An image drawn twice counts twice,
which gives exactly the curve of the duplicated list (except where scores tie across images).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

RECALL_POINTS = np.linspace(0.0, 1.0, 101)
MAX_DETECTIONS = 100
CHUNK = 64  # resamples per block: [CHUNK, detections] work arrays


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[len(a), len(b)] IoU of xyxy boxes (areas as width x height, as COCO's)."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    w = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    h = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = w * h
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def match(ious: np.ndarray, thresholds: Sequence[float]) -> np.ndarray:
    """[T, D] bool: detection d (rows of ``ious``, in score order) is a true positive at threshold t."""
    n_det, n_gt = ious.shape
    out = np.zeros((len(thresholds), n_det), dtype=bool)
    for ti, t in enumerate(thresholds):
        taken = np.zeros(n_gt, dtype=bool)
        for d in range(n_det):
            best, m = min(t, 1 - 1e-10), -1
            for g in range(n_gt):  # COCO's loop: the last of equal IoUs wins
                if taken[g] or ious[d, g] < best:
                    continue
                best, m = ious[d, g], g
            if m >= 0:
                taken[m], out[ti, d] = True, True
    return out


@dataclass
class ClassMatches:
    """One class's detections pooled over images (COCO's order) and true-box counts per image."""

    image: np.ndarray  # [D] the image of each detection, in descending score order
    tp: np.ndarray  # [T, D] bool
    n_true: np.ndarray  # [N] true boxes per image


def class_matches(arrays: dict[str, np.ndarray], n_images: int, label: int, thresholds: Sequence[float]) -> ClassMatches:
    """Match one class's detections in every image (``arrays`` as ``tasks.detection.flatten_boxes``)."""
    p_img, g_img = arrays["pred_image"], arrays["gt_image"]
    p_sel, g_sel = arrays["pred_labels"] == label, arrays["gt_labels"] == label
    scores, images, flags = [], [], []
    n_true = np.bincount(g_img[g_sel], minlength=n_images)
    for i in range(n_images):
        d = np.flatnonzero(p_sel & (p_img == i))
        d = d[np.argsort(-arrays["pred_scores"][d], kind="mergesort")][:MAX_DETECTIONS]
        g = np.flatnonzero(g_sel & (g_img == i))
        flags.append(match(iou(arrays["pred_boxes"][d], arrays["gt_boxes"][g]), thresholds))
        scores.append(arrays["pred_scores"][d])
        images.append(np.full(len(d), i))
    s = np.concatenate(scores) if scores else np.zeros(0)
    order = np.argsort(-s, kind="mergesort")
    tp = np.concatenate(flags, axis=1) if flags else np.zeros((len(thresholds), 0), bool)
    img = np.concatenate(images) if images else np.zeros(0, np.int64)
    return ClassMatches(img[order].astype(np.int64), tp[:, order], n_true)


def _average_precision(tp: np.ndarray, w_det: np.ndarray, n_true: np.ndarray, points: np.ndarray) -> np.ndarray:
    """[B] AP from [D] flags with [B, D] detection weights and [B] true-box totals; NaN without truth."""
    out = np.full(w_det.shape[0], math.nan)
    ok = n_true > 0
    if w_det.shape[1] == 0:
        out[ok] = 0.0
        return out
    ctp = np.cumsum(w_det * tp, axis=1)
    cfp = np.cumsum(w_det * ~tp, axis=1)
    rc = ctp / np.where(ok, n_true, 1.0)[:, None]
    pr = ctp / (ctp + cfp + np.spacing(1))
    pr = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]
    last = pr.shape[1] - 1
    for b in np.flatnonzero(ok):
        idx = np.searchsorted(rc[b], points, side="left")
        out[b] = np.where(idx <= last, pr[b, np.minimum(idx, last)], 0.0).mean()
    return out


def map_resampled(
    arrays: dict[str, np.ndarray],
    n_images: int,
    thresholds: Sequence[float],
    weights: np.ndarray,
    recall_points: Sequence[float] | None = None,
) -> np.ndarray:
    """[B] mAP over classes and IoU ``thresholds`` with image ``weights`` [B, n_images]."""
    w = np.atleast_2d(np.asarray(weights, np.float64))
    points = RECALL_POINTS if recall_points is None else np.asarray(recall_points, np.float64)
    labels = np.union1d(arrays["pred_labels"], arrays["gt_labels"]).astype(np.int64)
    aps = []
    for label in labels:
        cm = class_matches(arrays, n_images, int(label), thresholds)
        n_true = w @ cm.n_true
        for t in range(len(thresholds)):
            parts = [_average_precision(cm.tp[t], w[lo : lo + CHUNK][:, cm.image], n_true[lo : lo + CHUNK], points)
                     for lo in range(0, w.shape[0], CHUNK)]
            aps.append(np.concatenate(parts))
    if not aps:
        return np.full(w.shape[0], math.nan)
    stacked = np.stack(aps)
    defined = np.isfinite(stacked)
    n = defined.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, np.where(defined, stacked, 0).sum(axis=0) / np.maximum(n, 1), math.nan)
