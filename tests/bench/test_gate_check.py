"""bench check: verdicts, exit codes and the two gates, on planted result files."""

from __future__ import annotations

import json
import statistics

import pytest
from support import write_published

from bench.cli import main
from bench.gate import baselines
from bench.gate.compare import data_source, on_real_data, verdict
from bench.results import Result, write_result

REAL = {"kind": "dataset", "name": "chexpert", "root": "/data/chexpert", "fingerprint": "f00d"}
SYNTH = {
    "kind": "embedded-default",
    "name": "chexpert",
    "generator_version": "1",
    "seed": 0,
    "studies": 3000,
    "size": 128,
    "difficulty": "easy",
}


def _result(
    metrics,
    *,
    method="convirt",
    task="classification",
    dataset="chexpert",
    protocol="linear-probe",
    fraction=0.01,
    seed=0,
    checkpoint="ckpt.pt",
    train_seed=0,
    source=None,
    **kw,
) -> Result:
    return Result(
        method=method,
        task=task,
        task_version="1",
        dataset=dataset,
        metrics=dict(metrics),
        higher_is_better=kw.pop("higher_is_better", {m: True for m in metrics}),
        checkpoint=checkpoint,
        checkpoint_sha256=None if checkpoint == "random" else f"sha{train_seed}",
        fraction=fraction,
        seed=seed,
        protocol=protocol,
        preset="tiny",
        config={"preset": "tiny", "train": {"seed": train_seed, "lr": 0.001}},
        git_commit="c0ffee",
        packages={"medvlp-bench": "0"},
        device="cpu",
        data_source={**(source or SYNTH), "name": dataset},
        **kw,
    )


def _plant(folder, results):
    for r in results:
        write_result(r, folder)
    return folder


def _suite(train_seed=0, shift=0.0):
    """One method's cells: pretrained and random init, two tasks, two fractions."""
    return [
        _result({"auroc": 0.80 + shift, "accuracy": 0.70 + shift}, train_seed=train_seed),
        _result({"auroc": 0.84 + shift, "accuracy": 0.75 + shift}, fraction=1.0, train_seed=train_seed),
        _result(
            {"auroc": 0.60 + shift, "accuracy": 0.55 + shift}, checkpoint="random", train_seed=train_seed
        ),
        _result(
            {"i2t_P@1": 0.40 + shift}, task="retrieval", protocol="8x200", fraction=1.0, train_seed=train_seed
        ),
    ]


