"""Detection on the method's image backbone, through MMDetection (``tasks.mm``).

Datasets: RSNA pneumonia (opacity boxes) and Object-CXR (foreign objects; rectangles, ellipses
and polygons all as their bounding boxes, as MGCA). Every image is kept, with or without boxes,
in training and in testing. Images are resized to ``cfg.model.image_size``; training uses
``data.splits["train"]`` (the label fraction) for ``cfg.eval.dense_iters`` iterations of
``cfg.eval.dense_batch_size``; scores are on ``"test"``.

Protocols (:data:`PROTOCOLS`, chosen by ``cfg.eval.det_protocol``; ``cfg.eval.finetune`` trains
the encoder too): ``retinanet-frozen``: MMDetection's RetinaNet (FPN on C3-C5, focal loss, NMS
IoU 0.5, score threshold 0.05) on the frozen encoder; AdamW at MGCA's detection lr 5e-4, weight
decay 1e-4, linear warm-up over 10 % of the iterations then constant, gradient norm clipped at 35.
MGCA uses YOLOv3 on the frozen encoder instead (see :mod:`tasks.mm.det` for why RetinaNet).

Metrics (:func:`tasks.common.metrics.box_map`: pycocotools' COCOeval with its float64 IoU and
recall thresholds, boxes xyxy, over all test images):

- ``map_40_75``: MGCA's mAP, averaged over IoU thresholds 0.40, 0.45, ..., 0.75. (MGCA scores
  only the images that have a box and a prediction above 0.5 confidence; here all images count.)
- ``map``: COCO mAP (IoU 0.50:0.05:0.95); ``map_50``: AP at IoU 0.5.

Undefined values (no ground-truth box in the test split) are NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from bench.api import Method
from bench.config import BenchConfig
from bench.predictions import Predictions
from bench.registry import Registry
from bench.taskdata import TaskData
from tasks.common import protocols
from tasks.common.metrics import BOX_METRICS, MGCA_IOUS, box_map
from tasks.common.metrics import COCO_IOUS as _COCO_IOUS

NAME = "detection"
VERSION = "2"  # 2: mAP by pycocotools (float64 recall thresholds; torchmetrics' float32 ones were off by up to 3e-3)
DENSE = True  # minutes per cell: the engine takes eval.dense_* for it
DATASETS = ("rsna", "object-cxr")
METRICS: dict[str, bool] = dict.fromkeys(BOX_METRICS, True)
CLASSES = {"rsna": ("opacity",), "object-cxr": ("foreign object",)}
DEFAULT_PROTOCOL = "retinanet-frozen"


@dataclass(frozen=True)
class DetProtocol:
    name: str
    frozen_stages: int = 4  # BenchResNet: 4 = frozen encoder, -1 = everything trains
    lr: float = 5e-4  # MGCA's detection lr (its YOLOv3 head on the frozen encoder)
    weight_decay: float = 1e-4
    schedule: str = "constant"  # or "poly"
    warmup: float = 0.1  # fraction of the iterations with a linear warm-up
    clip: float = 35.0  # gradient-norm clipping (0: off)


PROTOCOLS: Registry[DetProtocol] = Registry("detection protocol")
PROTOCOLS.register("retinanet-frozen", DetProtocol("retinanet-frozen"))


def resolve_protocol(cfg: BenchConfig) -> DetProtocol:
    """``cfg.eval.det_protocol`` (default ``retinanet-frozen``), fine-tuned when ``cfg.eval.finetune``."""
    return protocols.resolve(PROTOCOLS, cfg, "det_protocol", DEFAULT_PROTOCOL)


def protocol(cfg: BenchConfig) -> str:
    return resolve_protocol(cfg).name


def evaluate(method: Method, data: TaskData, cfg: BenchConfig) -> dict[str, float]:
    """Train the protocol's detector on ``data.splits["train"]`` and score ``"test"``."""
    if data.dataset not in DATASETS:
        raise ValueError(f"detection runs on {', '.join(DATASETS)}; got dataset {data.dataset!r}")
    proto = resolve_protocol(cfg)
    train, test = data.records("train"), data.records("test")
    if not train or not test:
        raise ValueError(
            f"detection on {data.dataset} at fraction {data.fraction:g}: {len(train)} train and "
            f"{len(test)} test images; both must be non-empty (use a larger fraction or dataset)"
        )
    for split, records in (("train", train), ("test", test)):
        if not any(r.boxes for r in records):
            raise ValueError(
                f"detection on {data.dataset} at fraction {data.fraction:g}: the {split} split has no ground-truth "
                "box (are the annotations valid? see `bench data check`)"
            )
    from tasks.mm.det import run_detection
    from tasks.mm.runner import folders

    run_name = f"{NAME}-{proto.name}-{data.dataset}-{data.fraction:g}-seed{data.seed}"
    with folders(data, run_name, cfg.model.image_size) as (prepared, run_dir):
        outcome = run_detection(
            method.image_backbone(),
            train,
            test,
            proto,
            cfg,
            prepared,
            run_dir,
            CLASSES[data.dataset],
            data.seed,
            images=getattr(data, "images", None),
        )
    if outcome.samples is not None:
        preds, truth = [p for p, _ in outcome.samples], [t for _, t in outcome.samples]
        data.predictions = box_predictions(data.dataset, [r.key for r in test], preds, truth)
    return {k: outcome.metrics[k] for k in METRICS}


