"""Through the engine: every result names its predictions (sha256) and intervals, and
``bench rescore`` reproduces it; ``bench compare`` pairs two runs on the same splits."""

from __future__ import annotations

import json

import pytest
from support import planted

from bench.cli import main
from bench.predictions import sha256_file
from bench.results import iter_results

pytestmark = pytest.mark.usefixtures("planted_registered")  # `bench evaluate --method planted`

SETS = ["model.image_size=24", "train.num_workers=0", "eval.subset_per_class=6", "eval.probe_epochs=50",
        "eval.probe_lr=0.05", "eval.cache_dir=none"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    planted.write_chexpert(root / "chexpert")
    return root


def _evaluate(data_dir, results, task, *extra):
    return main(["evaluate", "--method", "planted", "--checkpoint", "random", "--data", str(data_dir), "--results",
                 str(results), "--preset", "tiny", "--task", task, "--seed", "0", "--set", *SETS, *extra])


@pytest.mark.slow
def test_engine_results_rescore_exactly_and_compare_pairwise(data_dir, tmp_path, capsys):
    for task, extra in (("classification", ("--fraction", "1")), ("zero_shot", ()), ("retrieval", ())):
        assert _evaluate(data_dir, tmp_path / "a", task, *extra) == 0
    found = list(iter_results(tmp_path / "a"))
    assert {r.task for _, r in found} == {"classification", "zero_shot", "retrieval"}
    for path, r in found:
        entry, ci = r.extra["predictions"], r.extra["ci"]
        npz = path.parent / entry["file"]
        assert sha256_file(npz) == entry["sha256"] and entry["split_hash"] == r.split_hashes[entry["split"]]
        assert set(ci["metrics"]) == set(r.metrics) and ci["n_resamples"] == 1000
    capsys.readouterr()
    assert main(["rescore", str(tmp_path / "a")]) == 0
    assert f"{len(found)} rescored, 0 mismatched, 0 skipped" in capsys.readouterr().out
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "a"), "--resamples", "200",
                 "--a-init", "random", "--b-init", "random"]) == 0
    out = capsys.readouterr().out
    assert "| retrieval" in out and "| zero_shot" in out and "| classification" in out
    # a stored number that its predictions do not give is caught
    path, r = next((p, r) for p, r in found if r.task == "zero_shot")
    data = json.loads(path.read_text())
    data["metrics"]["accuracy"] = 0.5
    path.write_text(json.dumps(data))
    assert main(["rescore", str(path)]) == 1
