"""tasks.segmentation: both Dice definitions, protocol choice, and short MMSeg runs end to end."""

from __future__ import annotations

import math

import numpy as np
import pytest
from support.dense_planted import PlantedData, TrunkMethod, dense_cfg, planted_records, tiny_trunk

from tasks import segmentation as seg


def mgca_dice(probs: np.ndarray, truths: np.ndarray, threshold: float = 0.5) -> float:
    """MGCA ``SSLSegmenter.get_dice`` (GLoRIA's too) on one batch, written out in numpy."""
    p = (probs.reshape(len(probs), -1) > threshold).astype(float)
    t = (truths.reshape(len(truths), -1) > 0.5).astype(float)
    t_sum, p_sum = t.sum(-1), p.sum(-1)
    dice_neg = (p_sum == 0).astype(float)[t_sum == 0]
    with np.errstate(invalid="ignore"):
        dice_pos = (2 * (p * t).sum(-1) / (p + t).sum(-1))[t_sum >= 1]
    return float(np.concatenate([dice_pos, dice_neg]).mean())


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


def test_dice_pos_matches_mgca_get_dice() -> None:
    probs, truths = planted_maps()
    stats = np.stack([seg.dice_stats(p, t) for p, t in zip(probs, truths)])
    scores = seg.dice_scores(stats)
    assert scores["dice_pos"] == pytest.approx(mgca_dice(probs, truths))
    assert 0 < scores["dice_pos"] < 1


def test_dataset_level_dice_and_mdice() -> None:
    probs, truths = planted_maps()
    pred, true = probs > 0.5, truths > 0
    fg = 2 * (pred & true).sum() / (pred.sum() + true.sum())
    bg = 2 * (~pred & ~true).sum() / ((~pred).sum() + (~true).sum())
    scores = seg.dice_scores(np.stack([seg.dice_stats(p, t) for p, t in zip(probs, truths)]))
    assert scores["dice_fg"] == pytest.approx(fg)
    assert scores["mdice"] == pytest.approx((fg + bg) / 2)


def test_empty_cases() -> None:
    empty = np.zeros((4, 4))
    perfect = seg.dice_scores(np.stack([seg.dice_stats(empty, empty)] * 2))
    assert perfect["dice_pos"] == 1.0 and math.isnan(perfect["dice_fg"]) and perfect["mdice"] == 1.0
    assert all(math.isnan(v) for v in seg.dice_scores(np.zeros((0, 4))).values())
    with pytest.raises(ValueError, match="shape"):
        seg.dice_stats(np.zeros((4, 4)), np.zeros((4, 5)))


def test_mdice_equals_mmseg_iou_metric() -> None:
    pytest.importorskip("mmseg")
    import torch
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
    ours = seg.dice_scores(np.stack([seg.dice_stats(p, t) for p, t in zip(probs, truths)]))["mdice"]
    assert ours == pytest.approx(theirs, abs=6e-5)


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
