"""DeLong's test (Sun & Xu's fast algorithm) against a direct O(mn) computation and hand cases."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from bench.stats import delong_covariance, delong_test


def _psi(x: float, y: float) -> float:
    return 1.0 if x > y else 0.5 if x == y else 0.0


def direct_covariance(scores: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong, DeLong & Clarke-Pearson (1988) by the definition: every (positive, negative) pair."""
    scores = np.atleast_2d(scores)
    pos, neg = np.flatnonzero(targets == 1), np.flatnonzero(targets == 0)
    m, n = len(pos), len(neg)
    v10 = np.array([[np.mean([_psi(s[i], s[j]) for j in neg]) for i in pos] for s in scores])
    v01 = np.array([[np.mean([_psi(s[i], s[j]) for i in pos]) for j in neg] for s in scores])
    aucs = v10.mean(axis=1)
    s10 = np.array([[np.sum((v10[a] - aucs[a]) * (v10[b] - aucs[b])) / (m - 1) for b in range(len(scores))]
                    for a in range(len(scores))])
    s01 = np.array([[np.sum((v01[a] - aucs[a]) * (v01[b] - aucs[b])) / (n - 1) for b in range(len(scores))]
                    for a in range(len(scores))])
    return aucs, s10 / m + s01 / n


def test_variance_of_a_hand_checkable_case():
    # positives 3, 1; negatives 2, 0. V10 = [1, 1/2], V01 = [1/2, 1]; AUROC 3/4;
    # S10 = S01 = var([1, 1/2]) = 1/8; Var = 1/8 / 2 + 1/8 / 2 = 1/8.
    aucs, cov = delong_covariance(np.array([3.0, 1.0, 2.0, 0.0]), np.array([1, 1, 0, 0]))
    assert aucs[0] == pytest.approx(0.75) and cov[0, 0] == pytest.approx(0.125)


def test_variance_of_a_hand_checkable_case_with_a_tie():
    # positives 2, 1; negatives 1, 0. V10 = [1, 3/4], V01 = [3/4, 1]; AUROC 7/8; Var = 1/32.
    aucs, cov = delong_covariance(np.array([2.0, 1.0, 1.0, 0.0]), np.array([1, 1, 0, 0]))
    assert aucs[0] == pytest.approx(0.875) and cov[0, 0] == pytest.approx(1 / 32)


@pytest.mark.parametrize("seed", range(8))
def test_fast_covariance_equals_the_direct_computation(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(6, 40))
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]
    a = np.round(y + rng.normal(size=n), 1)  # rounding plants ties
    b = np.round(0.5 * a + rng.normal(size=n), 1)
    c = rng.integers(0, 3, n).astype(float)
    scores = np.vstack([a, b, c])
    aucs, cov = delong_covariance(scores, y)
    ref_aucs, ref_cov = direct_covariance(scores, y)
    assert aucs == pytest.approx(ref_aucs, abs=1e-12)
    assert cov == pytest.approx(ref_cov, abs=1e-12)
    assert aucs == pytest.approx([roc_auc_score(y, s) for s in scores], abs=1e-12)


def test_identical_scores_give_p_one_and_different_ones_a_tiny_p():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    s = y + rng.normal(size=500)
    same = delong_test(s, s, y)
    assert same.p_value == 1.0 and same.difference == 0.0 and same.variance == 0.0
    far = delong_test(y + rng.normal(0, 0.5, 500), y + rng.normal(0, 3, 500), y)
    assert far.difference > 0.2 and far.p_value < 1e-10 and far.low > 0


def test_delong_p_value_is_the_normal_tail_of_z():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    out = delong_test(y + rng.normal(size=200), y + rng.normal(0, 1.3, 200), y)
    from scipy.stats import norm

    assert out.z == pytest.approx(out.difference / np.sqrt(out.variance))
    assert out.p_value == pytest.approx(2 * norm.sf(abs(out.z)))
    assert out.low < out.difference < out.high


def test_delong_needs_both_classes():
    with pytest.raises(ValueError, match="positives and negatives"):
        delong_test(np.arange(4.0), np.arange(4.0), np.zeros(4))
