from __future__ import annotations

import pytest
from support import planted

from bench.checkpoint import save_checkpoint
from bench.cli import main
from bench.data.splits import read_splits, split_hash
from bench.results import iter_results

pytestmark = pytest.mark.usefixtures("planted_registered")  # `bench evaluate --method planted`
SETS = [
    "model.image_size=24", "train.num_workers=0", "eval.subset_per_class=6", "eval.probe_epochs=50",
    "eval.probe_lr=0.05",
]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    planted.write_chexpert(root / "chexpert")
    return root


def _evaluate(data_dir, results, *extra, checkpoint="random", cache="none"):
    argv = ["evaluate", "--method", "planted", "--checkpoint", str(checkpoint), "--data", str(data_dir),
            "--results", str(results), "--preset", "tiny", "--set", *SETS, f"eval.cache_dir={cache}", *extra]
    return main(argv)


def test_classification_writes_one_result_per_fraction_and_seed(data_dir, tmp_path):
    code = _evaluate(data_dir, tmp_path, "--task", "classification", "--dataset", "chexpert", "--set",
                     "eval.fractions=0.1,1.0", "eval.seeds=0,1")
    assert code == 0
    results = [r for _, r in iter_results(tmp_path)]
    assert sorted((r.fraction, r.seed) for r in results) == [(0.1, 0), (0.1, 1), (1.0, 0), (1.0, 1)]
    r = next(r for r in results if r.fraction == 1.0 and r.seed == 0)
    assert (r.method, r.task, r.task_version, r.dataset, r.checkpoint) == ("planted", "classification", "2", "chexpert", "random")
    assert r.checkpoint_sha256 is None and r.ablation == () and r.protocol == "linear-probe"
    assert r.preset == "tiny" and r.config["eval"]["uncertainty"] == "gloria" and r.config["model"]["image_size"] == 24
    assert r.metrics["auroc"] == pytest.approx(1.0)
    assert r.higher_is_better["auroc"] is True and set(r.higher_is_better) == set(r.metrics)
    assert set(r.split_hashes) == {"train", "val", "test"}
    assert r.wall_time_s > 0 and r.world_size == 1 and r.git_commit and r.packages and r.device
    on_disk = read_splits(r.extra["splits_dir"])
    assert {n: split_hash(k) for n, k in on_disk.items()} == r.split_hashes
    small = next(x for x in results if x.fraction == 0.1 and x.seed == 0)
    assert small.split_hashes["test"] == r.split_hashes["test"] and small.split_hashes["train"] != r.split_hashes["train"]


def test_checkpoint_zero_shot_and_retrieval(data_dir, tmp_path):
    model = planted.PlantedMethod()
    cfg = planted_cfg()
    ckpt = save_checkpoint(tmp_path / "planted.pt", {"method": "planted", "drop": [], "config": cfg.to_dict(), "model": model.state_dict()})
    cache = tmp_path / "cache"
    for task in ("zero_shot", "retrieval"):
        assert _evaluate(data_dir, tmp_path / "res", "--task", task, "--seed", "0", checkpoint=ckpt, cache=cache) == 0
    results = {r.task: r for _, r in iter_results(tmp_path / "res")}
    assert set(results) == {"zero_shot", "retrieval"}  # zero_shot skipped rsna: not in the data folder
    zs, rt = results["zero_shot"], results["retrieval"]
    assert zs.dataset == "chexpert" and zs.fraction == 1.0 and zs.protocol == "prompts-gloria"
    assert zs.metrics["accuracy"] == pytest.approx(1.0) and zs.checkpoint_sha256 and len(zs.checkpoint_sha256) == 64
    assert list(zs.split_hashes) == ["subset"] and zs.extra["split_sizes"] == {"subset": 30}
    assert rt.metrics["i2t_P@1"] == pytest.approx(1.0) and rt.extra["query_source"] == "builtin"
    assert len(rt.extra["queries"]["Edema"]) == 5
    assert list(cache.rglob("*.pt"))  # features written to the cache folder


def test_errors_are_user_errors(data_dir, tmp_path, capsys):
    code = _evaluate(data_dir, tmp_path, "--task", "zero_shot", "--dataset", "rsna", "--seed", "0")
    assert code == 2  # asked for explicitly, but the data folder has no rsna
    assert _evaluate(data_dir, tmp_path, "--task", "retrieval", "--dataset", "siim") == 2
    assert "runs on chexpert" in capsys.readouterr().err
    assert _evaluate(data_dir, tmp_path, "--task", "zero_shot", "--fraction", "0.1") == 2


def test_wrong_method_for_checkpoint(data_dir, tmp_path, capsys):
    ckpt = save_checkpoint(tmp_path / "c.pt", {"method": "convirt", "drop": [], "config": {}, "model": {}})
    assert _evaluate(data_dir, tmp_path, "--task", "retrieval", checkpoint=ckpt) == 2
    assert "convirt" in capsys.readouterr().err


def planted_cfg():
    from bench.config import resolve

    return resolve("tiny", "planted", dict(s.split("=", 1) for s in SETS), planted.PlantedConfig)
