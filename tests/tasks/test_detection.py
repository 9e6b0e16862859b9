"""tasks.detection: its metrics, protocols and short runs (the mAP itself is tested against
pycocotools in tests/tasks/common/test_dense_metrics.py)."""

from __future__ import annotations

import numpy as np
import pytest
from support.dense_planted import PlantedData, TrunkMethod, dense_cfg, planted_records, tiny_trunk

from tasks import detection as det
from tasks.common.metrics import BOX_METRICS


def test_metrics_are_the_shared_box_definitions() -> None:
    assert list(det.METRICS) == list(BOX_METRICS) == ["map_40_75", "map", "map_50"]
    assert all(det.METRICS.values()) and det.VERSION == "2"


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
