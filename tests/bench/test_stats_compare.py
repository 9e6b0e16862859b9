"""bench.stats.compare: paired rows from two saved predictions, refusals, Holm over the table."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.predictions import Predictions, PredictionsError
from bench.stats.compare import adjust, check_paired, compare_predictions
from bench.stats.scorers import identity_metrics

LABELS = ["atelectasis", "cardiomegaly", "edema"]


def _multilabel(noise: float, seed: int, targets: np.ndarray, split_hash: str = "h" * 64) -> Predictions:
    rng = np.random.default_rng(seed)
    scores = (targets + rng.normal(0, noise, targets.shape)).astype(np.float32)
    keys = [f"img{i}" for i in range(len(targets))]
    return Predictions("classification", "chexpert", "multilabel", keys, {"scores": scores, "targets": targets},
                       split_hash=split_hash, meta={"labels": LABELS, "classes": LABELS})


@pytest.fixture
def targets():
    return np.random.default_rng(0).integers(0, 2, (400, 3)).astype(np.float32)


def _rows(a: Predictions, b: Predictions):
    return adjust(compare_predictions(a, b, identity_metrics(a), identity_metrics(b), n_resamples=500, seed=0))


def test_identical_results_give_p_one_and_zero_intervals(targets):
    a = _multilabel(1.0, 1, targets)
    rows = _rows(a, _multilabel(1.0, 1, targets))
    assert [r.metric for r in rows] == [f"auroc_{x}" for x in LABELS] + ["auroc"]
    for r in rows:
        assert r.paired.difference == 0 and r.paired.low == 0 == r.paired.high and r.paired.p_value == 1.0
        assert r.holm_p == 1.0
    assert all(r.delong_p == 1.0 for r in rows[:3]) and math.isnan(rows[3].delong_p)  # no DeLong for the macro mean


def test_a_large_difference_gives_tiny_p_values(targets):
    rows = _rows(_multilabel(0.4, 1, targets), _multilabel(3.0, 2, targets))
    for r in rows:
        assert r.paired.difference > 0.2 and r.paired.low > 0, r
        assert r.paired.p_value == pytest.approx(2 / 501)
        assert r.holm_p == pytest.approx(min(1.0, 4 * 2 / 501))  # four equal p-values
    assert all(r.delong_p < 1e-10 for r in rows[:3])


def test_bootstrap_and_delong_agree_on_a_moderate_difference(targets):
    rows = _rows(_multilabel(0.9, 1, targets), _multilabel(1.2, 2, targets))
    for r in rows[:3]:
        boot_sig, delong_sig = r.paired.p_value < 0.05, r.delong_p < 0.05
        assert boot_sig == delong_sig or abs(r.paired.p_value - r.delong_p) < 0.05, r


def test_different_split_hashes_are_refused_with_the_reason(targets):
    with pytest.raises(PredictionsError, match="scored on different samples"):
        check_paired(_multilabel(1, 1, targets), _multilabel(1, 1, targets, split_hash="x" * 64))


def test_other_order_other_truth_and_other_task_are_refused(targets):
    a = _multilabel(1, 1, targets)
    b = _multilabel(1, 1, targets)
    b.keys = list(reversed(b.keys))
    with pytest.raises(PredictionsError, match="another order"):
        check_paired(a, b)
    c = _multilabel(1, 1, 1 - targets)
    with pytest.raises(PredictionsError, match="ground truth"):
        check_paired(a, c)
    d = _multilabel(1, 1, targets)
    d.task = "zero_shot"
    with pytest.raises(PredictionsError, match="zero_shot"):
        check_paired(a, d)


def test_binary_rows_carry_delong_for_auroc_only():
    rng = np.random.default_rng(3)
    t = rng.integers(0, 2, 300).astype(np.float32)

    def pred(noise, seed):
        s = (t * 0.5 + np.random.default_rng(seed).normal(0, noise, 300)).astype(np.float32)
        return Predictions("zero_shot", "rsna", "binary", [str(i) for i in range(300)],
                           {"scores": 1 / (1 + np.exp(-s)), "targets": t}, meta={"threshold": 0.5})

    a, b = pred(0.3, 1), pred(0.6, 2)
    rows = {r.metric: r for r in _rows(a, b)}
    assert set(rows) == {"auroc", "accuracy", "f1"}
    assert rows["auroc"].delong_p < 0.05 and math.isnan(rows["accuracy"].delong_p)
