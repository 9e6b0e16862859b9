from __future__ import annotations

import json
import math

import pytest

from bench.results import Result, ResultError, filter_results, iter_results, load_result, write_result


def _result(**kw):
    base = dict(
        method="prior",
        task="classification",
        task_version="1",
        dataset="chexpert",
        metrics={"auroc_mean": 0.8, "bad": math.nan},
        higher_is_better={"auroc_mean": True},
        fraction=0.01,
        seed=1,
        split_hashes={"train_1": "abc"},
    )
    base.update(kw)
    return Result(**base)


def test_write_load_roundtrip_with_env_fields(tmp_path):
    path = write_result(_result(), tmp_path)
    data = json.loads(path.read_text())
    for key in ("metrics", "task_version", "config", "split_hashes", "git_commit", "packages", "device",
                "wall_time_s", "schema_version", "created"):
        assert key in data
    assert data["metrics"]["bad"] is None  # NaN written as null
    assert "torch" in data["packages"]
    back = load_result(path)
    assert back.metrics["auroc_mean"] == 0.8 and back.fraction == 0.01 and back.seed == 1


def test_one_file_per_identity_and_overwrite(tmp_path):
    a = write_result(_result(), tmp_path)
    b = write_result(_result(metrics={"auroc_mean": 0.9}), tmp_path)
    c = write_result(_result(seed=2), tmp_path)
    d = write_result(_result(ablation=("prototype_bank",)), tmp_path)
    assert a == b and len({a, c, d}) == 3
    assert load_result(a).metrics["auroc_mean"] == 0.9
    assert not list(tmp_path.rglob("*.tmp"))


def test_list_and_filter(tmp_path):
    for seed in (0, 1, 2):
        write_result(_result(seed=seed), tmp_path)
    write_result(_result(method="gloria"), tmp_path)
    (tmp_path / "junk.json").write_text("{not json")
    errors: list[str] = []
    results = [r for _, r in iter_results(tmp_path, errors)]
    assert len(results) == 4 and len(errors) == 1 and "junk.json" in errors[0]
    assert len(filter_results(results, method="prior")) == 3
    assert len(filter_results(results, seed=(0, 1))) == 3
    with pytest.raises(ResultError):
        list(iter_results(tmp_path))


def test_missing_fields_and_future_schema_rejected(tmp_path):
    p = tmp_path / "r.json"
    p.write_text(json.dumps({"method": "x"}))
    with pytest.raises(ResultError, match="missing field"):
        load_result(p)
    d = _result().to_dict()
    d["schema_version"] = 99
    p.write_text(json.dumps(d))
    with pytest.raises(ResultError, match="newer"):
        load_result(p)
