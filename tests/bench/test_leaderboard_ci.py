"""``bench leaderboard --ci``: intervals from the results, the pretraining-seed spread, which is larger."""

from __future__ import annotations

import io
import statistics
from contextlib import redirect_stderr, redirect_stdout

import pytest

from bench import leaderboard as lb
from bench import leaderboard_ci as lci
from bench.cli import main
from bench.results import Result, write_result

COL = "classification/chexpert/linear-probe/100%/auroc"


def plant(root, auroc, low, high, train_seed=0, seed=0, checkpoint="ckpt.pt"):
    r = Result(
        method="prior", task="classification", task_version="2", dataset="chexpert",
        metrics={"auroc": auroc}, higher_is_better={"auroc": True}, checkpoint=checkpoint,
        checkpoint_sha256=None if checkpoint == "random" else f"{train_seed:x}" * 16, seed=seed,
        protocol="linear-probe", preset="tiny", split_hashes={"train": f"tr{seed}", "test": f"te{seed}"},
        config={"train": {"seed": train_seed}}, git_commit="c0ffee", packages={}, device="cpu",
        extra={"ci": {"method": "percentile bootstrap", "level": 0.95, "metrics": {"auroc": [low, high]}}},
    )
    return write_result(r, root)


def test_one_result_shows_its_interval(tmp_path):
    plant(tmp_path, 0.8, 0.75, 0.85)
    long = lb.summarise(tmp_path)
    assert lci.render(long).splitlines()[2].split("|")[2].strip() == "0.800 [0.750, 0.850]"


def test_seed_spread_beside_the_interval_and_which_is_larger(tmp_path):
    # Three pretraining seeds x two eval seeds; each pretraining seed's mean over eval seeds: 0.70, 0.80, 0.90.
    for t, base in enumerate((0.70, 0.80, 0.90)):
        for s, d in enumerate((-0.01, 0.01)):
            plant(tmp_path, base + d, base + d - 0.02, base + d + 0.02, train_seed=t, seed=s)
    entry = lb.summarise(tmp_path).iloc[0]
    assert entry["train_std"] == pytest.approx(statistics.stdev([0.70, 0.80, 0.90]))
    assert entry["n_train"] == 3 and entry["n"] == 6
    assert (entry["ci_low"], entry["ci_high"]) == (pytest.approx(0.78), pytest.approx(0.82))
    # train std 0.1 against a test std of 0.04 / (2 * 1.96) ~ 0.01: the seeds vary more.
    assert lci.ci_cell(entry) == "0.800 ± 0.100 [0.780, 0.820] (n=6, S)"
    assert any("1 vary more over pretraining seeds" in n for n in lci.notes(lb.summarise(tmp_path)))


def test_wide_interval_is_the_larger_source(tmp_path):
    for t, v in enumerate((0.80, 0.81)):
        plant(tmp_path, v, v - 0.2, v + 0.2, train_seed=t)
    entry = lb.summarise(tmp_path).iloc[0]
    assert lci.larger_source(entry["train_std"], entry["ci_low"], entry["ci_high"]) == "T"
    assert lci.ci_cell(entry).endswith("(n=2, T)")


def test_test_std_of_a_normal_interval():
    assert lci.test_std(-1.959964, 1.959964) == pytest.approx(1.0, rel=1e-5)
    assert lci.larger_source(float("nan"), 0.1, 0.2) is None


def test_result_without_interval_is_said_so(tmp_path):
    r = plant(tmp_path, 0.8, None, None)
    assert r.exists()
    long = lb.summarise(tmp_path)
    assert "[no interval]" in lci.render(long)
    assert any("no stored interval" in n for n in lci.notes(long))


def test_cli_ci_flag(tmp_path):
    plant(tmp_path, 0.8, 0.75, 0.85)
    plant(tmp_path, 0.6, 0.5, 0.7, checkpoint="random")
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        assert main(["leaderboard", "--results", str(tmp_path), "--ci"]) == 0
    assert "0.800 [0.750, 0.850]" in out.getvalue() and "0.600 [0.500, 0.700]" in out.getvalue()
    assert COL in out.getvalue() and "--ci:" in err.getvalue()
