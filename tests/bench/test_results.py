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


def test_variant_name_one_spelling():
    from bench.results import variant_name

    assert variant_name("prior") == "prior"
    assert variant_name("prior", ("prototype_bank", "local_alignment")) == "prior-no-local_alignment-no-prototype_bank"
    assert Result("prior", "t", "1", "d", {}, ablation=("b", "a")).variant == "prior-no-a-no-b"


def test_config_hash_ignores_speed_settings_only():
    from bench.results import config_hash

    base = {"preset": "tiny", "train": {"lr": 1e-3, "num_workers": 0, "threads": 2}, "eval": {"cache_dir": ""}}
    faster = {"preset": "tiny", "train": {"lr": 1e-3, "num_workers": 4, "threads": 8}, "eval": {"cache_dir": "/x"}}
    other = {"preset": "tiny", "train": {"lr": 2e-3, "num_workers": 0, "threads": 2}, "eval": {"cache_dir": ""}}
    assert config_hash(base) == config_hash(faster)
    assert config_hash(base) != config_hash(other)


def test_config_hash_ignores_which_cells_a_run_selects():
    from bench.config import parse_overrides, resolve
    from bench.results import config_hash

    def cfg(*sets):
        return resolve(preset="tiny", overrides=parse_overrides(list(sets)))

    one = cfg("eval.seeds=[0]", "eval.dense_seeds=[0]", "eval.fractions=[1.0]")
    three = cfg("eval.seeds=[0,1,2]", "eval.dense_seeds=[0,1,2]", "eval.fractions=[0.01,0.1,1.0]",
                "eval.dense_datasets=[rsna]")
    longer = cfg("eval.dense_iters=151")
    assert config_hash(one.to_dict()) == config_hash(three.to_dict())
    assert config_hash(one.to_dict()) != config_hash(longer.to_dict())


def test_cell_key_changes_with_every_identity_field():
    from bench.results import cell_key

    ident = dict(method="prior", ablation=[], checkpoint_id="sd-1", preset="tiny", eval_preset="tiny",
                 config_hash="c", task="classification", task_version="1", protocol="linear-probe",
                 dataset="chexpert", fraction=1.0, seed=0, split_hashes={"test": "h"})
    key = cell_key(**ident)
    assert key == cell_key(**dict(ident))
    for field_name, other in [("checkpoint_id", "sd-2"), ("config_hash", "d"), ("task_version", "2"),
                              ("seed", 1), ("fraction", 0.1), ("split_hashes", {"test": "g"}), ("preset", "default")]:
        assert cell_key(**{**ident, field_name: other}) != key, field_name
