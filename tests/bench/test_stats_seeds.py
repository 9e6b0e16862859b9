"""bench.stats.seeds and ``bench compare --over-seeds``: Welch over pretraining seeds, Holm, refusals."""

from __future__ import annotations

import hashlib
import math
from types import SimpleNamespace

import numpy as np
import pytest
from scipy.stats import ttest_ind

from bench.cli import main
from bench.results import Result, write_result
from bench.stats.paired import holm
from bench.stats.seeds import compare_over_seeds, summary, welch_p


def _result(seed: int, metrics: dict, fraction: float = 1.0, eval_seed: int = 0):
    return (None, SimpleNamespace(task="classification", dataset="chexpert", protocol="linear", fraction=fraction,
                                  seed=eval_seed, pretrain_seed=seed, metrics=metrics))


def _side(values: dict[str, list[float]], **cell):
    n = len(next(iter(values.values())))
    return [_result(s, {m: v[s] for m, v in values.items()}, **cell) for s in range(n)]


def test_welch_p_is_scipys_and_handles_constant_and_short_sides():
    a, b = [0.81, 0.83, 0.80], [0.78, 0.79, 0.775]
    assert welch_p(a, b) == pytest.approx(ttest_ind(a, b, equal_var=False).pvalue)
    assert welch_p([0.5, 0.5], [0.5, 0.5]) == 1.0
    assert welch_p([0.5, 0.5], [0.6, 0.6]) == 0.0
    assert math.isnan(welch_p([0.5], [0.5, 0.6]))
    with np.errstate(all="raise"):  # near-equal values: no warning escapes, the p is finite
        assert math.isfinite(welch_p([0.7, 0.7 + 1e-15, 0.7], [0.7, 0.7, 0.7 + 2e-15]))


def test_same_spread_gives_large_p_and_a_shift_gives_a_small_one():
    rng = np.random.default_rng(0)
    base = rng.normal(0.8, 0.01, 6)
    same = compare_over_seeds(_side({"auroc": list(base)}), _side({"auroc": list(base)}))
    assert len(same) == 1 and same[0].p_value == pytest.approx(1.0) and same[0].difference == pytest.approx(0)
    shifted = compare_over_seeds(_side({"auroc": list(base + 0.1)}), _side({"auroc": list(base)}))
    assert shifted[0].p_value < 1e-6 and shifted[0].difference == pytest.approx(0.1)
    assert shifted[0].a == tuple(base + 0.1)


def test_cells_with_one_seed_or_non_finite_values_are_left_out():
    a = _side({"auroc": [0.8, 0.82, 0.81], "f1": [0.5, math.nan, math.nan]})
    b = _side({"auroc": [0.79, 0.8, 0.8], "f1": [0.4, 0.41, 0.42]})
    rows = compare_over_seeds(a, b)
    assert [r.metric for r in rows] == ["auroc"]  # f1 has a single finite seed on side A
    assert compare_over_seeds(a[:1], b) == []


def test_holm_runs_over_every_row_of_the_table():
    rng = np.random.default_rng(1)
    metrics = {f"m{i}": list(rng.normal(0.7, 0.02, 4)) for i in range(5)}
    other = {f"m{i}": list(rng.normal(0.7 + 0.01 * i, 0.02, 4)) for i in range(5)}
    rows = compare_over_seeds(_side(metrics) + _side(metrics, fraction=0.1), _side(other) + _side(other, fraction=0.1))
    assert len(rows) == 10
    assert [r.holm_p for r in rows] == pytest.approx(holm([r.p_value for r in rows]))
    raw = sum(r.p_value < 0.05 for r in rows)
    assert summary(rows).startswith(f"10 metric(s) over pretraining seeds; {raw} with Welch p < 0.05")


def _write(results_dir, method: str, train_seed: int, auroc: float):
    cell = hashlib.sha256(f"{method}-{train_seed}".encode()).hexdigest()
    result = Result(method, "zero_shot", "1", "rsna", {"auroc": auroc}, protocol="prompts-gloria",
                    checkpoint="final.pt", checkpoint_id=f"sd-{method}{train_seed}",
                    config={"train": {"seed": train_seed}}, cell_key=cell, split_hashes={"subset": "s" * 64})
    write_result(result, results_dir)


def test_the_command_prints_the_table_and_refuses_single_seed_sides(tmp_path, capsys):
    for seed, (x, y) in enumerate([(0.80, 0.70), (0.82, 0.71), (0.81, 0.69)]):
        _write(tmp_path / "a", "prior", seed, x)
        _write(tmp_path / "b", "convirt", seed, y)
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--over-seeds"]) == 0
    out = capsys.readouterr().out
    assert "1 metric(s) over pretraining seeds; 1 with Welch p < 0.05" in out
    assert "0.8100 ± 0.0100" in out and "0.7000 ± 0.0100" in out
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--over-seeds", "--format", "csv"]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert header.startswith("task,dataset,fraction,seed,metric,n A,n B")
    _write(tmp_path / "c", "gloria", 0, 0.75)
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "c"), "--over-seeds"]) == 2
    assert "at least 2 pretraining seeds" in capsys.readouterr().err
