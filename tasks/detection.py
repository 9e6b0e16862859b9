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

from dataclasses import dataclass

from bench.api import Method
from bench.config import BenchConfig
from bench.registry import Registry
from bench.taskdata import TaskData
from tasks.common import protocols
from tasks.common.metrics import BOX_METRICS

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
        )
    return {k: outcome.metrics[k] for k in METRICS}
