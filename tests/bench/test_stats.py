"""bench.stats: rank AUROC against scikit-learn, resampling, interval coverage, paired tests, Holm."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import f1_score, roc_auc_score

from bench.stats import (
    auroc,
    auroc_resampled,
    counts,
    holm,
    interval,
    paired_difference,
    resample_indices,
)
from bench.stats.weighted import (
    binary_f1_resampled,
    class_aurocs_resampled,
    macro_f1_resampled,
    mean_resampled,
    nanmean_rows,
    precision_at_k_rows,
)


def test_auroc_matches_sklearn_with_ties_and_scores_outside_unit_interval():
    rng = np.random.default_rng(1)
    for trial in range(20):
        n = int(rng.integers(5, 200))
        y = rng.integers(0, 2, n)
        y[:2] = [0, 1]
        s = np.round(rng.normal(size=n) * 3 + y, 0)  # heavy ties, values far outside [0, 1]
        assert auroc(s, y) == pytest.approx(roc_auc_score(y, s), abs=1e-12), trial


def test_auroc_all_tied_is_one_half_and_one_class_is_nan():
    assert auroc(np.zeros(6), np.array([0, 1, 0, 1, 1, 0])) == 0.5
    assert math.isnan(auroc(np.arange(4.0), np.zeros(4)))  # no positives: undefined, not 0 or 0.5
    assert math.isnan(auroc(np.arange(4.0), np.ones(4)))  # no negatives
    assert math.isnan(auroc(np.array([]), np.array([])))


def test_auroc_float32_ties_are_kept():
    s = np.array([0.1, 0.1 + 1e-9, 0.3, 0.2], dtype=np.float32)  # first two tie in float32
    y = np.array([1, 0, 1, 0])
    assert auroc(s, y) == pytest.approx(roc_auc_score(y, s))


def test_weighted_auroc_equals_auroc_of_the_repeated_sample():
    rng = np.random.default_rng(2)
    s, y = np.round(rng.normal(size=50), 1), rng.integers(0, 2, 50)
    idx = resample_indices(50, 30, seed=5)
    w = counts(idx, 50)
    fast = auroc_resampled(s, y, w)
    for b in range(30):
        yb = y[idx[b]]
        expected = roc_auc_score(yb, s[idx[b]]) if 0 < yb.sum() < len(yb) else math.nan
        assert fast[b] == pytest.approx(expected, abs=1e-12, nan_ok=True)


def test_resample_indices_are_seeded_and_units_are_independent():
    a, b = resample_indices(100, 10, seed=3), resample_indices(100, 10, seed=3)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, resample_indices(100, 10, seed=4))
    assert not np.array_equal(a, resample_indices(100, 10, seed=3, unit="queries"))
    w = counts(a, 100)
    assert w.shape == (10, 100) and np.all(w.sum(axis=1) == 100)
    assert np.array_equal(w[0], np.bincount(a[0], minlength=100))


def test_weighted_metrics_match_sklearn_on_resampled_rows():
    rng = np.random.default_rng(4)
    n, c = 80, 4
    scores = rng.dirichlet(np.ones(c), n)
    targets = rng.integers(0, c, n)
    predicted = scores.argmax(1)
    idx = resample_indices(n, 20, seed=1)
    w = counts(idx, n)
    acc = mean_resampled(predicted == targets, w)
    f1 = macro_f1_resampled(predicted, targets, c, w)
    bf1 = binary_f1_resampled(predicted == 0, targets == 0, w)
    onehot = np.eye(c)[targets]
    per_class = class_aurocs_resampled(scores, onehot, w)
    for b in range(20):
        r = idx[b]
        assert acc[b] == pytest.approx(np.mean(predicted[r] == targets[r]))
        assert f1[b] == pytest.approx(f1_score(targets[r], predicted[r], average="macro"))
        assert bf1[b] == pytest.approx(f1_score(targets[r] == 0, predicted[r] == 0, zero_division=0))
        for k in range(c):
            assert per_class[k, b] == pytest.approx(roc_auc_score(onehot[r, k], scores[r, k]))


def test_macro_f1_skips_absent_classes_and_binary_f1_without_positives_is_zero():
    t, p = np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1])
    ones = np.ones((1, 4))
    assert macro_f1_resampled(p, t, 5, ones)[0] == pytest.approx(f1_score(t, p, average="macro"))
    assert binary_f1_resampled(np.zeros(4), np.zeros(4), ones)[0] == 0.0


def test_nanmean_rows_skips_undefined_classes():
    values = np.array([[0.5, math.nan, math.nan], [1.0, 0.7, math.nan]])
    out = nanmean_rows(values)
    assert out[0] == 0.75 and out[1] == 0.7 and math.isnan(out[2])


def test_precision_at_k_rows_breaks_ties_by_column_order():
    scores = np.array([[0.5, 0.5, 0.9, 0.1]])
    relevant = np.array([[False, True, True, True]])
    assert precision_at_k_rows(scores, relevant, 2)[0] == 0.5  # 0.9 then the first 0.5 (column 0)
    assert precision_at_k_rows(scores, relevant, 10)[0] == 0.75  # k clipped to 4


@pytest.mark.slow
def test_interval_coverage_of_a_known_auroc_is_near_nominal():
    """Binormal scores: positives N(d, 1), negatives N(0, 1), true AUROC = Phi(d / sqrt 2).

    400 repetitions of 150 positives + 150 negatives, 1,000 resamples each (seed 0). The percentile
    interval covers the truth in 0.95 +/- 0.03 of repetitions (binomial sd at 400: 0.011).
    """
    d, m, reps = 1.0, 150, 400
    truth = norm.cdf(d / math.sqrt(2))
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(m), np.zeros(m)]
    covered = 0
    for rep in range(reps):
        s = np.r_[rng.normal(d, 1, m), rng.normal(0, 1, m)]
        samples = auroc_resampled(s, y, counts(resample_indices(2 * m, 1000, seed=rep), 2 * m))
        ci = interval(auroc(s, y), samples)
        covered += ci.low <= truth <= ci.high
    assert abs(covered / reps - 0.95) <= 0.03, covered / reps


def test_interval_records_undefined_resamples():
    s, y = np.arange(10.0), np.r_[1, np.zeros(9)]  # one positive: many resamples lack it
    samples = auroc_resampled(s, y, counts(resample_indices(10, 200, seed=0), 10))
    ci = interval(auroc(s, y), samples)
    assert ci.undefined == int(np.isnan(samples).sum()) > 0
    assert ci.low <= ci.high and ci.n_resamples == 200


def test_identical_pair_gives_p_one_and_an_interval_at_zero():
    rng = np.random.default_rng(3)
    s, y = rng.normal(size=300), rng.integers(0, 2, 300)
    w = counts(resample_indices(300, 1000, seed=0), 300)
    samples = auroc_resampled(s, y, w)
    out = paired_difference(auroc(s, y), auroc(s, y), samples, samples)
    assert out.p_value == 1.0 and out.low == 0.0 == out.high and out.difference == 0.0


def test_noisy_but_equal_pair_interval_straddles_zero():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 400)
    a, b = y + rng.normal(0, 1, 400), y + rng.normal(0, 1, 400)  # same quality, independent noise
    w = counts(resample_indices(400, 1000, seed=0), 400)
    out = paired_difference(auroc(a, y), auroc(b, y), auroc_resampled(a, y, w), auroc_resampled(b, y, w))
    assert out.low < 0 < out.high and out.p_value > 0.05


def test_large_difference_gives_a_tiny_p():
    rng = np.random.default_rng(6)
    y = rng.integers(0, 2, 400)
    good, bad = y + rng.normal(0, 0.5, 400), y + rng.normal(0, 3, 400)
    w = counts(resample_indices(400, 1000, seed=0), 400)
    out = paired_difference(auroc(good, y), auroc(bad, y), auroc_resampled(good, y, w), auroc_resampled(bad, y, w))
    assert out.difference > 0.2 and out.low > 0
    assert out.p_value == pytest.approx(2 / 1001)  # the smallest a 1,000-resample bootstrap gives


def test_holm_matches_a_hand_computation():
    # sorted p: 0.01, 0.02, 0.03, 0.04 -> 4*0.01, 3*0.02, max(0.06, 2*0.03), max(.06, 1*.04)
    assert holm([0.04, 0.01, 0.03, 0.02]) == pytest.approx([0.06, 0.04, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1
    out = holm([0.01, math.nan, 0.04])  # NaN stays NaN and does not count
    assert out[0] == pytest.approx(0.02) and math.isnan(out[1]) and out[2] == pytest.approx(0.04)
    assert holm([]) == []


@pytest.mark.benchmark
def test_benchmark_1000_resamples_of_auroc_on_10000_samples(benchmark):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 10_000)
    s = (y + rng.normal(size=10_000)).astype(np.float32)

    def run():
        return auroc_resampled(s, y, counts(resample_indices(10_000, 1000, seed=0), 10_000))

    out = benchmark.pedantic(run, rounds=3, iterations=1)
    assert out.shape == (1000,) and np.all((out > 0.7) & (out < 0.8))
