"""Segmentation on the method's image backbone, through MMSegmentation (``tasks.mm``).

Datasets: SIIM-ACR pneumothorax (the RLE rows of an image OR-ed, decoded at the image's size) and
RSNA pneumonia (the boxes filled as a mask, as MGCA and BenchX do). Images and masks are resized
to ``cfg.model.image_size``; training uses ``data.splits["train"]`` (the label fraction) for
``cfg.eval.dense_iters`` iterations of ``cfg.eval.dense_batch_size``; scores are on ``"test"``.

Protocols (:data:`PROTOCOLS`, chosen by ``cfg.eval.seg_protocol``; ``cfg.eval.finetune`` trains
the encoder too and renames ``*-frozen`` to ``*-finetune``):

- ``unet-frozen`` (GLoRIA/MGCA): frozen encoder + a U-Net decoder (``BenchUNetHead``, SMP's
  decoder widths) with one sigmoid output, MGCA's loss (focal x10 - log Dice), AdamW lr 5e-4,
  weight decay 1e-6, constant rate, no augmentation (MGCA: shift-scale-rotate); SIIM
  trains on every positive of the label-fraction training set plus as many random negatives
  (MGCA balances first and samples the fraction from the balanced set).
- ``upernet`` (BenchX): frozen encoder + MMSeg ``UPerHead``, cross-entropy, AdamW lr 1e-3,
  weight decay 0.05, linear warm-up over 7.5 % of the iterations then poly decay, random flips.

Both train for a fixed number of iterations and score the last weights (BenchX keeps the
checkpoint with the best validation mDice; MGCA stops early on the validation loss).

Metrics, each definition under its own name, threshold 0.5 on the foreground probability
(:func:`tasks.common.metrics.dice_scores`):

- ``dice_pos``: the Dice of positives, per-image Dice averaged over the test images whose mask
  has foreground (what SIIM papers report; NaN when the test split has no positive);
- ``dice_mgca``: GLoRIA/MGCA ``get_dice``, per-image Dice averaged over all test images, where an
  image with an empty truth scores 1 when the prediction is empty too, else 0 (on a test split
  of 64 % negatives, predicting nothing scores 0.64);
- ``dice_fg``: foreground Dice over the whole test set (pixels summed over images);
- ``mdice``: BenchX/MMSeg ``IoUMetric`` mDice, the mean of the background and foreground Dice
  over the whole test set. All in [0, 1].
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.api import Method
from bench.config import BenchConfig
from bench.predictions import Predictions
from bench.registry import Registry
from bench.taskdata import TaskData
from tasks.common import protocols
from tasks.common.metrics import DICE_METRICS, dice_scores
from tasks.common.subsets import balance_negatives

log = logging.getLogger(__name__)

NAME = "segmentation"
VERSION = "2"  # 2: dice_pos is the Dice of positives; the all-images score is dice_mgca
DENSE = True  # minutes per cell: the engine takes eval.dense_* for it
DATASETS = ("siim", "rsna")
METRICS: dict[str, bool] = dict.fromkeys(DICE_METRICS, True)
FOREGROUND = {"siim": "pneumothorax", "rsna": "opacity"}
DEFAULT_PROTOCOL = "unet-frozen"


@dataclass(frozen=True)
class SegProtocol:
    name: str
    head: str  # a key of tasks.mm.seg.HEADS
    frozen_stages: int = 4  # BenchResNet: 4 = frozen encoder, -1 = everything trains
    lr: float = 5e-4
    weight_decay: float = 1e-6
    schedule: str = "constant"  # or "poly"
    warmup: float = 0.0  # fraction of the iterations with a linear warm-up
    flip: bool = False
    balance: tuple[str, ...] = ()  # datasets whose training set keeps all positives + as many negatives


PROTOCOLS: Registry[SegProtocol] = Registry("segmentation protocol")
PROTOCOLS.register("unet-frozen", SegProtocol("unet-frozen", "unet", balance=("siim",)))
PROTOCOLS.register(
    "upernet",
    SegProtocol("upernet", "upernet", lr=1e-3, weight_decay=0.05, schedule="poly", warmup=0.075, flip=True),
)


def resolve_protocol(cfg: BenchConfig) -> SegProtocol:
    """``cfg.eval.seg_protocol`` (default ``unet-frozen``), fine-tuned when ``cfg.eval.finetune``."""
    return protocols.resolve(PROTOCOLS, cfg, "seg_protocol", DEFAULT_PROTOCOL)


def protocol(cfg: BenchConfig) -> str:
    return resolve_protocol(cfg).name


def _is_positive(record: Any) -> bool:
    return bool(record.rle) or bool(record.boxes)


def evaluate(method: Method, data: TaskData, cfg: BenchConfig) -> dict[str, float]:
    """Train the protocol's head on ``data.splits["train"]`` and score ``"test"``."""
    if data.dataset not in DATASETS:
        raise ValueError(f"segmentation runs on {', '.join(DATASETS)}; got dataset {data.dataset!r}")
    proto = resolve_protocol(cfg)
    train, test = data.records("train"), data.records("test")
    if data.dataset in proto.balance:
        balanced = balance_negatives(train, data.seed, _is_positive)
        if balanced:
            train = balanced
        else:
            log.warning(
                "%s: no positive image among %d training images; training on all", data.dataset, len(train)
            )
    if not train or not test:
        raise ValueError(
            f"segmentation on {data.dataset} at fraction {data.fraction:g}: {len(train)} train and "
            f"{len(test)} test images; both must be non-empty (use a larger fraction or dataset)"
        )
    from tasks.mm.runner import folders
    from tasks.mm.seg import run_segmentation

    run_name = f"{NAME}-{proto.name}-{data.dataset}-{data.fraction:g}-seed{data.seed}"
    classes = ("background", FOREGROUND[data.dataset])
    with folders(data, run_name, cfg.model.image_size) as (prepared, run_dir):
        outcome = run_segmentation(
            method.image_backbone(), train, test, proto, cfg, prepared, run_dir, classes, data.seed,
            images=getattr(data, "images", None),
        )
    if outcome.samples is not None:
        arrays = {"stats": np.asarray(outcome.samples, dtype=np.float64).reshape(-1, 4)}
        data.predictions = Predictions(NAME, data.dataset, NAME, [r.key for r in test], arrays, meta={"threshold": 0.5})
    return {k: outcome.metrics[k] for k in METRICS}


def rescore(pred: Predictions, rows: Any = None) -> dict[str, float]:
    """The metrics of saved per-image :func:`dice_stats` rows (``rows``: a resample of the images)."""
    stats = pred.arrays["stats"]
    return dice_scores(stats if rows is None else stats[np.asarray(rows, dtype=np.int64)])
