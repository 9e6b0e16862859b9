"""Segmentation through MMSegmentation 1.x: a config generated from the harness's settings, data
written as PNG images + masks + list files, trained with MMEngine's runner and tested.

Heads (by a protocol's ``head``): ``unet`` (:class:`tasks.mm.heads.BenchUNetHead`, SMP's decoder
widths 256/128/64/32/16, one sigmoid output trained with MGCA's focal x10 - log-Dice loss,
:class:`tasks.mm.losses.BenchMixedLoss`) and ``upernet`` (MMSeg's ``UPerHead``, pool scales
1/2/3/6, two-class softmax with cross-entropy, as BenchX's config). Either way the foreground
probability > 0.5 is the prediction (for two classes, the argmax).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.config import BenchConfig
from bench.data.base import Record
from tasks.mm import backbones, heads, losses, metrics  # noqa: F401 - registers the Bench* modules
from tasks.mm import runner as mm
from tasks.mm.prepare import IMAGES, MASKS, write_images, write_list

log = logging.getLogger(__name__)
IMPORTS = ["tasks.mm.backbones", "tasks.mm.heads", "tasks.mm.losses", "tasks.mm.metrics"]
NORM = dict(type="BN", requires_grad=True)


def unet_head(channels: list[int]) -> dict[str, Any]:
    return dict(
        type="BenchUNetHead",
        in_channels=channels,
        in_index=[0, 1, 2, 3],
        decoder_channels=(256, 128, 64, 32, 16),
        dropout_ratio=0.0,
        num_classes=2,
        out_channels=1,  # one sigmoid output, foreground where > threshold (MGCA)
        threshold=0.5,
        norm_cfg=NORM,
        align_corners=False,
        loss_decode=dict(type="BenchMixedLoss", alpha=10.0, gamma=2.0),
    )


def uper_head(channels: list[int]) -> dict[str, Any]:
    return dict(
        type="UPerHead",
        in_channels=channels,
        in_index=[0, 1, 2, 3],
        pool_scales=(1, 2, 3, 6),
        channels=min(512, channels[-1]),
        dropout_ratio=0.1,
        num_classes=2,
        norm_cfg=NORM,
        align_corners=False,
        loss_decode=dict(type="CrossEntropyLoss", use_sigmoid=False, loss_weight=1.0),
    )


HEADS: dict[str, Callable[[list[int]], dict[str, Any]]] = {"unet": unet_head, "upernet": uper_head}


def model_cfg(protocol: Any, trunk: Path, spec: dict[str, Any], cfg: BenchConfig) -> dict[str, Any]:
    if protocol.head not in HEADS:
        raise ValueError(f"unknown segmentation head {protocol.head!r}; valid: {sorted(HEADS)}")
    channels = mm.stage_channels(spec)
    return dict(
        type="EncoderDecoder",
        data_preprocessor=dict(
            type="SegDataPreProcessor",
            **mm.normalisation(cfg, spec["in_channels"]),
            size=(cfg.model.image_size,) * 2,
            bgr_to_rgb=False,
            pad_val=0,
            seg_pad_val=255,
        ),
        backbone=dict(
            type="BenchResNet",
            checkpoint=str(trunk),
            out_indices=(0, 1, 2, 3),
            frozen_stages=protocol.frozen_stages,
            norm_eval=True,
        ),
        decode_head=HEADS[protocol.head](channels),
        train_cfg=dict(),
        test_cfg=dict(mode="whole"),
    )


def dataset_cfg(
    prepared: Path, ann_file: Path, classes: Sequence[str], channels: int, train: bool, flip: bool
) -> dict[str, Any]:
    pipeline: list[dict[str, Any]] = [
        dict(type="LoadImageFromFile", color_type="grayscale" if channels == 1 else "color"),
        dict(type="LoadAnnotations"),
    ]
    if train and flip:
        pipeline.append(dict(type="RandomFlip", prob=0.5))
    pipeline.append(dict(type="PackSegInputs"))
    return dict(
        type="BaseSegDataset",
        data_root=str(prepared),
        ann_file=str(ann_file),
        data_prefix=dict(img_path=IMAGES, seg_map_path=MASKS),
        img_suffix=".png",
        seg_map_suffix=".png",
        metainfo=dict(classes=tuple(classes), palette=[[0, 0, 0], [255, 255, 255]]),
        reduce_zero_label=False,
        pipeline=pipeline,
    )


def build_config(
    protocol: Any,
    cfg: BenchConfig,
    trunk: Path,
    spec: dict[str, Any],
    prepared: Path,
    run_dir: Path,
    lists: dict[str, Path],
    classes: Sequence[str],
    seed: int,
) -> dict[str, Any]:
    """The whole MMSeg config for one run (plain data only)."""
    channels = spec["in_channels"]
    return mm.run_config(
        "mmseg",
        IMPORTS,
        protocol,
        cfg,
        run_dir,
        seed,
        model=model_cfg(protocol, trunk, spec, cfg),
        datasets=(
            dataset_cfg(prepared, lists["train"], classes, channels, True, protocol.flip),
            dataset_cfg(prepared, lists["test"], classes, channels, False, False),
        ),
        evaluator=dict(type="BenchDiceMetric", threshold=0.5),
    )


def run_segmentation(
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
    """Write the data and the trunk, train the head with MMEngine's runner, score the test split."""
    size = cfg.model.image_size
    write_images([*train, *test], prepared, size, with_masks=True, images=images)
    lists = {
        "train": write_list(train, run_dir / "train.txt"),
        "test": write_list(test, run_dir / "test.txt"),
    }
    trunk, spec = mm.write_backbone(backbone, run_dir)
    config = build_config(protocol, cfg, trunk, spec, prepared, run_dir, lists, classes, seed)
    mm.log_run("segmentation", protocol, train, test, cfg)
    return mm.run(config)
