"""tasks.segmentation: its metrics, protocol choice, and short MMSeg runs end to end (the Dice
definitions are tested in tests/tasks/common/test_dense_metrics.py)."""

from __future__ import annotations

import numpy as np
import pytest
from support.dense_planted import PlantedData, TrunkMethod, dense_cfg, planted_records, tiny_trunk

from tasks import segmentation as seg
from tasks.common.metrics import DICE_METRICS


def test_metrics_are_the_shared_dice_definitions() -> None:
    assert list(seg.METRICS) == list(DICE_METRICS) == ["dice_pos", "dice_mgca", "dice_fg", "mdice"]
    assert all(seg.METRICS.values()) and seg.VERSION == "2"


def test_protocols_resolve_from_the_config() -> None:
    assert seg.protocol(dense_cfg()) == "unet-frozen"
    assert seg.resolve_protocol(dense_cfg(**{"eval.seg_protocol": "upernet"})).head == "upernet"
    tuned = seg.resolve_protocol(dense_cfg(**{"eval.finetune": "true"}))
    assert tuned.name == "unet-finetune" and tuned.frozen_stages == -1
    with pytest.raises(KeyError, match="upernet"):
        seg.resolve_protocol(dense_cfg(**{"eval.seg_protocol": "upernett"}))


def test_wrong_dataset_or_empty_split_is_refused(tmp_path) -> None:
    records = planted_records(tmp_path / "img", n=4)
    with pytest.raises(ValueError, match="siim, rsna"):
        seg.evaluate(TrunkMethod(tiny_trunk()), PlantedData("chexpert", tmp_path, records), dense_cfg())
    only_train = [r for r in records if r.split == "train"]
    with pytest.raises(ValueError, match="non-empty"):
        seg.evaluate(TrunkMethod(tiny_trunk()), PlantedData("rsna", tmp_path, only_train), dense_cfg())


@pytest.mark.slow
@pytest.mark.mm
def test_short_unet_training_learns_the_planted_masks(tmp_path) -> None:
    pytest.importorskip("mmseg")
    from tasks.mm.runner import folders
    from tasks.mm.seg import run_segmentation

    records = planted_records(tmp_path / "img", n=32)
    data = PlantedData("siim", tmp_path / "img", records, work_dir=tmp_path / "work")
    cfg = dense_cfg()
    proto = seg.resolve_protocol(cfg)
    with folders(data, "unet", 64) as (prepared, run_dir):
        out = run_segmentation(
            tiny_trunk(1),
            data.records("train"),
            data.records("test"),
            proto,
            cfg,
            prepared,
            run_dir,
            ("background", "pneumothorax"),
            0,
        )
    assert len(out.losses) == 40 and np.mean(out.losses[-8:]) < np.mean(out.losses[:8])
    assert set(out.metrics) >= set(seg.METRICS) and all(0 <= out.metrics[k] <= 1 for k in seg.METRICS)
    # It found the bright squares: all-background would give dice_fg 0 and mdice < 0.5, and
    # all-foreground dice_fg < 0.3 and mdice < 0.25 on these images.
    assert out.metrics["dice_fg"] > 0.4 and out.metrics["mdice"] > 0.6
    logs = list((tmp_path / "work" / "runs" / "unet").rglob("*.log"))
    assert logs and "Iter(train)" in logs[0].read_text()  # the toolbox's log stays in the work dir


@pytest.mark.slow
@pytest.mark.mm
def test_upernet_on_a_three_channel_trunk_through_evaluate(tmp_path) -> None:
    pytest.importorskip("mmseg")
    records = planted_records(tmp_path / "img", n=16)
    data = PlantedData("rsna", tmp_path / "img", records, work_dir=tmp_path / "work")
    cfg = dense_cfg(**{"eval.seg_protocol": "upernet", "eval.dense_iters": "4"})
    metrics = seg.evaluate(TrunkMethod(tiny_trunk(3)), data, cfg)
    assert set(metrics) == set(seg.METRICS) and all(0 <= v <= 1 for v in metrics.values())
    assert (tmp_path / "work" / "runs" / "segmentation-upernet-rsna-1-seed0" / "backbone.pth").is_file()
