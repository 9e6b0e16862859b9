"""Saved predictions of the dense tasks: per-image Dice counts and boxes, rescored by the tasks' metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.predictions import Predictions, read_predictions, write_predictions
from bench.stats.audit import audit_entries
from bench.stats.resample import resample_indices
from bench.stats.scorers import resampled_metrics
from tasks import detection, segmentation


def _stats(n: int = 40) -> np.ndarray:
    rng = np.random.default_rng(0)
    true = rng.integers(0, 50, n) * (rng.random(n) < 0.6)  # some images without foreground
    pred = rng.integers(0, 50, n)
    inter = np.minimum(true, pred) * rng.random(n)
    return np.stack([np.floor(inter), pred, true, np.full(n, 576)], axis=1).astype(np.float64)


def test_segmentation_rescore_and_resamples_use_dice_scores(tmp_path):
    stats = _stats()
    pred = Predictions("segmentation", "siim", "segmentation", [f"k{i}" for i in range(len(stats))], {"stats": stats})
    path = tmp_path / "s.npz"
    back = read_predictions(path, write_predictions(pred, path))
    assert segmentation.rescore(back) == segmentation.dice_scores(stats)
    samples = resampled_metrics(back, segmentation.rescore, n_resamples=20, seed=2)
    for b, rows in enumerate(resample_indices(len(stats), 20, seed=2, unit="images")):
        expected = segmentation.dice_scores(stats[rows])
        assert {k: samples[k][b] for k in expected} == pytest.approx(expected)
    extra = audit_entries(back, tmp_path / "r.json", segmentation.rescore(back), {"test": "h"},
                          rescore=segmentation.rescore, n_resamples=100)
    assert set(extra["ci"]["metrics"]) == set(segmentation.METRICS) and extra["predictions"]["split_hash"] == "h"


def _boxes(n: int, scores: bool, g: torch.Generator) -> dict:
    xy = torch.rand(n, 2, generator=g) * 40
    out = {"boxes": torch.cat([xy, xy + 8 + torch.rand(n, 2, generator=g) * 8], 1), "labels": torch.zeros(n, dtype=torch.long)}
    if scores:
        out["scores"] = torch.rand(n, generator=g)
    return out


@pytest.mark.slow
def test_detection_boxes_flatten_and_rescore_with_box_map(tmp_path):
    g = torch.Generator().manual_seed(0)
    truth = [_boxes(int(k), False, g) for k in (1, 0, 2, 1, 0, 1)]
    preds = [{**_boxes(int(k), True, g)} for k in (2, 1, 0, 3, 0, 2)]
    for p, t in zip(preds, truth):  # a near hit on every true box
        if len(t["boxes"]) and len(p["boxes"]):
            p["boxes"][0] = t["boxes"][0] + 1
    pred = detection.box_predictions("rsna", [f"k{i}" for i in range(6)], preds, truth)
    arrays = pred.arrays
    assert arrays["pred_boxes"].shape == (8, 4) and arrays["gt_image"].tolist() == [0, 2, 2, 3, 5]
    path = tmp_path / "d.npz"
    back = read_predictions(path, write_predictions(pred, path))
    assert detection.rescore(back) == pytest.approx(detection.box_map(preds, truth), nan_ok=True)
    rows = [2, 2, 3, 1]
    expected = detection.box_map([preds[i] for i in rows], [truth[i] for i in rows])
    assert detection.rescore(back, rows=rows) == pytest.approx(expected, nan_ok=True)
    metrics = detection.rescore(back)
    extra = audit_entries(back, tmp_path / "r.json", metrics, {"test": "h"}, n_resamples=200)
    assert set(extra["ci"]["metrics"]) == set(detection.METRICS) and (tmp_path / extra["predictions"]["file"]).is_file()
    for name, (low, high) in extra["ci"]["metrics"].items():
        assert low <= metrics[name] <= high, name


@pytest.mark.slow
@pytest.mark.mm
def test_segmentation_evaluate_leaves_predictions_that_rescore_exactly(tmp_path):
    pytest.importorskip("mmseg")
    from support.dense_planted import PlantedData, TrunkMethod, dense_cfg, planted_records, tiny_trunk

    records = planted_records(tmp_path / "img", n=16)
    data = PlantedData("rsna", tmp_path / "img", records, work_dir=tmp_path / "work")
    cfg = dense_cfg(**{"eval.seg_protocol": "upernet", "eval.dense_iters": "4"})
    metrics = segmentation.evaluate(TrunkMethod(tiny_trunk(3)), data, cfg)
    pred = data.predictions
    assert pred.kind == "segmentation" and pred.keys == data.splits["test"]
    assert pred.arrays["stats"].shape == (len(pred), 4)
    assert segmentation.rescore(pred) == metrics
