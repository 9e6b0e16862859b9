"""Saved predictions of the label and retrieval tasks: rescoring equals what ``evaluate`` returned,
and the vectorised bootstrap scorers equal the tasks' own metrics on the saved arrays."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from support import planted
from support.planted import small_cfg
from torch import nn

from bench.data.splits import make_splits
from bench.predictions import Predictions, read_predictions, write_predictions
from bench.stats.scorers import bootstrap_intervals, identity_metrics, resampled_metrics
from bench.taskdata import TaskData, fraction_splits
from tasks import classification, retrieval, zero_shot
from tasks.common.saved import label_predictions


class NoisyBackbone(nn.Module):
    def __init__(self, inner: nn.Module, scale: float) -> None:
        super().__init__()
        self.inner, self.scale = inner, scale
        self.generator = torch.Generator().manual_seed(0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.inner(x)
        return f + self.scale * torch.randn(f.shape, generator=self.generator)


class NoisyMethod(planted.PlantedMethod):
    """The planted method with Gaussian noise on its features, so metrics land below 1."""

    def __init__(self, scale: float = 0.15) -> None:
        super().__init__()
        self.backbone = NoisyBackbone(self.backbone, scale)


def _data(table, fraction=1.0, seed=0):
    splits = fraction_splits(make_splits(table, seed=seed), fraction)
    return TaskData(table.dataset, table.root, table, splits, fraction, seed, "random-planted", None)


def _roundtrip(tmp_path, pred: Predictions) -> Predictions:
    path = tmp_path / "p.predictions.npz"
    sha = write_predictions(pred, path)
    return read_predictions(path, sha256=sha)


def _check(task, tmp_path, data, out, kind):
    pred = data.predictions
    assert isinstance(pred, Predictions) and pred.kind == kind and pred.task == task.NAME
    assert len(pred) == len(data.splits[pred.split])
    back = _roundtrip(tmp_path, pred)
    again = task.rescore(back)
    assert again.keys() == out.keys()
    for name, value in out.items():  # the same function on the same float32 arrays: exact
        assert again[name] == value or (math.isnan(again[name]) and math.isnan(value)), name
    fast = identity_metrics(back)
    for name, value in out.items():
        assert fast[name] == pytest.approx(value, abs=1e-6, nan_ok=True), name
    cis = bootstrap_intervals(back, out, n_resamples=200, seed=1)
    assert set(cis) == set(out)
    return out, cis


@pytest.mark.parametrize("dataset", ["rsna", "covidx", "chexpert"])
def test_classification_predictions_rescore_exactly(tmp_path, dataset, chexpert_table):
    cfg = small_cfg(**{"eval.probe_epochs": "3", "eval.probe_lr": "0.01"})
    tables = {
        "rsna": lambda: planted.binary_table(tmp_path, "rsna", "Pneumonia", 6, 8, n=80),
        "covidx": lambda: planted.covidx_table(tmp_path),
        "chexpert": lambda: chexpert_table,
    }
    data = _data(tables[dataset]())
    out = classification.evaluate(NoisyMethod(0.3), data, cfg)
    kind = classification.PROTOCOLS[dataset].kind
    out, cis = _check(classification, tmp_path, data, out, kind)
    assert any(v < 1.0 for v in out.values() if not math.isnan(v)), out  # the noise shows


@pytest.mark.parametrize("dataset", ["chexpert", "rsna"])
def test_zero_shot_predictions_rescore_exactly(tmp_path, dataset, chexpert_table):
    cfg = small_cfg()
    table = chexpert_table if dataset == "chexpert" else planted.binary_table(tmp_path, "rsna", "Pneumonia", 6, 8, n=80)
    data = zero_shot.prepare(_data(table), cfg)
    method = NoisyMethod()
    method.encode_image = lambda images: planted.ImageFeatures(global_=method.backbone(images).flatten(1))
    out = zero_shot.evaluate(method, data, cfg)
    _check(zero_shot, tmp_path, data, out, "multiclass" if dataset == "chexpert" else "binary")


def test_retrieval_predictions_rescore_exactly(tmp_path, chexpert_table):
    cfg = small_cfg(**{"eval.subset_per_class": "12"})
    data = retrieval.prepare(TaskData("chexpert", chexpert_table.root, chexpert_table, {}, 1.0, 0, "r", None), cfg)
    method = NoisyMethod(1.0)
    method.encode_image = lambda images: planted.ImageFeatures(global_=method.backbone(images).flatten(1))
    out = retrieval.evaluate(method, data, cfg)
    out, cis = _check(retrieval, tmp_path, data, out, "retrieval")
    assert data.predictions.meta["queries"] and len(data.predictions.meta["queries"]) == data.predictions.arrays["scores"].shape[1]
    assert out["i2t_P@5"] < 1.0 and out["t2i_P@5"] < 1.0, out


def _random_predictions(kind: str, dataset: str, rng: np.random.Generator, n: int = 120) -> Predictions:
    classes = {"chexpert": ("Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Pleural Effusion"),
               "covidx": ("normal", "pneumonia", "COVID-19"), "rsna": ("Pneumonia",)}[dataset]
    c = len(classes)
    if kind == "multilabel":
        targets = torch.from_numpy(rng.integers(0, 2, (n, c)).astype(np.float32))
        targets[:, 2] = 0  # a class without positives: its AUROC is NaN and the mean skips it
        scores = torch.from_numpy(np.round(rng.random((n, c)), 1).astype(np.float32))  # ties
    elif kind == "multiclass":
        targets = torch.from_numpy(rng.integers(0, c, n))
        scores = torch.softmax(torch.from_numpy(np.round(rng.normal(size=(n, c)), 1)).float(), dim=1)
    else:
        targets = torch.from_numpy(rng.integers(0, 2, n).astype(np.float32))
        scores = torch.from_numpy(np.round(rng.random(n) * 0.5 + 0.4 * targets.numpy(), 2).astype(np.float32))
    return label_predictions("classification", dataset, kind, [f"k{i}" for i in range(n)],
                             {"scores": scores, "targets": targets}, classes, "test")


@pytest.mark.parametrize("kind,dataset", [("multilabel", "chexpert"), ("multiclass", "covidx"), ("binary", "rsna")])
def test_vectorised_scorers_equal_the_task_metrics_on_every_resample(kind, dataset):
    rng = np.random.default_rng(7)
    pred = _random_predictions(kind, dataset, rng)
    samples = resampled_metrics(pred, n_resamples=15, seed=3)
    from bench.stats.resample import resample_indices

    for b, rows in enumerate(resample_indices(len(pred), 15, seed=3, unit="images")):
        expected = classification.rescore(pred, rows=rows)
        for name, value in expected.items():
            assert samples[name][b] == pytest.approx(value, abs=1e-6, nan_ok=True), (name, b)
    if kind == "multilabel":
        assert math.isnan(classification.rescore(pred)["auroc_consolidation"])
        assert np.isnan(samples["auroc_consolidation"]).all()


def test_zero_shot_multiclass_scorer_matches_accuracy_f1_and_aurocs():
    rng = np.random.default_rng(8)
    pred = _random_predictions("multiclass", "chexpert", rng)
    pred.task = "zero_shot"
    expected = zero_shot.rescore(pred)
    fast = identity_metrics(pred)
    assert set(expected) <= set(fast)
    for name, value in expected.items():
        assert fast[name] == pytest.approx(value, abs=1e-6), name
