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

Metrics, both definitions labelled, threshold 0.5 on the foreground probability:

- ``dice_pos``: GLoRIA/MGCA ``get_dice`` per image (an image with an empty truth scores 1 when
  the prediction is empty too, else 0), averaged over test images;
- ``dice_fg``: foreground Dice over the whole test set (pixels summed over images);
- ``mdice``: BenchX/MMSeg ``IoUMetric`` mDice, the mean of the background and foreground Dice
  over the whole test set. All in [0, 1].
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.predictions import Predictions
from bench.registry import Registry
from tasks.common import protocols
from tasks.mm.prepare import balance_negatives

log = logging.getLogger(__name__)

NAME = "segmentation"
VERSION = "1"
DENSE = True  # minutes per cell: the engine takes eval.dense_* for it
DATASETS = ("siim", "rsna")
METRICS: dict[str, bool] = {"dice_pos": True, "dice_fg": True, "mdice": True}
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


def resolve_protocol(cfg: Any) -> SegProtocol:
    """``cfg.eval.seg_protocol`` (default ``unet-frozen``), fine-tuned when ``cfg.eval.finetune``."""
    return protocols.resolve(PROTOCOLS, cfg, "seg_protocol", DEFAULT_PROTOCOL)


def protocol(cfg: Any) -> str:
    return resolve_protocol(cfg).name


def dice_stats(prob: np.ndarray, truth: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """[intersection, predicted, true, total] foreground pixels of one image (prob > threshold)."""
    pred = np.asarray(prob) > threshold
    true = np.asarray(truth) > 0
    if pred.shape != true.shape:
        raise ValueError(f"prediction shape {pred.shape} differs from the mask's {true.shape}")
    return np.array([(pred & true).sum(), pred.sum(), true.sum(), true.size], dtype=np.float64)


def dice_scores(stats: np.ndarray) -> dict[str, float]:
    """``dice_pos``, ``dice_fg`` and ``mdice`` from per-image :func:`dice_stats` rows [N, 4]."""
    stats = np.asarray(stats, dtype=np.float64).reshape(-1, 4)
    if len(stats) == 0:
        return {k: math.nan for k in METRICS}
    inter, pred, true, total = stats.T
    with np.errstate(invalid="ignore", divide="ignore"):
        per_image = np.where(true > 0, 2 * inter / (pred + true), (pred == 0).astype(np.float64))
    i, p, t, n = inter.sum(), pred.sum(), true.sum(), total.sum()
    fg = 2 * i / (p + t) if p + t > 0 else math.nan
    bg_i, bg_p, bg_t = n - p - t + i, n - p, n - t
    bg = 2 * bg_i / (bg_p + bg_t) if bg_p + bg_t > 0 else math.nan
    defined = [v for v in (bg, fg) if not math.isnan(v)]
    return {
        "dice_pos": float(per_image.mean()),
        "dice_fg": float(fg),
        "mdice": float(np.mean(defined)) if defined else math.nan,
    }


def _is_positive(record: Any) -> bool:
    return bool(record.rle) or bool(record.boxes)


def evaluate(method: Any, data: Any, cfg: Any) -> dict[str, float]:
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
    with folders(data, run_name, int(cfg.model.image_size)) as (prepared, run_dir):
        outcome = run_segmentation(
            method.image_backbone(), train, test, proto, cfg, prepared, run_dir, classes, data.seed
        )
    if outcome.samples is not None:
        arrays = {"stats": np.asarray(outcome.samples, dtype=np.float64).reshape(-1, 4)}
        data.predictions = Predictions(NAME, data.dataset, NAME, [r.key for r in test], arrays, meta={"threshold": 0.5})
    return {k: outcome.metrics[k] for k in METRICS}


def rescore(pred: Predictions, rows: Any = None) -> dict[str, float]:
    """The metrics of saved per-image :func:`dice_stats` rows (``rows``: a resample of the images)."""
    stats = pred.arrays["stats"]
    return dice_scores(stats if rows is None else stats[np.asarray(rows, dtype=np.int64)])
