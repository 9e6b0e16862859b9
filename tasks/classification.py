"""Supervised classification: a linear probe on frozen features (default) or full fine-tuning.

Protocols per dataset (:data:`PROTOCOLS`), after MGCA's ``ssl_finetuner`` and GLoRIA's configs:
- chexpert: the 5 competition labels, multi-label BCE; mean and per-class AUROC; the official
  valid set is the test set; uncertain labels mapped by ``cfg.eval.uncertainty`` (recorded in
  the config of every result).
- rsna: pneumonia (Target), binary; AUROC.
- covidx: normal / pneumonia / COVID-19 (or the CXR-4 binary scheme), multi-class CE; accuracy
  and macro one-vs-rest AUROC.
- siim: pneumothorax (a mask is present), binary; AUROC.

``data.splits`` holds "train" (the label fraction), "val" and "test". The linear probe reads
cached features (``cfg.eval.probe_features``: the backbone's pooled features by default), so
every fraction and seed reuses one extraction; ``cfg.eval.finetune`` trains backbone and head
end to end instead (no cache). Early stopping on the validation loss; test on the best epoch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from bench.api import Method
from bench.config import BenchConfig
from bench.data.base import COMPETITION_LABELS, Record, Table
from bench.data.chexpert import apply_uncertainty
from bench.predictions import Predictions
from bench.taskdata import TaskData
from tasks.common.features import device_of, features
from tasks.common.images import image_loader
from tasks.common.metrics import auroc, multiclass_metrics, per_class_auroc, slug
from tasks.common.probe import fit_finetune, fit_linear, predict
from tasks.common.saved import label_predictions, tensors

NAME = "classification"
VERSION = "2"  # 2: the probe standardises as scikit-learn (a feature constant on train keeps scale 1)
DATASETS = ("chexpert", "rsna", "covidx", "siim")
METRICS: dict[str, bool] = {
    "auroc": True,
    "accuracy": True,
    **{f"auroc_{slug(c)}": True for c in COMPETITION_LABELS},
}
FEATURE_FIELD = {"backbone": "features", "embedding": "global_"}


@dataclass(frozen=True)
class Protocol:
    kind: str  # multilabel / binary / multiclass (see tasks.common.probe.OBJECTIVES)
    classes: Callable[[Table], tuple[str, ...]]
    targets: Callable[[Sequence[Record], BenchConfig], torch.Tensor]
    metrics: Callable[[torch.Tensor, torch.Tensor, tuple[str, ...]], dict[str, float]]


def _chexpert_targets(records: Sequence[Record], cfg: BenchConfig) -> torch.Tensor:
    rows = []
    for r in records:
        mapped = apply_uncertainty({c: r.labels.get(c, float("nan")) for c in COMPETITION_LABELS}, cfg.eval.uncertainty)
        rows.append([1.0 if mapped[c] == 1.0 else 0.0 for c in COMPETITION_LABELS])
    return torch.tensor(rows, dtype=torch.float32).reshape(-1, len(COMPETITION_LABELS))


def _binary_targets(name: str) -> Callable[[Sequence[Record], BenchConfig], torch.Tensor]:
    def targets(records: Sequence[Record], cfg: BenchConfig) -> torch.Tensor:
        return torch.tensor([1.0 if r.labels.get(name) == 1.0 else 0.0 for r in records])

    return targets


def _class_index(records: Sequence[Record], cfg: BenchConfig) -> torch.Tensor:
    return torch.tensor([int(r.meta["target"]) for r in records], dtype=torch.long)


def _binary_metrics(scores: torch.Tensor, targets: torch.Tensor, classes: tuple[str, ...]) -> dict[str, float]:
    return {"auroc": auroc(scores, targets)}


def _multilabel_metrics(scores: torch.Tensor, targets: torch.Tensor, classes: tuple[str, ...]) -> dict[str, float]:
    return per_class_auroc(scores, targets, classes)


def _multiclass_metrics(scores: torch.Tensor, targets: torch.Tensor, classes: tuple[str, ...]) -> dict[str, float]:
    full = multiclass_metrics(scores, targets, classes)
    return {"accuracy": full["accuracy"], "auroc": full["auroc"]}


PROTOCOLS: dict[str, Protocol] = {
    "chexpert": Protocol("multilabel", lambda t: COMPETITION_LABELS, _chexpert_targets, _multilabel_metrics),
    "rsna": Protocol("binary", lambda t: ("Pneumonia",), _binary_targets("Pneumonia"), _binary_metrics),
    "covidx": Protocol("multiclass", lambda t: tuple(t.classes), _class_index, _multiclass_metrics),
    "siim": Protocol("binary", lambda t: ("Pneumothorax",), _binary_targets("Pneumothorax"), _binary_metrics),
}


def protocol_for(dataset: str) -> Protocol:
    if dataset not in PROTOCOLS:
        raise ValueError(f"classification has no protocol for dataset {dataset!r}; datasets: {sorted(PROTOCOLS)}")
    return PROTOCOLS[dataset]


def protocol(cfg: BenchConfig) -> str:
    """finetune, linear-probe (on the backbone) or linear-probe-<features> (e.g. -embedding)."""
    if cfg.eval.finetune:
        return "finetune"
    kind = cfg.eval.probe_features
    return "linear-probe" if kind == "backbone" else f"linear-probe-{kind}"


def _n_out(kind: str, classes: tuple[str, ...]) -> int:
    return 1 if kind == "binary" else len(classes)


def _linear(method: Method, data: TaskData, cfg: BenchConfig, proto: Protocol, targets: dict, n_out: int) -> torch.Tensor:
    kind = cfg.eval.probe_features
    if kind not in FEATURE_FIELD:
        raise ValueError(f"eval.probe_features {kind!r}; expected one of {sorted(FEATURE_FIELD)}")
    x = {s: features(method, data, cfg, data.splits[s], kind)[FEATURE_FIELD[kind]] for s in targets}
    device = device_of(method)
    fit = fit_linear((x["train"], targets["train"]), (x["val"], targets["val"]), n_out, proto.kind, cfg, data.seed, device)
    return predict(fit.model, x["test"].split(4096), proto.kind, device)


def _finetune(method: Method, data: TaskData, cfg: BenchConfig, proto: Protocol, targets: dict, n_out: int) -> torch.Tensor:
    cached = getattr(data, "images", None)  # the preprocessed image cache, when the engine found one
    loaders = {
        s: image_loader(data.records(s), cfg, targets[s], shuffle=(s == "train"), seed=data.seed, images=cached)
        for s in targets
    }
    fit = fit_finetune(method, loaders["train"], loaders["val"], n_out, proto.kind, cfg, data.seed)
    images = (batch[0] for batch in image_loader(data.records("test"), cfg, targets["test"], images=cached))
    return predict(fit.model, images, proto.kind, device_of(method))


def evaluate(method: Method, data: TaskData, cfg: BenchConfig) -> dict[str, float]:
    """Train on ``data.splits['train']``, early-stop on 'val', score 'test' with the protocol's metrics."""
    proto = protocol_for(data.dataset)
    classes = proto.classes(data.table)
    targets = {s: proto.targets(data.records(s), cfg) for s in ("train", "val", "test")}
    if len(targets["train"]) == 0 or len(targets["test"]) == 0:
        raise ValueError(f"{data.dataset}: empty train or test split ({ {s: len(t) for s, t in targets.items()} })")
    run = _finetune if cfg.eval.finetune else _linear
    scores = run(method, data, cfg, proto, targets, _n_out(proto.kind, classes))
    data.predictions = label_predictions(
        NAME, data.dataset, proto.kind, data.splits["test"], {"scores": scores, "targets": targets["test"]}, classes, "test"
    )
    return proto.metrics(scores, targets["test"], classes)


def rescore(pred: Predictions, rows: Any = None) -> dict[str, float]:
    """The metrics of saved predictions (``rows``: a resample of the test images), as ``evaluate``."""
    scores, targets = tensors(pred, ("scores", "targets"), rows)
    return protocol_for(pred.dataset).metrics(scores, targets, tuple(pred.meta["classes"]))
