from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from tasks.common.metrics import (
    auroc,
    binary_metrics,
    multiclass_metrics,
    per_class_auroc,
    precision_at_k,
    slug,
)


@pytest.mark.parametrize("seed", range(5))
def test_binary_metrics_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 80)
    y[:2] = (0, 1)
    p = rng.random(80)
    out = binary_metrics(torch.tensor(p), torch.tensor(y))
    assert out["auroc"] == pytest.approx(roc_auc_score(y, p), abs=1e-6)
    assert out["accuracy"] == pytest.approx(accuracy_score(y, p > 0.5), abs=1e-6)
    assert out["f1"] == pytest.approx(f1_score(y, p > 0.5), abs=1e-6)


def test_auroc_with_ties_matches_sklearn():
    y = np.array([0, 0, 1, 1, 0, 1, 1, 0])
    p = np.array([0.2, 0.5, 0.5, 0.9, 0.5, 0.2, 0.7, 0.1])
    assert auroc(torch.tensor(p), torch.tensor(y)) == pytest.approx(roc_auc_score(y, p), abs=1e-6)


def test_auroc_single_class_is_nan():
    assert math.isnan(auroc(torch.rand(5), torch.ones(5)))
    assert math.isnan(auroc(torch.rand(5), torch.zeros(5)))  # a class with no positives
    assert math.isnan(auroc(torch.zeros(0), torch.zeros(0)))


def _pairwise_auroc(scores: np.ndarray, y: np.ndarray) -> float:
    """By hand: the share of (positive, negative) pairs ordered right, ties one half."""
    pos, neg = scores[y == 1][:, None], scores[y == 0][None, :]
    return float(((pos > neg) + 0.5 * (pos == neg)).mean())


@pytest.mark.parametrize("scale", [1.0, 50.0, 1e4])
def test_auroc_on_unbounded_logits_matches_sklearn(scale):
    # torchmetrics' float32 sigmoid saturated such scores into ties (0.500 for sklearn's 0.719)
    rng = np.random.default_rng(int(scale))
    y = rng.integers(0, 2, 200)
    y[:2] = (0, 1)
    logits = (rng.normal(size=200) + 0.8 * y) * scale + 30 * scale
    want = roc_auc_score(y, logits)
    assert auroc(torch.tensor(logits), torch.tensor(y)) == pytest.approx(want, abs=1e-12)
    assert auroc(torch.tensor(-logits), torch.tensor(y)) == pytest.approx(1 - want, abs=1e-12)
    assert want == pytest.approx(_pairwise_auroc(logits, y), abs=1e-12)


def test_auroc_takes_float32_ties_and_infinities():
    y = np.array([1, 0, 1, 0, 1, 0, 0, 1])
    s32 = np.array([60, 60, 70, -80, np.inf, -np.inf, 0.1, 0.1], dtype=np.float32)
    got = auroc(torch.from_numpy(s32), torch.from_numpy(y))
    assert got == pytest.approx(_pairwise_auroc(s32.astype(np.float64), y), abs=1e-12)
    finite = np.nan_to_num(s32.astype(np.float64), posinf=1e9, neginf=-1e9)  # same order for sklearn
    assert got == pytest.approx(roc_auc_score(y, finite), abs=1e-12)
    with pytest.raises(ValueError, match="NaN"):
        auroc(torch.tensor([0.1, float("nan")]), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="0 or 1"):
        auroc(torch.tensor([0.1, 0.2, 0.3]), torch.tensor([0, 1, -1]))


@pytest.mark.parametrize("seed", range(3))
def test_per_class_auroc_matches_sklearn(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, (60, 4))
    y[0], y[1] = 0, 1
    p = rng.random((60, 4))
    classes = ("A b", "C", "Pleural Effusion", "d")
    out = per_class_auroc(torch.tensor(p), torch.tensor(y), classes)
    per = [roc_auc_score(y[:, i], p[:, i]) for i in range(4)]
    for i, c in enumerate(classes):
        assert out[f"auroc_{slug(c)}"] == pytest.approx(per[i], abs=1e-6)
    assert out["auroc"] == pytest.approx(np.mean(per), abs=1e-6)
    assert "auroc_pleural_effusion" in out


def test_per_class_auroc_mean_skips_undefined():
    y = torch.tensor([[0, 1], [1, 1], [0, 1], [1, 1]])
    p = torch.tensor([[0.1, 0.3], [0.9, 0.2], [0.2, 0.8], [0.8, 0.1]])
    out = per_class_auroc(p, y, ("a", "b"))
    assert math.isnan(out["auroc_b"]) and out["auroc"] == pytest.approx(1.0)


@pytest.mark.parametrize("seed", range(5))
def test_multiclass_metrics_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, 90)
    y[:3] = (0, 1, 2)
    logits = rng.normal(size=(90, 3)) + np.eye(3)[y] * rng.random()
    probs = torch.softmax(torch.tensor(logits), dim=1)
    out = multiclass_metrics(probs, torch.tensor(y), ("normal", "pneumonia", "COVID-19"))
    pred = probs.argmax(1).numpy()
    assert out["accuracy"] == pytest.approx(accuracy_score(y, pred), abs=1e-6)
    assert out["f1_macro"] == pytest.approx(f1_score(y, pred, average="macro"), abs=1e-6)
    ovr = roc_auc_score(y, probs.numpy(), multi_class="ovr", average="macro")
    assert out["auroc"] == pytest.approx(ovr, abs=1e-6)
    assert out["auroc_covid_19"] == pytest.approx(roc_auc_score(y == 2, probs[:, 2].numpy()), abs=1e-6)


def _precision_reference(scores: np.ndarray, relevant: np.ndarray, k: int) -> float:
    out = []
    for s, r in zip(scores, relevant):
        top = sorted(range(len(s)), key=lambda j: (-s[j], j))[:k]
        out.append(np.mean([r[j] for j in top]))
    return float(np.mean(out))


@pytest.mark.parametrize("k", [1, 3, 5, 50])
def test_precision_at_k_matches_reference(k):
    rng = np.random.default_rng(k)
    scores = rng.integers(0, 5, (20, 12)).astype(float)  # many ties: the order rule matters
    relevant = rng.random((20, 12)) < 0.3
    got = precision_at_k(torch.tensor(scores), torch.tensor(relevant), k)
    assert got == pytest.approx(_precision_reference(scores, relevant, k), abs=1e-6)
