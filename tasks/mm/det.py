"""Detection through MMDetection 3.x: RetinaNet (FPN + focal loss) on the method's trunk.

RetinaNet rather than MGCA's YOLOv3: MMDetection's YOLOv3 expects a Darknet-shaped neck of three
levels, while RetinaNet takes any ResNet's stage features through an FPN and needs no RoI
pooling (which has no CPU kernel in mmcv). The anchors, assigner, losses and test-time settings
are MMDetection's RetinaNet defaults, with the NMS IoU at 0.5 as MGCA's. Data: a COCO json
written into the run folder (boxes as xywh at the resized image; images without boxes kept)
over the prepared PNG images.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.config import BenchConfig
from bench.data.base import Record
from tasks.mm import backbones, metrics  # noqa: F401 - registers BenchResNet, BenchBoxMetric
from tasks.mm import runner as mm
from tasks.mm.prepare import IMAGES, write_coco, write_images

log = logging.getLogger(__name__)
IMPORTS = ["tasks.mm.backbones", "tasks.mm.metrics"]


def retinanet(
    trunk: Path, spec: dict[str, Any], cfg: BenchConfig, n_classes: int, frozen_stages: int
) -> dict[str, Any]:
    channels = mm.stage_channels(spec)[1:]  # C3..C5
    width = min(256, max(64, channels[-1]))  # FPN/head width: 256 as MMDetection, less for tiny trunks
    return dict(
        type="RetinaNet",
        data_preprocessor=dict(
            type="DetDataPreprocessor",
            **mm.normalisation(cfg, spec["in_channels"]),
            bgr_to_rgb=False,
            pad_size_divisor=32,
        ),
        backbone=dict(
            type="BenchResNet",
            checkpoint=str(trunk),
            out_indices=(1, 2, 3),
            frozen_stages=frozen_stages,
            norm_eval=True,
        ),
        neck=dict(
            type="FPN",
            in_channels=channels,
            out_channels=width,
            start_level=0,
            add_extra_convs="on_input",
            num_outs=5,
        ),
        bbox_head=dict(
            type="RetinaHead",
            num_classes=n_classes,
            in_channels=width,
            stacked_convs=4,
            feat_channels=width,
            anchor_generator=dict(
                type="AnchorGenerator",
                octave_base_scale=4,
                scales_per_octave=3,
                ratios=[0.5, 1.0, 2.0],
                strides=[8, 16, 32, 64, 128],
            ),
            bbox_coder=dict(type="DeltaXYWHBBoxCoder", target_means=[0.0] * 4, target_stds=[1.0] * 4),
            loss_cls=dict(type="FocalLoss", use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0),
            loss_bbox=dict(type="L1Loss", loss_weight=1.0),
        ),
        train_cfg=dict(
            assigner=dict(
                type="MaxIoUAssigner", pos_iou_thr=0.5, neg_iou_thr=0.4, min_pos_iou=0, ignore_iof_thr=-1
            ),
            sampler=dict(type="PseudoSampler"),
            allowed_border=-1,
            pos_weight=-1,
            debug=False,
        ),
        test_cfg=dict(
            nms_pre=1000,
            min_bbox_size=0,
            score_thr=0.05,
            nms=dict(type="nms", iou_threshold=0.5),
            max_per_img=100,
        ),
    )


def dataset_cfg(
    prepared: Path, ann_file: Path, classes: Sequence[str], channels: int, size: int, train: bool
) -> dict[str, Any]:
    pipeline = [
        dict(type="LoadImageFromFile", color_type="grayscale" if channels == 1 else "color"),
        dict(type="LoadAnnotations", with_bbox=True),
        dict(type="Resize", scale=(size, size), keep_ratio=False),  # a no-op that records scale_factor
        dict(type="PackDetInputs"),
    ]
    return dict(
        type="CocoDataset",
        data_root=str(prepared),
        ann_file=str(ann_file),
        data_prefix=dict(img=f"{IMAGES}/"),
        metainfo=dict(classes=tuple(classes)),
        filter_cfg=dict(filter_empty_gt=False, min_size=0),
        test_mode=not train,
        pipeline=pipeline,
    )


def build_config(
    protocol: Any,
    cfg: BenchConfig,
    trunk: Path,
    spec: dict[str, Any],
    prepared: Path,
    run_dir: Path,
    anns: dict[str, Path],
    classes: Sequence[str],
    seed: int,
) -> dict[str, Any]:
    """The whole MMDet config for one run (plain data only)."""
    size, channels = cfg.model.image_size, spec["in_channels"]
    return mm.run_config(
        "mmdet",
        IMPORTS,
        protocol,
        cfg,
        run_dir,
        seed,
        model=retinanet(trunk, spec, cfg, len(classes), protocol.frozen_stages),
        datasets=(
            dataset_cfg(prepared, anns["train"], classes, channels, size, True),
            dataset_cfg(prepared, anns["test"], classes, channels, size, False),
        ),
        evaluator=dict(type="BenchBoxMetric"),
        clip=protocol.clip,
    )


def run_detection(
    backbone: Any,
    train: Sequence[Record],
    test: Sequence[Record],
    protocol: Any,
    cfg: BenchConfig,
    prepared: Path,
    run_dir: Path,
    classes: Sequence[str],
    seed: int,
    images: Any = None,
) -> mm.Outcome:
    """Write images, COCO files and the trunk, train RetinaNet's neck and head, score the test split."""
    mm.require_cuda_ops("detection")
    size = cfg.model.image_size
    shapes = write_images([*train, *test], prepared, size, images=images)
    anns = {
        "train": write_coco(train, shapes, size, classes, run_dir / "train.json"),
        "test": write_coco(test, shapes, size, classes, run_dir / "test.json"),
    }
    trunk, spec = mm.write_backbone(backbone, run_dir)
    config = build_config(protocol, cfg, trunk, spec, prepared, run_dir, anns, classes, seed)
    mm.log_run("detection", protocol, train, test, cfg)
    return mm.run(config)
