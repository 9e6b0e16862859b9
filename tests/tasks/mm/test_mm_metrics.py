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

from tasks.common.metrics import box_map, dice_scores, dice_stats  # noqa: E402
from tasks.mm.metrics import BenchBoxMetric, BenchDiceMetric, foreground_probability  # noqa: E402

pytestmark = pytest.mark.mm


def test_foreground_probability_one_channel_is_already_a_probability() -> None:
    one = torch.tensor([[[0.2, 0.7]]])
    assert torch.equal(foreground_probability(one), one[0])
    two = torch.stack([torch.zeros(1, 2), torch.tensor([[0.0, 2.0]])])
    assert torch.allclose(foreground_probability(two), torch.softmax(two, 0)[1])


@pytest.mark.parametrize("out_channels", [1, 2])
def test_metric_on_mmsegs_own_predictions(out_channels, tmp_path) -> None:
    """Through EncoderDecoder.predict: what MMSeg stores as seg_logits, for 1 and 2 channels."""
    from mmengine.config import ConfigDict
    from mmengine.registry import DefaultScope
    from mmseg.registry import MODELS
    from support.dense_planted import tiny_trunk

    import tasks.mm.backbones  # noqa: F401 - registers BenchResNet
    import tasks.mm.heads  # noqa: F401 - registers BenchUNetHead
    from tasks.mm.trunk import save_trunk

    save_trunk(tiny_trunk(1), tmp_path / "t.pth")
    head = dict(
        type="BenchUNetHead",
        in_channels=[16, 32, 64, 128],
        in_index=[0, 1, 2, 3],
        decoder_channels=(8, 8),
        num_classes=2,
        out_channels=out_channels,
        threshold=0.5 if out_channels == 1 else None,
        norm_cfg=dict(type="BN"),
        loss_decode=dict(type="CrossEntropyLoss", use_sigmoid=out_channels == 1),
    )
    with DefaultScope.overwrite_default_scope("mmseg"):
        model = MODELS.build(
            ConfigDict(
                type="EncoderDecoder",
                data_preprocessor=dict(type="SegDataPreProcessor", mean=[0.0], std=[1.0]),
                backbone=dict(type="BenchResNet", checkpoint=str(tmp_path / "t.pth")),
                decode_head=head,
                test_cfg=dict(mode="whole"),
            )
        ).eval()
    torch.nn.init.normal_(model.decode_head.conv_seg.weight, std=1.0)
    x = torch.randn(2, 1, 32, 32)
    truths = (torch.rand(2, 1, 32, 32) > 0.7).long()
    samples = []
    for t in truths:
        s = SegDataSample(metainfo=dict(img_shape=(32, 32), ori_shape=(32, 32)))
        s.gt_sem_seg = PixelData(data=t)
        samples.append(s)
    with torch.no_grad():
        raw = model.encode_decode(x, [s.metainfo for s in samples])
        out = model.predict(x, samples)
    probs = torch.sigmoid(raw[:, 0]) if out_channels == 1 else torch.softmax(raw, 1)[:, 1]
    metric = BenchDiceMetric()
    metric.process({}, [s.to_dict() for s in out])
    want = dice_scores(
        np.stack([dice_stats(p.numpy(), t[0].numpy()) for p, t in zip(probs, truths)])
    )
    assert metric.compute_metrics(metric.results) == pytest.approx(want)
    assert 0 < probs.gt(0.5).float().mean() < 1  # a real mix of foreground and background


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
    want = dice_scores(
        np.stack([dice_stats(p, t[0].numpy()) for p, t in zip(probs, truths)])
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
    assert metric.compute_metrics(metric.results) == pytest.approx(box_map(preds, targets))
