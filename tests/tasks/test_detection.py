"""tasks.detection: mAP definitions against torchmetrics (empty images included) and a short run."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from support.dense_planted import PlantedData, TrunkMethod, dense_cfg, planted_records, tiny_trunk
from torchmetrics.detection import MeanAveragePrecision

from tasks import detection as det


def _t(boxes, scores=None):
    out = {"boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)}
    out["labels"] = torch.zeros(len(out["boxes"]), dtype=torch.long)
    if scores is not None:
        out["scores"] = torch.tensor(scores, dtype=torch.float32)
    return out


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


def test_box_map_matches_torchmetrics_with_empty_images() -> None:
    preds, targets = planted_predictions()
    ours = det.box_map(preds, targets)
    low = MeanAveragePrecision(iou_thresholds=[0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75])
    low.update(preds, targets)
    coco = MeanAveragePrecision()
    coco.update(preds, targets)
    standard = coco.compute()
    assert ours["map_40_75"] == pytest.approx(float(low.compute()["map"]))
    assert ours["map"] == pytest.approx(float(standard["map"]))
    assert ours["map_50"] == pytest.approx(float(standard["map_50"]))
    assert 0 < ours["map"] < ours["map_40_75"] <= 1


def test_empty_empty_images_change_nothing_and_false_alarms_cost() -> None:
    preds, targets = planted_predictions()
    base = det.box_map(preds[:2], targets[:2])
    assert det.box_map(preds[:2] + [preds[3]] * 3, targets[:2] + [targets[3]] * 3) == pytest.approx(base)
    with_alarm = det.box_map(preds[:3], targets[:3])
    assert with_alarm["map_50"] < base["map_50"]


def test_iou_range_is_mgcas() -> None:
    # One box at IoU 0.45 with its truth: a hit at thresholds 0.40 and 0.45 only -> 2 of 8.
    truth = _t([[0, 0, 100, 100]])
    pred = _t([[0, 0, 100, 45]], [0.9])  # IoU = 0.45
    scores = det.box_map([pred], [truth])
    assert det.MGCA_IOUS == (0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75)
    assert scores["map_40_75"] == pytest.approx(2 / 8, abs=1e-3)
    assert scores["map"] == 0 and scores["map_50"] == 0


def test_undefined_without_any_truth() -> None:
    assert all(math.isnan(v) for v in det.box_map([_t([], [])], [_t([])]).values())
    assert all(math.isnan(v) for v in det.box_map([], []).values())
    with pytest.raises(ValueError, match="predictions for"):
        det.box_map([_t([], [])], [])


def test_protocols_and_refusals(tmp_path) -> None:
    assert det.protocol(dense_cfg()) == "retinanet-frozen"
    assert det.resolve_protocol(dense_cfg(**{"eval.finetune": "true"})).name == "retinanet-finetune"
    with pytest.raises(KeyError, match="retinanet-frozen"):
        det.resolve_protocol(dense_cfg(**{"eval.det_protocol": "yolo"}))
    records = planted_records(tmp_path / "img", n=4)
    with pytest.raises(ValueError, match="rsna, object-cxr"):
        det.evaluate(TrunkMethod(tiny_trunk()), PlantedData("siim", tmp_path, records), dense_cfg())


@pytest.mark.slow
@pytest.mark.mm
def test_short_retinanet_training_lowers_the_loss(tmp_path) -> None:
    pytest.importorskip("mmdet")
    from tasks.mm.det import run_detection
    from tasks.mm.runner import folders

    records = planted_records(tmp_path / "img", n=32)
    data = PlantedData("rsna", tmp_path / "img", records, work_dir=tmp_path / "work")
    cfg = dense_cfg()
    with folders(data, "retina", 64) as (prepared, run_dir):
        out = run_detection(
            tiny_trunk(1),
            data.records("train"),
            data.records("test"),
            det.resolve_protocol(cfg),
            cfg,
            prepared,
            run_dir,
            ("opacity",),
            0,
        )
    assert len(out.losses) == 40 and np.mean(out.losses[-8:]) < np.mean(out.losses[:8])
    assert set(out.metrics) >= set(det.METRICS) and all(0 <= out.metrics[k] <= 1 for k in det.METRICS)
    assert (run_dir / "train.json").is_file() and (run_dir / "test.json").is_file()


@pytest.mark.slow
@pytest.mark.mm
def test_evaluate_on_a_three_channel_trunk(tmp_path) -> None:
    pytest.importorskip("mmdet")
    records = planted_records(tmp_path / "img", n=16)
    data = PlantedData("object-cxr", tmp_path / "img", records, work_dir=tmp_path / "work")
    metrics = det.evaluate(TrunkMethod(tiny_trunk(3)), data, dense_cfg(**{"eval.dense_iters": "3"}))
    assert set(metrics) == set(det.METRICS) and all(0 <= v <= 1 for v in metrics.values())


@pytest.mark.slow
@pytest.mark.mm
def test_retinanet_learns_to_find_planted_boxes(tmp_path) -> None:
    """Not just a falling loss: bright boxes on noise are found (the anchors, box coordinates and
    metric agree end to end; anchors shrunk to 8-13 px, for one, scored map_50 0.14 here)."""
    pytest.importorskip("mmdet")
    records = planted_records(tmp_path / "img", n=160)
    data = PlantedData("rsna", tmp_path / "img", records, work_dir=tmp_path / "work")
    cfg = dense_cfg(**{"eval.dense_iters": "200", "eval.dense_batch_size": "8", "eval.finetune": "true"})
    metrics = det.evaluate(TrunkMethod(tiny_trunk(1)), data, cfg)
    assert metrics["map_50"] > 0.5, metrics