def _check(capsys, *args):
    code = main(["check", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def pinned(tmp_path, capsys):
    runs = [_plant(tmp_path / f"pin{s}", _suite(s, d)) for s, d in ((0, 0.0), (1, 0.01), (2, -0.01))]
    folder = tmp_path / "baselines"
    code, out, _ = _check(
        capsys, "--against", "baselines", "--update", "--results", *runs, "--baselines", folder
    )
    assert code == 0 and "7 cell(s) changed" in out
    return folder


def test_update_pins_seed_values_with_measured_tolerance(pinned):
    doc = json.loads((pinned / "convirt.json").read_text())
    assert doc["pretrain_seeds"] == [0, 1, 2] and doc["pinned_seed"] == 0 and doc["git_commit"] == "c0ffee"
    assert len(doc["config_hashes"]) == 1 and doc["data_source"]["kind"] == "embedded-default"
    cells = {(c["init"], c["task"], c["fraction"], c["metric"]): c for c in doc["cells"]}
    assert len(cells) == 7
    assert cells[("random", "classification", 0.01, "auroc")]["value"] == 0.60
    assert cells[("random", "classification", 0.01, "auroc")]["n"] == 3
    cell = cells[("pretrained", "classification", 0.01, "auroc")]
    std = statistics.stdev([0.80, 0.81, 0.79])
    assert cell["value"] == 0.80 and cell["n"] == 3
    assert cell["std"] == pytest.approx(std) and cell["tolerance"] == pytest.approx(
        max(3 * std, baselines.FLOOR)
    )


def test_update_prints_what_changed(pinned, tmp_path, capsys, caplog):
    runs = _plant(tmp_path / "again", [*_suite(0), _result({"auroc": 0.9}, fraction=0.1)])
    runs_results = list(runs.rglob("*.json"))
    assert len(runs_results) == 5
    code, out, err = _check(
        capsys, "--against", "baselines", "--update", "--results", runs, "--baselines", pinned
    )
    assert code == 0
    rows = {
        line.split("|")[2].strip(): line.split("|")[1].strip() for line in out.splitlines()[2:] if "|" in line
    }
    assert rows["convirt classification linear-probe chexpert 10% seed 0 auroc"] == "added"
    # one seed only: every tolerance falls back to the floor, so every old cell changed
    assert rows["convirt (random init) classification linear-probe chexpert 1% seed 0 auroc"] == "changed"
    assert len(rows) == 8 and "8 cell(s) changed" in out
    assert "fall back to the floor" in caplog.text


def test_pass_on_results_equal_to_baselines(pinned, tmp_path, capsys):
    runs = _plant(tmp_path / "ci", _suite(0))
    code, out, _ = _check(capsys, "--against", "baselines", "--results", runs, "--baselines", pinned)
    assert code == 0, out
    assert "7 pass" in out and "regressed" not in out.split("\n\n")[-1]


def test_regression_below_tolerance_fails_naming_the_cell(pinned, tmp_path, capsys):
    runs = _plant(tmp_path / "ci", [*_suite(0)[1:], _result({"auroc": 0.70, "accuracy": 0.70})])
    code, out, err = _check(capsys, "--against", "baselines", "--results", runs, "--baselines", pinned)
    assert code == 1
    assert "regressed: convirt classification linear-probe chexpert 1% seed 0 auroc: 0.7000 vs 0.8000" in out
    first = out.splitlines()[2]  # the table sorts regressions first
    assert "regressed" in first and "auroc" in first and "-0.1000" in first


def test_improved_and_unmatched_do_not_fail(pinned, tmp_path, capsys):
    better = _result({"auroc": 0.95, "accuracy": 0.70})
    new_cell = _result({"auroc": 0.5}, fraction=0.1)  # no pinned cell at 10 %
    ablated = _result({"auroc": 0.1, "accuracy": 0.1}, method="prior", ablation=("local_alignment",))
    runs = _plant(tmp_path / "ci", [*_suite(0)[1:], better, new_cell, ablated])
    code, out, _ = _check(
        capsys, "--against", "baselines", "--results", runs, "--baselines", pinned, "--format", "json"
    )
    assert code == 0
    doc = json.loads(out)
    verdicts = {(c["method"], c["fraction"], c["metric"]): c["verdict"] for c in doc["cells"]}
    assert verdicts[("convirt", 0.01, "auroc")] == "improved"
    assert verdicts[("convirt", 0.1, "auroc")] == "unmatched"
    assert verdicts[("prior-no-local_alignment", 0.01, "auroc")] == "unmatched"
    assert doc["passed"] is True and doc["summary"]["regressed"] == 0


def test_tolerance_override_and_json_output(pinned, tmp_path, capsys):
    runs = _plant(tmp_path / "ci", [*_suite(0)[1:], _result({"auroc": 0.79, "accuracy": 0.70})])
    code, out, _ = _check(capsys, "--against", "baselines", "--results", runs, "--baselines", pinned)
    assert code == 0  # 0.01 below, inside the measured tolerance
    code, out, _ = _check(
        capsys,
        "--against",
        "baselines",
        "--results",
        runs,
        "--baselines",
        pinned,
        "--tolerance",
        "0.005",
        "--format",
        "json",
    )
    doc = json.loads(out)
    assert code == 1 and doc["passed"] is False and doc["summary"]["regressed"] == 1
    bad = [c for c in doc["cells"] if c["verdict"] == "regressed"]
    assert bad[0]["delta"] == pytest.approx(-0.01) and bad[0]["tolerance"] == 0.005
    assert set(bad[0]) >= {"ours", "reference", "delta", "tolerance", "verdict", "source"}


def test_real_data_results_are_not_compared_with_baselines(pinned, tmp_path, capsys):
    runs = _plant(tmp_path / "ci", [*_suite(0), _result({"auroc": 0.1, "accuracy": 0.1}, source=REAL)])
    code, out, _ = _check(capsys, "--against", "baselines", "--results", runs, "--baselines", pinned)
    assert code == 0 and "1 skipped not embedded default" in out


def test_notes_when_config_or_embedded_default_differ(pinned, tmp_path, capsys):
    other_lr = _result({"auroc": 0.80, "accuracy": 0.70})
    other_lr.config["train"]["lr"] = 0.01
    harder = _result({"auroc": 0.84, "accuracy": 0.75}, fraction=1.0, source={**SYNTH, "difficulty": "hard"})
    runs = _plant(tmp_path / "ci", [other_lr, harder])
    code, out, _ = _check(
        capsys, "--against", "baselines", "--results", runs, "--baselines", pinned, "--format", "json"
    )
    notes = {c["fraction"]: c["note"] for c in json.loads(out)["cells"]}
    assert code == 0
    assert notes[0.01] == "config differs from the pinned one"
    assert notes[1.0] == "embedded default differs from the pinned one"


def test_published_gate_on_real_data_with_sources(tmp_path, capsys):
    table = write_published(
        tmp_path / "p.csv",
        {},
        {"metric": "accuracy", "value": "0.9", "status": "unsure", "source": "Aggregator"},
    )
    runs = _plant(tmp_path / "runs", [_result({"auroc": 0.87, "accuracy": 0.5}, source=REAL)])
    code, out, _ = _check(capsys, "--against", "published", "--results", runs, "--published", table)
    assert code == 0, out
    assert "Paper (2024) Table 1" in out and "Aggregator" in out
    assert "1 pass" in out and "1 unsure" in out and "would be regressed" in out


def test_published_regression_fails_and_unsure_rows_never_gate(tmp_path, capsys):
    runs = _plant(tmp_path / "runs", [_result({"auroc": 0.70}, source=REAL)])
    unsure = write_published(
        tmp_path / "u.csv",
        {"status": "unsure"},
        {"protocol": "*", "fraction": "*", "status": "unsure", "source": "Other"},
    )
    code, out, _ = _check(capsys, "--against", "published", "--results", runs, "--published", unsure)
    assert code == 0 and "2 unsure" in out
    confirmed = write_published(tmp_path / "c.csv", {})
    code, out, err = _check(capsys, "--against", "published", "--results", runs, "--published", confirmed)
    assert code == 1 and "regressed: convirt classification linear-probe chexpert 1% seed 0 auroc" in out


def test_synthcxr_results_never_meet_published_rows(tmp_path, capsys):
    table = write_published(tmp_path / "p.csv", {})
    synth = _result({"auroc": 0.10}, seed=1)  # would regress against 0.86
    legacy = _result({"auroc": 0.10}, seed=2)  # no data_source at all: the embedded default
    legacy.data_source = {}
    other = _result({"auroc": 0.10}, seed=3, source=REAL)
    other.data_source["name"] = "rsna"  # real data, but of another dataset
    real = _result({"auroc": 0.87}, seed=0, source=REAL)
    runs = _plant(tmp_path / "runs", [synth, legacy, other, real])
    code, out, _ = _check(
        capsys, "--against", "published", "--results", runs, "--published", table, "--format", "json"
    )
    doc = json.loads(out)
    assert code == 0 and [c["seed"] for c in doc["cells"]] == [0]
    assert doc["summary"]["skipped_not_real_data"] == 3
    only_synth = _plant(tmp_path / "synth", [synth, legacy])
    code, _, err = _check(capsys, "--against", "published", "--results", only_synth, "--published", table)
    assert code == 2 and "no results on real data (2 on SynthCXR or on other data" in err


def test_random_init_and_unmatched_published_cells(tmp_path, capsys):
    table = write_published(tmp_path / "p.csv", {})
    runs = _plant(
        tmp_path / "runs",
        [
            _result({"auroc": 0.5}, checkpoint="random", source=REAL),
            _result({"auroc": 0.5}, dataset="rsna", source=REAL),
        ],
    )
    code, out, _ = _check(capsys, "--against", "published", "--results", runs, "--published", table)
    assert code == 0 and "2 unmatched" in out and "convirt (random init)" in out


def test_user_errors_exit_2(tmp_path, capsys):
    assert _check(capsys, "--against", "baselines", "--results", tmp_path / "nope")[0] == 2
    (tmp_path / "empty").mkdir()
    code, _, err = _check(capsys, "--against", "baselines", "--results", tmp_path / "empty")
    assert code == 2 and "no result files" in err
    runs = _plant(tmp_path / "runs", [_result({"auroc": 0.5}, method="convrt")])
    code, _, err = _check(capsys, "--against", "baselines", "--results", runs)
    assert code == 2 and "unknown method 'convrt'" in err and "Traceback" not in err
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "x.json").write_text("{not json")
    code, _, err = _check(capsys, "--against", "published", "--results", broken)
    assert code == 2 and "x.json: not valid JSON" in err
    good = _plant(tmp_path / "good", [_result({"auroc": 0.5})])
    assert _check(capsys, "--against", "published", "--update", "--results", good)[0] == 2
    code, _, err = _check(
        capsys, "--against", "baselines", "--results", good, "--baselines", tmp_path / "none"
    )
    assert code == 2 and "no baseline files" in err


def test_verdict_rules():
    assert verdict(0.80, 0.80, 0.0, True) == ("pass", 0.0)
    assert verdict(0.77, 0.80, 0.03, True)[0] == "pass"  # at the tolerance: still a pass
    assert verdict(0.76, 0.80, 0.03, True)[0] == "regressed"
    assert verdict(0.84, 0.80, 0.03, True)[0] == "improved"
    assert verdict(0.84, 0.80, 0.03, False)[0] == "regressed"  # lower is better
    assert verdict(None, 0.80, 0.03, True) == ("regressed", None)  # a metric that became undefined
    assert verdict(None, None, 0.03, True) == ("pass", None)


def test_data_source_read_from_the_field_or_extra():
    r = _result({"auroc": 0.5}, source=REAL)
    assert on_real_data(r) and data_source(r)["fingerprint"] == "f00d"
    r.data_source = {}
    assert data_source(r) == {"kind": "embedded-default"} and not on_real_data(r)
    r.extra["data_source"] = dict(REAL)  # where results written before the field kept it
    assert on_real_data(r)
    r.extra["data_source"] = {**REAL, "kind": "synthcxr"}  # `bench data synth` output passed as --data
    assert not on_real_data(r)


def test_higher_is_better_falls_back_to_the_task_metrics():
    from bench.gate.compare import higher_is_better

    r = _result({"auroc": 0.5, "loss": 1.0}, higher_is_better={"loss": False})
    assert higher_is_better(r, "loss") is False
    assert higher_is_better(r, "auroc") is True  # from tasks.classification.METRICS


def test_the_shipped_published_file_shows_prior_rows_without_gating(tmp_path, capsys):
    runs = _plant(tmp_path / "runs", [_result({"auroc": 0.50}, method="prior", source=REAL)])
    code, out, _ = _check(capsys, "--against", "published", "--results", runs, "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["passed"] is True
    cells = [c for c in doc["cells"] if c["reference"] is not None]
    assert cells and all(c["verdict"] == "unsure" and "would be regressed" in c["note"] for c in cells)
    assert any(
        "third-party aggregator" in c["source"] and c["reference"] == pytest.approx(0.8861) for c in cells
    )
