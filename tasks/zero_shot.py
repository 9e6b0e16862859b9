"""Zero-shot classification with prompts, scored by each method's own ``similarity``.

- chexpert: the 5x200 subset built as GLoRIA/MGCA build it (:func:`tasks.common.subsets.chexpert_5x200`,
  ``cfg.eval.subset_per_class`` per class, scaled down on small data, sampled with the run's seed
  as PRIOR re-samples 5x200 per seed); 5-way single-label classification.
- rsna: the test split of the standard RSNA split; pneumonia vs normal.

Prompts come from ``cfg.eval.prompts`` (a set of :data:`tasks.common.prompts.PROMPT_SETS`;
``prompts_per_class`` drawn with the run's seed). A class's score is the max over its prompts of
the method's ``similarity``, softmaxed across classes, unless the method aggregates its prompts
its own way (``zero_shot_scores``; PRIOR with ``model.faithful`` follows the official code, see
:mod:`methods.prior.zero_shot`); the prediction is the argmax. Methods may also embed prompts
their own way (``tokenize_prompts``). Metrics: accuracy, macro F1,
one-vs-rest AUROC per class and their mean (chexpert); AUROC, accuracy, F1 of pneumonia (rsna).
``evaluate`` also leaves the confusion matrix in ``data.extras["confusion_matrix"]`` (the result's
``extra``; the report draws it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from bench.api import Method
from bench.config import BenchConfig
from bench.data.base import COMPETITION_LABELS, Record
from bench.predictions import Predictions
from bench.taskdata import TaskData
from tasks.common.metrics import binary_metrics, multiclass_metrics, slug
from tasks.common.prompts import build_prompts
from tasks.common.saved import label_predictions, tensors
from tasks.common.scoring import encode_prompts, image_embeddings, prompt_class_scores
from tasks.common.subsets import chexpert_5x200, exclusive_class

NAME = "zero_shot"
VERSION = "2"  # 2: methods' own prompt embedding and aggregation (PRIOR faithful)
DATASETS = ("chexpert", "rsna")
FRACTIONS = (1.0,)
METRICS: dict[str, bool] = {
    "accuracy": True,
    "f1_macro": True,
    "f1": True,
    "auroc": True,
    **{f"auroc_{slug(c)}": True for c in COMPETITION_LABELS},
}


@dataclass(frozen=True)
class Setup:
    classes: tuple[str, ...]
    target: Callable[[Record], int]  # class index of a record
    metrics: Callable[[torch.Tensor, torch.Tensor, tuple[str, ...]], dict[str, float]]
    subset: Callable[[TaskData, BenchConfig], dict[str, list[str]]]  # {"subset": the evaluated keys}


def _chexpert_target(record: Record) -> int:
    cls = exclusive_class(record)
    if cls is None:
        raise ValueError(f"{record.key}: not one competition class alone; not a 5x200 image")
    return COMPETITION_LABELS.index(cls)


def _chexpert_subset(data: TaskData, cfg: BenchConfig) -> dict[str, list[str]]:
    pairs = chexpert_5x200(data.table.records, cfg.eval.subset_per_class, data.seed)
    return {"subset": [key for key, _ in pairs]}


def _rsna_metrics(probs: torch.Tensor, targets: torch.Tensor, classes: tuple[str, ...]) -> dict[str, float]:
    return binary_metrics(probs[:, 1], targets)


def _multiclass(probs: torch.Tensor, targets: torch.Tensor, classes: tuple[str, ...]) -> dict[str, float]:
    return multiclass_metrics(probs, targets, classes)


SETUPS: dict[str, Setup] = {
    "chexpert": Setup(COMPETITION_LABELS, _chexpert_target, _multiclass, _chexpert_subset),
    "rsna": Setup(
        ("Normal", "Pneumonia"),
        lambda r: int(r.labels.get("Pneumonia") == 1.0),
        _rsna_metrics,
        lambda data, cfg: {"subset": list(data.splits["test"])},
    ),
}


def setup_for(dataset: str) -> Setup:
    if dataset not in SETUPS:
        raise ValueError(f"zero_shot has no setup for dataset {dataset!r}; datasets: {sorted(SETUPS)}")
    return SETUPS[dataset]


def protocol(cfg: BenchConfig) -> str:
    return f"prompts-{cfg.eval.prompts}"


def prepare(data: TaskData, cfg: BenchConfig) -> TaskData:
    """The evaluated images as ``splits['subset']`` (the 5x200 subset on CheXpert)."""
    return dataclasses.replace(data, splits=setup_for(data.dataset).subset(data, cfg))


def class_probabilities(method: Method, data: TaskData, cfg: BenchConfig, keys: Sequence[str], classes: Sequence[str]) -> torch.Tensor:
    """[N, C] class probabilities from the prompts (see the module docstring)."""
    prompts = build_prompts(cfg.eval.prompts, classes, cfg.eval.prompts_per_class, data.seed)
    texts = [p for c in classes for p in prompts[c]]
    owners = [i for i, c in enumerate(classes) for _ in prompts[c]]
    images = image_embeddings(method, data, cfg, keys)
    prompt_features = encode_prompts(method, texts)
    return prompt_class_scores(method, images, prompt_features, owners, len(classes), seed=data.seed)


def evaluate(method: Method, data: TaskData, cfg: BenchConfig) -> dict[str, float]:
    setup = setup_for(data.dataset)
    keys = data.splits.get("subset") or setup.subset(data, cfg)["subset"]
    targets = torch.tensor([setup.target(data.record(k)) for k in keys], dtype=torch.long)
    probs = class_probabilities(method, data, cfg, keys, setup.classes)
    data.extras["confusion_matrix"] = confusion(probs, targets, setup.classes)  # recorded in the result
    data.predictions = _predictions(data, keys, probs, targets, setup.classes)
    return setup.metrics(probs, targets, setup.classes)


def confusion(probs: torch.Tensor, targets: torch.Tensor, classes: Sequence[str]) -> dict[str, Any]:
    """Counts of the argmax prediction, ``matrix[true][predicted]``, with the class names."""
    from torchmetrics.functional.classification import multiclass_confusion_matrix

    matrix = multiclass_confusion_matrix(probs.argmax(dim=1), targets, num_classes=len(classes))
    return {"classes": list(classes), "matrix": matrix.tolist()}


def _predictions(data: TaskData, keys: Sequence[str], probs: torch.Tensor, targets: torch.Tensor,
                 classes: tuple[str, ...]) -> Predictions:
    """Two classes are saved as ``binary`` (``scores``: the second class's probability) beside ``probs``."""
    if len(classes) == 2:
        arrays = {"scores": probs[:, 1], "probs": probs, "targets": targets}
        return label_predictions(NAME, data.dataset, "binary", keys, arrays, classes, "subset")
    arrays = {"scores": probs, "targets": targets}
    return label_predictions(NAME, data.dataset, "multiclass", keys, arrays, classes, "subset")


def rescore(pred: Predictions, rows: Any = None) -> dict[str, float]:
    """The metrics of saved predictions (``rows``: a resample of the images), as ``evaluate``."""
    probs, targets = tensors(pred, ("probs" if "probs" in pred.arrays else "scores", "targets"), rows)
    return setup_for(pred.dataset).metrics(probs, targets, tuple(pred.meta["classes"]))