COCO_IOUS = [float(x) for x in _COCO_IOUS]  # pycocotools' own float64 IoU and recall thresholds,
RECALLS = [float(x) for x in np.linspace(0.0, 1.0, 101)]  # which box_map passes to COCOeval
BOX_FIELDS = {"pred": ("boxes", "scores", "labels"), "gt": ("boxes", "labels")}


def flatten_boxes(preds: Sequence[dict], targets: Sequence[dict]) -> dict[str, Any]:
    """Per-image box dicts as flat arrays ``<side>_<field>`` plus ``<side>_image`` (the image's row)."""
    out = {}
    for side, images in (("pred", preds), ("gt", targets)):
        sizes = [len(torch.as_tensor(d["labels"]).reshape(-1)) for d in images]
        out[f"{side}_image"] = np.repeat(np.arange(len(images), dtype=np.int64), sizes)
        for name in BOX_FIELDS[side]:
            shape = (-1, 4) if name == "boxes" else (-1,)
            parts = [torch.as_tensor(d[name]).reshape(shape).numpy() for d in images]
            out[f"{side}_{name}"] = np.concatenate(parts) if parts else np.zeros((0, 4) if name == "boxes" else 0)
    return out


def box_predictions(dataset: str, keys: Sequence[str], preds: Sequence[dict], targets: Sequence[dict]) -> Predictions:
    """Saved predictions of one run: the boxes, and the thresholds the metrics use."""
    meta = {"iou_thresholds": {"map_40_75": list(MGCA_IOUS), "map": COCO_IOUS, "map_50": [0.5]},
            "recall_thresholds": RECALLS}
    return Predictions(NAME, dataset, NAME, list(keys), flatten_boxes(preds, targets), meta=meta)


def rescore(pred: Predictions, rows: Any = None) -> dict[str, float]:
    """``box_map`` of saved boxes (see :func:`flatten_boxes`; ``rows``: a resample of the images)."""
    rows = np.arange(len(pred)) if rows is None else np.asarray(rows, dtype=np.int64)
    sides = {}
    for side, names in BOX_FIELDS.items():
        owner = pred.arrays[f"{side}_image"]
        sides[side] = [{n: torch.from_numpy(pred.arrays[f"{side}_{n}"][owner == i]) for n in names} for i in rows]
    return box_map(sides["pred"], sides["gt"])
