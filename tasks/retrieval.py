"""CheXpert 8x200 image-text retrieval, scored by each method's own ``similarity``.

Candidates: ``cfg.eval.subset_per_class`` train images per class for 8 classes (No Finding,
Pneumothorax, Pneumonia, Fracture, Cardiomegaly, Pleural Effusion, Edema, Atelectasis), drawn as
ConVIRT's released candidate list (:func:`tasks.common.subsets.chexpert_8x200`, the run's seed):
every candidate has exactly one positive among the 14 CheXpert labels.
Queries: ``cfg.eval.queries_per_class`` sentences per class from ``cfg.eval.retrieval_queries``
(built-in expert-style sentences, or sentences of the mimic-cxr reports next to the data; "auto"
takes the reports on SynthCXR). Relevance follows ConVIRT: a (image, query) pair is relevant when
the query's class is the image's one class, so a random ranking scores P@k = 1/8.

- image-to-text: for each image, rank the queries; ``i2t_P@k`` = mean fraction of the top k
  queries of the image's class (with 5 queries per class, ``i2t_P@10`` is at most 0.5);
- text-to-image: for each query, rank the candidates; ``t2i_P@k`` = mean fraction of the top k
  images of the query's class.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

import torch

from bench.api import Method
from bench.config import BenchConfig
from bench.data.synth import MANIFEST
from bench.predictions import Predictions
from bench.registry import DATASETS as DATASET_READERS
from bench.taskdata import TaskData
from tasks.common.metrics import precision_at_k
from tasks.common.queries import builtin_queries, report_queries
from tasks.common.scoring import encode_texts, image_embeddings, similarity_matrix
from tasks.common.subsets import RETRIEVAL_CLASSES, chexpert_8x200, single_label_class

log = logging.getLogger(__name__)
NAME = "retrieval"
VERSION = "2"  # 2: single-label candidates, relevance by their one class (ConVIRT's list)
DATASETS = ("chexpert",)
FRACTIONS = (1.0,)
KS = (1, 5, 10)
METRICS: dict[str, bool] = {f"{d}_P@{k}": True for d in ("i2t", "t2i") for k in KS}
SYNTH_MARKERS = (MANIFEST,)  # SynthCXR writes its ground-truth manifest at the top of its output


def _report_source(data: TaskData, cfg: BenchConfig) -> dict[str, list[str]]:
    if data.data_dir is None or not (data.data_dir / "mimic-cxr").is_dir():
        raise ValueError("retrieval_queries=reports needs a mimic-cxr folder next to the data (--data DIR)")
    table = DATASET_READERS.get("mimic-cxr").read(data.data_dir / "mimic-cxr")
    return report_queries(table.records, RETRIEVAL_CLASSES, cfg.eval.queries_per_class, data.seed)


def _builtin_source(data: TaskData, cfg: BenchConfig) -> dict[str, list[str]]:
    return builtin_queries(RETRIEVAL_CLASSES, cfg.eval.queries_per_class, data.seed)


def is_synthetic(data: TaskData) -> bool:
    """True when the data folder is SynthCXR output (its manifest lies at the top)."""
    folders = [p for p in (data.data_dir, data.root) if p is not None]
    return any((folder / marker).exists() for folder in folders for marker in SYNTH_MARKERS)


QUERY_SOURCES: dict[str, Callable[[TaskData, BenchConfig], dict[str, list[str]]]] = {
    "builtin": _builtin_source,
    "reports": _report_source,
}


def query_source(data: TaskData, cfg: BenchConfig) -> str:
    name = cfg.eval.retrieval_queries
    if name == "auto":
        return "reports" if is_synthetic(data) else "builtin"
    if name not in QUERY_SOURCES:
        raise ValueError(f"eval.retrieval_queries {name!r}; expected auto or one of {sorted(QUERY_SOURCES)}")
    return name


def protocol(cfg: BenchConfig) -> str:
    return "8x200"


def prepare(data: TaskData, cfg: BenchConfig) -> TaskData:
    """Candidates as ``splits['subset']``; queries (which may read the report corpus) in ``extras``."""
    source = query_source(data, cfg)
    queries = QUERY_SOURCES[source](data, cfg)
    extras = {**data.extras, "queries": queries, "query_source": source}
    return dataclasses.replace(data, splits={"subset": candidates(data, cfg)}, extras=extras)


def candidates(data: TaskData, cfg: BenchConfig) -> list[str]:
    return [k for k, _ in chexpert_8x200(data.table.records, cfg.eval.subset_per_class, data.seed)]


def relevance(data: TaskData, keys: list[str], owners: list[int]) -> torch.Tensor:
    """[N_images, N_queries] bool: the query's class is the candidate's one class."""
    classes = [single_label_class(data.record(k)) for k in keys]
    stray = [k for k, c in zip(keys, classes) if c is None]
    if stray:
        raise ValueError(
            f"retrieval candidates must have exactly one positive CheXpert label among {RETRIEVAL_CLASSES}; "
            f"{len(stray)} do not (first: {stray[0]})"
        )
    own = torch.tensor([RETRIEVAL_CLASSES.index(c) for c in classes])
    return own[:, None] == torch.tensor(owners, dtype=torch.long)[None, :]


def evaluate(method: Method, data: TaskData, cfg: BenchConfig) -> dict[str, float]:
    """Precision@k both ways on ``splits['subset']`` (built here from the table when absent)."""
    keys = list(data.splits.get("subset") or candidates(data, cfg))
    queries = data.extras.get("queries") or _builtin_source(data, cfg)
    texts = [q for c in RETRIEVAL_CLASSES for q in queries[c]]
    owners = [i for i, c in enumerate(RETRIEVAL_CLASSES) for _ in queries[c]]
    images = image_embeddings(method, data, cfg, keys)
    scores = similarity_matrix(method, images, encode_texts(method, texts), seed=data.seed)
    relevant = relevance(data, keys, owners)
    meta = {"ks": list(KS), "queries": texts, "query_classes": [RETRIEVAL_CLASSES[i] for i in owners]}
    arrays = {"scores": scores.numpy(), "relevant": relevant.numpy()}
    data.predictions = Predictions(NAME, data.dataset, "retrieval", keys, arrays, split="subset", meta=meta)
    out = {f"i2t_P@{k}": precision_at_k(scores, relevant, k) for k in KS}
    out.update({f"t2i_P@{k}": precision_at_k(scores.t(), relevant.t(), k) for k in KS})
    return out


def rescore(pred: Predictions, rows: Any = None) -> dict[str, float]:
    """P@k of saved predictions (``scores``/``relevant`` [images, queries]; ``rows``: images)."""
    scores, relevant = (torch.from_numpy(pred.arrays[k]) for k in ("scores", "relevant"))
    if rows is not None:
        scores, relevant = scores[torch.as_tensor(rows)], relevant[torch.as_tensor(rows)]
    out = {f"i2t_P@{k}": precision_at_k(scores, relevant, k) for k in pred.meta["ks"]}
    out.update({f"t2i_P@{k}": precision_at_k(scores.t(), relevant.t(), k) for k in pred.meta["ks"]})
    return out
