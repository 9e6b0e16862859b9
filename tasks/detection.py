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

Metrics (torchmetrics ``MeanAveragePrecision``, boxes xyxy, over all test images):

- ``map_40_75``: MGCA's mAP, averaged over IoU thresholds 0.40, 0.45, ..., 0.75. (MGCA scores
  only the images that have a box and a prediction above 0.5 confidence; here all images count.)
- ``map``: COCO mAP (IoU 0.50:0.05:0.95); ``map_50``: AP at IoU 0.5.

Undefined values (no ground-truth box in the test split) are NaN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from bench.registry import Registry
from tasks.common import protocols

NAME = "detection"
VERSION = "1"
DENSE = True  # minutes per cell: the engine takes eval.dense_* for it
DATASETS = ("rsna", "object-cxr")
METRICS: dict[str, bool] = {"map_40_75": True, "map": True, "map_50": True}
CLASSES = {"rsna": ("opacity",), "object-cxr": ("foreign object",)}
MGCA_IOUS = tuple(round(0.4 + 0.05 * i, 2) for i in range(8))  # 0.40 ... 0.75
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


def resolve_protocol(cfg: Any) -> DetProtocol:
    """``cfg.eval.det_protocol`` (default ``retinanet-frozen``), fine-tuned when ``cfg.eval.finetune``."""
    return protocols.resolve(PROTOCOLS, cfg, "det_protocol", DEFAULT_PROTOCOL)


def protocol(cfg: Any) -> str:
    return resolve_protocol(cfg).name


def _value(result: dict[str, torch.Tensor], key: str) -> float:
    value = float(result[key])
    return math.nan if value < 0 else value  # torchmetrics writes -1 when undefined


def box_map(preds: Sequence[dict], targets: Sequence[dict]) -> dict[str, float]:
    """``map_40_75``, ``map`` and ``map_50`` of per-image predictions against ground truth.

    preds: dicts with ``boxes`` [N, 4] xyxy, ``scores`` [N], ``labels`` [N]; targets: ``boxes``
    and ``labels``. Images without boxes (either side) are allowed and count.
    """
    from torchmetrics.detection import MeanAveragePrecision

    if len(preds) != len(targets):
        raise ValueError(f"{len(preds)} predictions for {len(targets)} images")
    mgca = MeanAveragePrecision(box_format="xyxy", iou_thresholds=list(MGCA_IOUS))
    coco = MeanAveragePrecision(box_format="xyxy")
    preds = [{k: torch.as_tensor(v) for k, v in p.items()} for p in preds]
    targets = [{k: torch.as_tensor(v) for k, v in t.items()} for t in targets]
    if not preds:
        return {k: math.nan for k in METRICS}
    for metric in (mgca, coco):
        metric.update(preds, targets)
    low, standard = mgca.compute(), coco.compute()
    return {
        "map_40_75": _value(low, "map"),
        "map": _value(standard, "map"),
        "map_50": _value(standard, "map_50"),
    }


def evaluate(method: Any, data: Any, cfg: Any) -> dict[str, float]:
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
    with folders(data, run_name, int(cfg.model.image_size)) as (prepared, run_dir):
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
        )
    return {k: outcome.metrics[k] for k in METRICS}
