"""Metrics shared by the tasks, computed with torchmetrics; NaN where a metric is undefined.

An AUROC needs both classes among the targets; with one class only it is NaN (written as null)
rather than a number that means nothing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import torch
from torchmetrics.functional.classification import (
    binary_accuracy,
    binary_auroc,
    binary_f1_score,
    multiclass_accuracy,
    multiclass_f1_score,
)


def slug(name: str) -> str:
    """A class name as a metric suffix: "Pleural Effusion" -> "pleural_effusion"."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def auroc(scores: torch.Tensor, targets: torch.Tensor) -> float:
    """Binary AUROC of scores [N] against 0/1 targets [N]; NaN when only one class is present."""
    targets = targets.long()
    if targets.numel() == 0 or targets.min() == targets.max():
        return math.nan
    return float(binary_auroc(scores.float(), targets))


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
