"""`bench run --launcher local`: the matrix as submitit jobs (subprocesses) equals a sequential run."""

from __future__ import annotations

import pytest

from bench.cli import main
from bench.data.synth import generate
from bench.results import iter_results

pytestmark = pytest.mark.slow
SETS = ["model.image_size=32", "train.max_steps=2", "train.batch_size=8", "train.threads=1", "train.num_workers=0",
        "eval.probe_epochs=20", "eval.cache_dir=none"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    generate(out, studies=60, size=64, seed=5, datasets=("mimic-cxr", "chexpert"))
    return out


def _argv(data, results, *extra):
    return ["run", "--method", "convirt", "--task", "classification", "--data", str(data), "--preset", "tiny",
            "--results", str(results), "--fraction", "0.1", "1.0", "--eval-seeds", "0", "1", "2", *extra,
            "--set", *SETS]


def test_local_jobs_write_the_same_results_as_a_sequential_run(data, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(_argv(data, tmp_path / "seq")) == 0
    assert main(_argv(data, tmp_path / "jobs", "--launcher", "local", "--max-parallel", "2")) == 0
    assert "12 done, 0 skipped (already there), 0 failed" in capsys.readouterr().out
    seq = {r.cell_key: r for _, r in iter_results(tmp_path / "seq")}
    jobs = {r.cell_key: r for _, r in iter_results(tmp_path / "jobs")}
    assert len(seq) == 12 and set(jobs) == set(seq)  # 2 fractions x 3 seeds x (pretrained, random init)
    for key, r in seq.items():
        assert jobs[key].metrics == pytest.approx(r.metrics, abs=1e-9)
    assert len(list((tmp_path / "jobs" / "_launch").rglob("*_result.pkl"))) == 13  # 1 pretraining + 12 cells
    # a rerun through the launcher submits nothing
    assert main(_argv(data, tmp_path / "jobs", "--launcher", "local")) == 0
    assert "0 done, 12 skipped" in capsys.readouterr().out
