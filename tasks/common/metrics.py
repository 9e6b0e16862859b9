"""Metrics shared by the tasks (one home for each); NaN where a metric is undefined.

- AUROC is rank-based (Mann-Whitney U from :func:`scipy.stats.rankdata`, ties counting one half,
  as scikit-learn's ``roc_auc_score``), so it takes any real scores: probabilities, logits,
  similarities. It needs both classes among the targets; with one class only it is NaN (written
  as null) rather than a number that means nothing. Accuracy and F1 come from torchmetrics.
- Dice (segmentation) from per-image pixel counts, :func:`dice_stats` then :func:`dice_scores`.
- COCO-style box mAP (detection) computed by pycocotools itself, :func:`box_map`.
"""

from __future__ import annotations

import contextlib
import io
import math
import re
from collections.abc import Sequence

import numpy as np
import torch
from scipy.stats import rankdata
from torchmetrics.functional.classification import (
    binary_accuracy,
    binary_f1_score,
    multiclass_accuracy,
    multiclass_f1_score,
)


def slug(name: str) -> str:
    """A class name as a metric suffix: "Pleural Effusion" -> "pleural_effusion"."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def auroc(scores: torch.Tensor, targets: torch.Tensor) -> float:
    """Binary AUROC of any real scores [N] against 0/1 targets [N]; NaN with only one class.

    The probability that a random positive outscores a random negative (ties one half), from the
    average ranks of the scores in float64: unbounded scores (logits) and +-inf keep their order.
    """
    y = targets.detach().cpu().long().numpy().reshape(-1)
    s = scores.detach().cpu().double().numpy().reshape(-1)
    if s.shape != y.shape:
        raise ValueError(f"{s.size} scores for {y.size} targets")
    if np.isnan(s).any():
        raise ValueError("AUROC of NaN scores")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"AUROC targets must be 0 or 1; got values {sorted(set(y.tolist()))}")
    n_pos = int((y == 1).sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    rank_sum = float(rankdata(s)[y == 1].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def per_class_auroc(scores: torch.Tensor, targets: torch.Tensor, classes: Sequence[str]) -> dict[str, float]:
    """``auroc_<class>`` for each column of [N, C] scores/targets and their NaN-skipping mean ``auroc``."""
    out = {f"auroc_{slug(c)}": auroc(scores[:, i], targets[:, i]) for i, c in enumerate(classes)}
    defined = [v for v in out.values() if not math.isnan(v)]
    out["auroc"] = sum(defined) / len(defined) if defined else math.nan
    return out


def binary_metrics(probs: torch.Tensor, targets: torch.Tensor, threshold: float = 0.5) -> dict[str, float]:
    """AUROC, accuracy and F1 (positive class) of probabilities [N] against 0/1 targets."""
    targets = targets.long()
    return {
        "auroc": auroc(probs, targets),
        "accuracy": float(binary_accuracy(probs.float(), targets, threshold=threshold)),
        "f1": float(binary_f1_score(probs.float(), targets, threshold=threshold)),
    }


def multiclass_metrics(probs: torch.Tensor, targets: torch.Tensor, classes: Sequence[str]) -> dict[str, float]:
    """Accuracy, macro F1, one-vs-rest AUROC per class and their mean, from class probabilities [N, C].

    ``probs`` rows are scores that sum to one (softmaxed); the prediction is the argmax.
    """
    n = len(classes)
    targets = targets.long()
    out = {
        "accuracy": float(multiclass_accuracy(probs, targets, num_classes=n, average="micro")),
        "f1_macro": float(multiclass_f1_score(probs, targets, num_classes=n, average="macro")),
    }
    onehot = torch.nn.functional.one_hot(targets, n)
    out.update(per_class_auroc(probs, onehot, classes))  # "auroc": the macro (one-vs-rest) mean
    return out


def precision_at_k(scores: torch.Tensor, relevant: torch.Tensor, k: int) -> float:
    """Mean over rows of the fraction of the top-``k`` columns (by score) that are relevant.

    scores: [Q, C] (higher = retrieved first); relevant: [Q, C] bool. Ties break by column order.
    ``k`` larger than C is clipped to C.
    """
    k = min(k, scores.shape[1])
    top = torch.argsort(scores, dim=1, descending=True, stable=True)[:, :k]
    hits = torch.gather(relevant.float(), 1, top)
    return float(hits.mean(dim=1).mean())


# -- segmentation -----------------------------------------------------------------------------
DICE_METRICS = ("dice_pos", "dice_mgca", "dice_fg", "mdice")


def dice_stats(prob: np.ndarray, truth: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """[intersection, predicted, true, total] foreground pixels of one image (prob > threshold)."""
    pred = np.asarray(prob) > threshold
    true = np.asarray(truth) > 0
    if pred.shape != true.shape:
        raise ValueError(f"prediction shape {pred.shape} differs from the mask's {true.shape}")
    return np.array([(pred & true).sum(), pred.sum(), true.sum(), true.size], dtype=np.float64)


def dice_scores(stats: np.ndarray) -> dict[str, float]:
    """The :data:`DICE_METRICS` from per-image :func:`dice_stats` rows [N, 4].

    - ``dice_pos``: mean per-image Dice over the images whose truth has foreground (NaN if none);
    - ``dice_mgca``: GLoRIA/MGCA ``get_dice``, the mean over all images where an image with an
      empty truth scores 1 if the prediction is empty too, else 0;
    - ``dice_fg``: foreground Dice of the pixels summed over all images;
    - ``mdice``: MMSeg ``IoUMetric`` mDice, the mean of background and foreground Dice (summed).
    """
    stats = np.asarray(stats, dtype=np.float64).reshape(-1, 4)
    if len(stats) == 0:
        return dict.fromkeys(DICE_METRICS, math.nan)
    inter, pred, true, total = stats.T
    positive = true > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        per_image = np.where(positive, 2 * inter / (pred + true), (pred == 0).astype(np.float64))
    i, p, t, n = inter.sum(), pred.sum(), true.sum(), total.sum()
    fg = 2 * i / (p + t) if p + t > 0 else math.nan
    bg_i, bg_p, bg_t = n - p - t + i, n - p, n - t
    bg = 2 * bg_i / (bg_p + bg_t) if bg_p + bg_t > 0 else math.nan
    defined = [v for v in (bg, fg) if not math.isnan(v)]
    return {
        "dice_pos": float(per_image[positive].mean()) if positive.any() else math.nan,
        "dice_mgca": float(per_image.mean()),
        "dice_fg": float(fg),
        "mdice": float(np.mean(defined)) if defined else math.nan,
    }


# -- detection --------------------------------------------------------------------------------
BOX_METRICS = ("map_40_75", "map", "map_50")
COCO_IOUS = np.linspace(0.5, 0.95, 10)  # pycocotools' own float64 thresholds (and recall: 0:0.01:1)
MGCA_IOUS = tuple(round(0.4 + 0.05 * i, 2) for i in range(8))  # 0.40 ... 0.75


def _xywh(boxes: object) -> np.ndarray:
    xyxy = torch.as_tensor(boxes).detach().cpu().double().reshape(-1, 4).numpy()
    return np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1)


def _flat(values: object, dtype: type) -> list:
    return torch.as_tensor(values).detach().cpu().reshape(-1).numpy().astype(dtype).tolist()


def _annotations(image: int, item: dict, first_id: int, scored: bool) -> list[dict]:
    """One image's boxes as COCO annotations (xywh, area w*h, not crowd; ids from ``first_id``)."""
    boxes, cats = _xywh(item["boxes"]).tolist(), _flat(item["labels"], np.int64)
    scores = _flat(item["scores"], np.float64) if scored else [None] * len(boxes)
    if not len(boxes) == len(cats) == len(scores):
        raise ValueError(f"image {image}: {len(boxes)} boxes, {len(cats)} labels, {len(scores)} scores")
    out = []
    for n, (box, cat, score) in enumerate(zip(boxes, cats, scores)):
        ann = {"id": first_id + n, "image_id": image, "category_id": cat, "bbox": box}
        ann.update(area=box[2] * box[3], iscrowd=0, **({"score": score} if scored else {}))
        out.append(ann)
    return out


