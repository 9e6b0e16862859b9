"""tasks.mm.metrics: the evaluators collect MMSeg/MMDet samples into the tasks' own metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("mmseg")
pytest.importorskip("mmdet")

from mmdet.structures import DetDataSample  # noqa: E402
from mmdet.structures.bbox import HorizontalBoxes  # noqa: E402
from mmengine.structures import InstanceData, PixelData  # noqa: E402
from mmseg.structures import SegDataSample  # noqa: E402

from tasks import detection, segmentation  # noqa: E402
from tasks.mm.metrics import BenchBoxMetric, BenchDiceMetric, foreground_probability  # noqa: E402

pytestmark = pytest.mark.mm


def test_foreground_probability_sigmoid_or_softmax() -> None:
    one = torch.tensor([[[0.0, 2.0]]])
    assert torch.allclose(foreground_probability(one), torch.sigmoid(one[0]))
    two = torch.stack([torch.zeros(1, 2), torch.tensor([[0.0, 2.0]])])
    assert torch.allclose(foreground_probability(two), torch.softmax(two, 0)[1])


def test_dice_metric_equals_the_task_definition() -> None:
    rng = np.random.default_rng(0)
    logits = torch.from_numpy(rng.normal(size=(5, 2, 8, 8))).float()
    truths = torch.from_numpy(rng.integers(0, 2, (5, 1, 8, 8)))
    truths[0] = 0
    samples = []
    for logit, truth in zip(logits, truths):
        s = SegDataSample()
        s.seg_logits = PixelData(data=logit)
        s.gt_sem_seg = PixelData(data=truth)
        samples.append(s.to_dict())
    metric = BenchDiceMetric()
    metric.process({}, samples)
    got = metric.compute_metrics(metric.results)
    probs = torch.softmax(logits, 1)[:, 1].numpy()
    want = segmentation.dice_scores(
        np.stack([segmentation.dice_stats(p, t[0].numpy()) for p, t in zip(probs, truths)])
    )
    assert got == pytest.approx(want)


def test_box_metric_reads_mmdet_samples() -> None:
    pairs = [([[10, 10, 50, 50]], [0.9], [[12, 10, 50, 52]]), ([[5, 5, 25, 25]], [0.6], []), ([], [], [])]
    samples, preds, targets = [], [], []
    for boxes, scores, truth in pairs:
        s = DetDataSample()
        s.pred_instances = InstanceData(
            bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
            scores=torch.tensor(scores, dtype=torch.float32),
            labels=torch.zeros(len(boxes), dtype=torch.long),
        )
        s.gt_instances = InstanceData(
            bboxes=HorizontalBoxes(torch.tensor(truth, dtype=torch.float32).reshape(-1, 4)),
            labels=torch.zeros(len(truth), dtype=torch.long),
        )
        samples.append(s.to_dict())
        preds.append(
            {
                "boxes": s.pred_instances.bboxes,
                "scores": s.pred_instances.scores,
                "labels": s.pred_instances.labels,
            }
        )
        targets.append({"boxes": s.gt_instances.bboxes.tensor, "labels": s.gt_instances.labels})
    metric = BenchBoxMetric()
    metric.process({}, samples)
    assert metric.compute_metrics(metric.results) == pytest.approx(detection.box_map(preds, targets))
