"""tasks.common.metrics, dense part: Dice against MGCA's get_dice, hand sums and MMSeg; box mAP
against pycocotools on planted and random boxes."""

from __future__ import annotations

import contextlib
import io
import math

import numpy as np
import pytest
import torch

from tasks.common.metrics import BOX_METRICS, DICE_METRICS, MGCA_IOUS, box_map, dice_scores, dice_stats


# -- Dice -------------------------------------------------------------------------------------
def mgca_dice(probs: np.ndarray, truths: np.ndarray, threshold: float = 0.5) -> float:
    """MGCA ``SSLSegmenter.get_dice`` (GLoRIA's too) on one batch, written out in numpy."""
    p = (probs.reshape(len(probs), -1) > threshold).astype(float)
    t = (truths.reshape(len(truths), -1) > 0.5).astype(float)
    t_sum, p_sum = t.sum(-1), p.sum(-1)
    dice_neg = (p_sum == 0).astype(float)[t_sum == 0]
    with np.errstate(invalid="ignore"):
        dice_pos = (2 * (p * t).sum(-1) / (p + t).sum(-1))[t_sum >= 1]
    return float(np.concatenate([dice_pos, dice_neg]).mean())


def positives_dice(probs: np.ndarray, truths: np.ndarray) -> float:
    """By hand: per-image Dice of the images whose truth has foreground, averaged."""
    values = []
    for p, t in zip(probs > 0.5, truths > 0):
        if t.any():
            values.append(2 * (p & t).sum() / (p.sum() + t.sum()))
    return float(np.mean(values))


