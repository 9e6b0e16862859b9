"""The tasks' metrics as MMEngine evaluators, so ``runner.test()`` returns them directly.

``BenchDiceMetric`` (MMSeg) keeps four numbers per test image (intersection, predicted, true and
total pixels of the foreground at probability 0.5) and scores them with
:func:`tasks.common.metrics.dice_scores`. ``BenchBoxMetric`` (MMDet) keeps each image's predicted
and ground-truth boxes and scores them with :func:`tasks.common.metrics.box_map` (pycocotools).
The metric definitions live in :mod:`tasks.common.metrics`; these classes only collect.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from mmengine.evaluator import BaseMetric

from tasks.common.metrics import box_map, dice_scores, dice_stats


def foreground_probability(seg_logits: torch.Tensor) -> torch.Tensor:
    """MMSeg's per-image ``seg_logits`` [C, H, W] -> the [H, W] foreground probability.

    For a one-channel head MMSeg's ``postprocess_result`` has already applied the sigmoid (what it
    stores as "logits" is the probability); two channels are still logits and get a softmax.
    """
    if seg_logits.shape[0] == 1:
        return seg_logits[0].float()
    return seg_logits.float().softmax(dim=0)[1]


class BenchDiceMetric(BaseMetric):
    """Dice statistics per test image; ``threshold`` on the foreground probability."""

    default_prefix = "bench"

    def __init__(self, threshold: float = 0.5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.threshold = threshold

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            prob = foreground_probability(sample["seg_logits"]["data"]).cpu().numpy()
            truth = sample["gt_sem_seg"]["data"][0].cpu().numpy()
            self.results.append(dice_stats(prob, truth, self.threshold))

    def compute_metrics(self, results: list) -> dict[str, float]:
        self.samples = np.stack(results)  # kept for the task's saved predictions
        return dice_scores(self.samples)


def _boxes(instances: dict) -> torch.Tensor:
    boxes = instances["bboxes"]
    boxes = getattr(boxes, "tensor", boxes)  # MMDet's HorizontalBoxes
    return torch.as_tensor(boxes, dtype=torch.float32).reshape(-1, 4).cpu()


class BenchBoxMetric(BaseMetric):
    """Predicted and true boxes per test image, scored by :func:`tasks.common.metrics.box_map`."""

    default_prefix = "bench"

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            pred, gt = sample["pred_instances"], sample["gt_instances"]
            self.results.append(
                (
                    {
                        "boxes": _boxes(pred),
                        "scores": pred["scores"].float().cpu(),
                        "labels": pred["labels"].long().cpu(),
                    },
                    {"boxes": _boxes(gt), "labels": torch.as_tensor(gt["labels"]).long().cpu()},
                )
            )

    def compute_metrics(self, results: list) -> dict[str, float]:
        self.samples = list(results)  # kept for the task's saved predictions
        preds = [p for p, _ in results]
        targets = [t for _, t in results]
        return box_map(preds, targets)


def register() -> None:
    """Register the metrics in MMSeg's and MMDet's metric registries (idempotent)."""
    from mmdet.registry import METRICS as DET_METRICS
    from mmseg.registry import METRICS as SEG_METRICS

    for registry, name, cls in (
        (SEG_METRICS, "BenchDiceMetric", BenchDiceMetric),
        (DET_METRICS, "BenchBoxMetric", BenchBoxMetric),
    ):
        if registry.get(name) is not cls:
            registry.register_module(name=name, module=cls, force=True)


register()
