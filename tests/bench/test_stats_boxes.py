"""bench.stats.boxes: COCO mAP under bootstrap weights against torchmetrics (pycocotools) on the resampled lists."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.stats.boxes import iou, map_resampled, match
from bench.stats.resample import counts, resample_indices

pytestmark = pytest.mark.slow  # every torchmetrics mAP takes about a second here


def _image(g: torch.Generator, n_true: int, n_pred: int, classes: int) -> tuple[dict, dict]:
    xy = torch.rand(n_true, 2, generator=g) * 60
    wh = 10 + torch.rand(n_true, 2, generator=g) * 20
    truth = {"boxes": torch.cat([xy, xy + wh], 1), "labels": torch.randint(0, classes, (n_true,), generator=g)}
    boxes, labels = [], []
    for i in range(n_pred):
        if n_true and i < 2 * n_true:  # jittered copies of the true boxes: IoUs across the thresholds
            k = i % n_true
            shift = (torch.rand(4, generator=g) - 0.5) * wh[k].repeat(2) * 0.6
            boxes.append(truth["boxes"][k] + shift)
            labels.append(truth["labels"][k])
        else:
            p = torch.rand(2, generator=g) * 60
            boxes.append(torch.cat([p, p + 15]))
            labels.append(torch.randint(0, classes, (), generator=g))
    pred = {"boxes": torch.stack(boxes).reshape(-1, 4) if boxes else torch.zeros(0, 4),
            "scores": torch.rand(n_pred, generator=g), "labels": torch.stack(labels).long() if labels else torch.zeros(0).long()}
    return pred, truth


def _case(seed: int, n: int = 10, classes: int = 1):
    g = torch.Generator().manual_seed(seed)
    pairs = [_image(g, int(torch.randint(0, 3, (1,), generator=g)), int(torch.randint(0, 6, (1,), generator=g)), classes)
             for _ in range(n)]
    return [p for p, _ in pairs], [t for _, t in pairs]


def test_iou_and_coco_matching_on_a_hand_case():
    gt = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float)
    dt = np.array([[0, 0, 10, 5], [0, 0, 10, 10], [21, 21, 30, 30]], float)
    assert iou(dt, gt)[:, 0] == pytest.approx([0.5, 1.0, 0.0]) and iou(dt, gt)[2, 1] == pytest.approx(0.81)
    # the first detection takes box 0 at IoU 0.5; the second then finds it taken
    assert match(iou(dt, gt), [0.5, 0.9]).tolist() == [[True, False, True], [False, True, False]]


@pytest.mark.parametrize("seed,classes", [(0, 1), (1, 1), (2, 2)])
def test_map_equals_torchmetrics_on_the_data_and_on_resamples(seed, classes):
    from tasks.detection import COCO_IOUS, MGCA_IOUS, RECALLS, box_map, flatten_boxes

    preds, truth = _case(seed, classes=classes)
    arrays = flatten_boxes(preds, truth)
    n = len(preds)
    idx = resample_indices(n, 3, seed=seed, unit="images")
    w = np.vstack([np.ones(n), counts(idx, n)])
    sets = {"map_40_75": list(MGCA_IOUS), "map": COCO_IOUS, "map_50": [0.5]}
    fast = {name: map_resampled(arrays, n, thresholds, w, RECALLS) for name, thresholds in sets.items()}
    for b, rows in enumerate([np.arange(n), *idx]):
        expected = box_map([preds[i] for i in rows], [truth[i] for i in rows])
        for name, value in expected.items():
            assert fast[name][b] == pytest.approx(value, abs=1e-6, nan_ok=True), (name, b)


def test_no_truth_is_nan_and_no_detections_is_zero():
    empty = {"pred_image": np.zeros(0, np.int64), "pred_boxes": np.zeros((0, 4)), "pred_scores": np.zeros(0),
             "pred_labels": np.zeros(0, np.int64), "gt_image": np.array([0]), "gt_boxes": np.array([[0, 0, 5, 5.0]]),
             "gt_labels": np.array([0])}
    assert map_resampled(empty, 2, [0.5], np.array([[1.0, 1.0], [0.0, 2.0]])).tolist()[0] == 0.0
    assert np.isnan(map_resampled(empty, 2, [0.5], np.array([[0.0, 2.0]])))[0]  # the drawn image has no truth