def planted_maps(n: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truths = np.zeros((n, 16, 16), dtype=np.uint8)
    probs = rng.uniform(0, 0.45, (n, 16, 16))
    for i in range(n):
        if i % 3:  # a true square, predicted shifted
            truths[i, 4:10, 4:10] = 1
            probs[i, 5 : 11 - i % 2, 3:9] = 0.9
        elif i % 2:  # empty truth, a false alarm
            probs[i, 0:2, 0:2] = 0.7
    return probs, truths


def _scores(probs: np.ndarray, truths: np.ndarray) -> dict[str, float]:
    return dice_scores(np.stack([dice_stats(p, t) for p, t in zip(probs, truths)]))


def test_dice_pos_is_the_dice_of_positives_and_dice_mgca_is_get_dice() -> None:
    probs, truths = planted_maps()
    scores = _scores(probs, truths)
    assert set(scores) == set(DICE_METRICS)
    assert scores["dice_pos"] == pytest.approx(positives_dice(probs, truths), abs=1e-12)
    assert scores["dice_mgca"] == pytest.approx(mgca_dice(probs, truths), abs=1e-12)
    assert 0 < scores["dice_pos"] < 1 and scores["dice_pos"] != pytest.approx(scores["dice_mgca"])


def test_predicting_nothing_scores_the_share_of_negatives_only_under_mgca() -> None:
    truths = np.zeros((50, 8, 8), dtype=np.uint8)
    truths[:13, 2:5, 2:5] = 1  # 13 positives, 37 negatives (74 %)
    scores = _scores(np.zeros((50, 8, 8)), truths)
    assert scores["dice_mgca"] == pytest.approx(0.74) and scores["dice_pos"] == 0.0
    assert scores["dice_fg"] == 0.0


def test_dataset_level_dice_and_mdice() -> None:
    probs, truths = planted_maps()
    pred, true = probs > 0.5, truths > 0
    fg = 2 * (pred & true).sum() / (pred.sum() + true.sum())
    bg = 2 * (~pred & ~true).sum() / ((~pred).sum() + (~true).sum())
    scores = _scores(probs, truths)
    assert scores["dice_fg"] == pytest.approx(fg)
    assert scores["mdice"] == pytest.approx((fg + bg) / 2)


def test_dice_empty_cases() -> None:
    empty = np.zeros((4, 4))
    perfect = dice_scores(np.stack([dice_stats(empty, empty)] * 2))
    assert perfect["dice_mgca"] == 1.0 and perfect["mdice"] == 1.0
    assert math.isnan(perfect["dice_pos"]) and math.isnan(perfect["dice_fg"])  # no positive image
    assert all(math.isnan(v) for v in dice_scores(np.zeros((0, 4))).values())
    with pytest.raises(ValueError, match="shape"):
        dice_stats(np.zeros((4, 4)), np.zeros((4, 5)))


def test_mdice_equals_mmseg_iou_metric() -> None:
    pytest.importorskip("mmseg")
    from mmseg.evaluation import IoUMetric

    probs, truths = planted_maps(seed=3)
    metric = IoUMetric(iou_metrics=["mDice"])
    metric.dataset_meta = {"classes": ("background", "foreground")}
    samples = [
        {
            "pred_sem_seg": {"data": torch.from_numpy((p > 0.5).astype(np.int64))[None]},
            "gt_sem_seg": {"data": torch.from_numpy(t.astype(np.int64))[None]},
        }
        for p, t in zip(probs, truths)
    ]
    metric.process({}, samples)
    theirs = metric.compute_metrics(metric.results)["mDice"] / 100.0  # percent, 2 decimals
    assert _scores(probs, truths)["mdice"] == pytest.approx(theirs, abs=6e-5)


# -- box mAP ----------------------------------------------------------------------------------
def _t(boxes, scores=None):
    out = {"boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)}
    out["labels"] = torch.zeros(len(out["boxes"]), dtype=torch.long)
    if scores is not None:
        out["scores"] = torch.tensor(scores, dtype=torch.float32)
    return out


def pycocotools_map(preds, targets, ious=None) -> tuple[float, float]:
    """pycocotools' own path: COCO json in, ``loadRes``, default params, ``summarize`` (AP, AP50)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    def xywh(b):
        b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
        return np.c_[b[:, :2], b[:, 2:] - b[:, :2]]

    anns, dets = [], []
    for i, (p, t) in enumerate(zip(preds, targets)):
        for box, cat in zip(xywh(t["boxes"]), np.asarray(t["labels"]).tolist()):
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": cat + 1, "bbox": box.tolist(),
                         "area": float(box[2] * box[3]), "iscrowd": 0})
        for box, cat, s in zip(xywh(p["boxes"]), np.asarray(p["labels"]).tolist(), np.asarray(p["scores"]).tolist()):
            dets.append({"image_id": i, "category_id": cat + 1, "bbox": box.tolist(), "score": s})
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = {"images": [{"id": i} for i in range(len(targets))], "annotations": anns,
                      "categories": [{"id": c} for c in sorted({a["category_id"] for a in anns})]}
        gt.createIndex()
        ev = COCOeval(gt, gt.loadRes(dets), "bbox")
        if ious is not None:
            ev.params.iouThrs = np.array(ious)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return float(ev.stats[0]), float(ev.stats[1])


def planted_predictions():
    """Four images: a hit, a loose hit, a confident false alarm on an empty image, an empty-empty image."""
    preds = [
        _t([[10, 10, 50, 50], [60, 60, 70, 70]], [0.9, 0.3]),
        _t([[0, 0, 30, 40]], [0.8]),
        _t([[5, 5, 25, 25]], [0.95]),  # outranks the hits
        _t([], []),
    ]
    targets = [_t([[12, 10, 50, 52]]), _t([[5, 5, 35, 45]]), _t([]), _t([])]
    return preds, targets


def test_box_map_equals_pycocotools_with_empty_images() -> None:
    preds, targets = planted_predictions()
    ours = box_map(preds, targets)
    assert set(ours) == set(BOX_METRICS)
    coco, coco50 = pycocotools_map(preds, targets)
    assert ours["map"] == pytest.approx(coco, abs=1e-12) and ours["map_50"] == pytest.approx(coco50, abs=1e-12)
    assert ours["map_40_75"] == pytest.approx(pycocotools_map(preds, targets, MGCA_IOUS)[0], abs=1e-12)
    assert 0 < ours["map"] < ours["map_40_75"] <= 1


def random_detections(seed: int, n_images: int = 12):
    """Truths and noisy, partly missed, partly spurious predictions: recalls like 3/5 are exact."""
    rng = np.random.default_rng(seed)
    preds, targets = [], []
    for _ in range(n_images):
        n = int(rng.integers(0, 4))
        xy = rng.uniform(0, 80, (n, 2))
        truth = np.c_[xy, xy + rng.uniform(8, 40, (n, 2))]
        found = truth[rng.random(n) < 0.7] + rng.normal(0, 3, (1, 4))
        spurious = rng.uniform(0, 60, (int(rng.integers(0, 3)), 2))
        pred = np.r_[found.reshape(-1, 4), np.c_[spurious, spurious + 20]]
        labels = rng.integers(0, 2, len(pred))
        preds.append({"boxes": torch.tensor(pred), "scores": torch.tensor(rng.random(len(pred))),
                      "labels": torch.tensor(labels)})
        targets.append({"boxes": torch.tensor(truth), "labels": torch.tensor(rng.integers(0, 2, n))})
    return preds, targets


@pytest.mark.parametrize("seed", range(8))
def test_box_map_equals_pycocotools_on_random_boxes(seed) -> None:
    # torchmetrics' default float32 thresholds (0.6 -> 0.6000000238) put exact recalls on the wrong
    # side and differed from pycocotools by up to 3e-3.
    preds, targets = random_detections(seed)
    ours = box_map(preds, targets)
    coco, coco50 = pycocotools_map(preds, targets)
    assert ours["map"] == pytest.approx(coco, abs=1e-6)
    assert ours["map_50"] == pytest.approx(coco50, abs=1e-6)
    assert ours["map_40_75"] == pytest.approx(pycocotools_map(preds, targets, MGCA_IOUS)[0], abs=1e-6)


def test_exact_recall_on_a_threshold_counts() -> None:
    # 5 truths, 3 found first then 2 false alarms: precision 1 up to recall 3/5 exactly, so recall
    # threshold 0.60 gets precision 1 (61 of the 101 thresholds); float32's 0.6000000238 missed it.
    truths = [[i * 20.0, 0.0, i * 20.0 + 10.0, 10.0] for i in range(5)]
    pred = _t(truths[:3] + [[200, 200, 210, 210], [300, 300, 310, 310]], [0.9, 0.8, 0.7, 0.6, 0.5])
    scores = box_map([pred], [_t(truths)])
    assert scores["map_50"] == pytest.approx(61 / 101, abs=1e-12)
    assert scores["map"] == pytest.approx(61 / 101, abs=1e-12)


def test_mgca_iou_range() -> None:
    # One box at IoU 0.45 with its truth: a hit at thresholds 0.40 and 0.45 only -> 2 of 8.
    truth = _t([[0, 0, 100, 100]])
    pred = _t([[0, 0, 100, 45]], [0.9])  # IoU = 0.45
    scores = box_map([pred], [truth])
    assert MGCA_IOUS == (0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75)
    assert scores["map_40_75"] == pytest.approx(2 / 8, abs=1e-12)
    assert scores["map"] == 0 and scores["map_50"] == 0


def test_box_map_empty_and_undefined() -> None:
    preds, targets = planted_predictions()
    base = box_map(preds[:2], targets[:2])
    assert box_map(preds[:2] + [preds[3]] * 3, targets[:2] + [targets[3]] * 3) == pytest.approx(base)
    assert box_map(preds[:3], targets[:3])["map_50"] < base["map_50"]  # a false alarm costs
    assert box_map([_t([], [])], targets[:1]) == dict.fromkeys(BOX_METRICS, 0.0)  # nothing predicted
    assert all(math.isnan(v) for v in box_map([_t([], [])], [_t([])]).values())
    assert all(math.isnan(v) for v in box_map([], []).values())
    with pytest.raises(ValueError, match="predictions for"):
        box_map([_t([], [])], [])