def _coco_sets(preds: Sequence[dict], targets: Sequence[dict]) -> tuple[dict, dict]:
    """Ground truth and detections as two COCO datasets (the second as ``COCO.loadRes`` builds it)."""
    gts: list[dict] = []
    dts: list[dict] = []
    for i, (pred, target) in enumerate(zip(preds, targets)):
        gts += _annotations(i, target, len(gts) + 1, scored=False)  # ids > 0: pycocotools' "matched"
        dts += _annotations(i, pred, len(dts) + 1, scored=True)
    images = [{"id": i} for i in range(len(targets))]
    categories = [{"id": c} for c in sorted({a["category_id"] for a in gts + dts})]
    return (
        {"images": images, "annotations": gts, "categories": categories},
        {"images": images, "annotations": dts, "categories": categories},
    )


def _precision(gt: dict, dt: dict, ious: Sequence[float]) -> np.ndarray:
    """pycocotools' precision [IoU, recall, class] at area "all", 100 detections per image."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        coco_gt, coco_dt = COCO(), COCO()
        coco_gt.dataset, coco_dt.dataset = gt, dt
        coco_gt.createIndex()
        coco_dt.createIndex()
        evaluator = COCOeval(coco_gt, coco_dt, "bbox")
        evaluator.params.iouThrs = np.asarray(ious, dtype=np.float64)
        evaluator.evaluate()
        evaluator.accumulate()
    return evaluator.eval["precision"][:, :, :, 0, -1]


def _mean_defined(precision: np.ndarray) -> float:
    defined = precision[precision > -1]  # -1: a class without ground truth
    return float(defined.mean()) if defined.size else math.nan


def box_map(preds: Sequence[dict], targets: Sequence[dict]) -> dict[str, float]:
    """``map_40_75`` (MGCA's IoU 0.40:0.05:0.75), ``map`` (COCO, IoU 0.50:0.05:0.95), ``map_50``.

    preds: dicts with ``boxes`` [N, 4] xyxy, ``scores`` [N], ``labels`` [N]; targets: ``boxes``
    and ``labels``. Images without boxes (either side) are allowed and count. Computed by
    pycocotools (COCOeval, float64 thresholds, area "all", up to 100 detections per image), as
    ``summarize`` reports it; NaN when no image has a ground-truth box.
    """
    if len(preds) != len(targets):
        raise ValueError(f"{len(preds)} predictions for {len(targets)} images")
    if not preds:
        return dict.fromkeys(BOX_METRICS, math.nan)
    gt, dt = _coco_sets(preds, targets)
    if not gt["annotations"]:
        return dict.fromkeys(BOX_METRICS, math.nan)
    coco = _precision(gt, dt, COCO_IOUS)
    return {
        "map_40_75": _mean_defined(_precision(gt, dt, MGCA_IOUS)),
        "map": _mean_defined(coco),
        "map_50": _mean_defined(coco[np.isclose(COCO_IOUS, 0.5)]),
    }
