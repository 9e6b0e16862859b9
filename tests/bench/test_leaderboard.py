from __future__ import annotations

import io
import json
import math
import re
import statistics

import pandas as pd
import pytest

from bench import leaderboard as lb
from bench.cli import main
from bench.results import Result, variant_name, write_result

COL = "classification/chexpert/linear-probe/100%/auroc"


def plant(root, method="prior", seed=0, auroc=0.8, checkpoint="ckpt.pt", ablation=(), splits=None, **kw):
    fields = dict(
        method=method,
        task="classification",
        task_version="1",
        dataset="chexpert",
        metrics={"auroc": auroc, "accuracy": None if auroc is None else auroc / 2},
        higher_is_better={"auroc": True, "accuracy": True},
        checkpoint=checkpoint,
        checkpoint_sha256=None if checkpoint == "random" else "0123456789abcdef",
        seed=seed,
        ablation=tuple(ablation),
        protocol="linear-probe",
        preset="tiny",
        split_hashes=splits if splits is not None else {"train": f"tr{seed}", "test": f"te{seed}"},
        git_commit="c0ffee",
        packages={"torch": "x"},
        device="cpu",
    )
    fields.update(kw)
    return write_result(Result(**fields), root)


def test_variant_name_one_spelling():
    assert variant_name("prior", ()) == "prior"
    assert variant_name("prior", ("prototype_bank", "local_alignment")) == "prior-no-local_alignment-no-prototype_bank"


def test_rows_mean_std_and_seed_count(tmp_path):
    values = [0.71, 0.75, 0.80]
    for seed, v in enumerate(values):
        plant(tmp_path, seed=seed, auroc=v)
        plant(tmp_path, seed=seed, auroc=v - 0.2, checkpoint="random")
        plant(tmp_path, seed=seed, auroc=v - 0.1, ablation=("sentence_generation", "prototype_bank"))
    df = lb.build(tmp_path)
    assert list(df.index) == ["prior", "prior-no-prototype_bank-no-sentence_generation", "prior (random init)"]
    assert df.at["prior", (COL, "mean")] == pytest.approx(statistics.mean(values))
    assert df.at["prior", (COL, "std")] == pytest.approx(statistics.stdev(values))  # sample std, ddof=1
    assert df.at["prior", (COL, "n")] == 3
    assert df.at["prior (random init)", (COL, "mean")] == pytest.approx(statistics.mean(values) - 0.2)
    assert [c for c, _ in df.columns[::3]] == [COL]  # the headline only
    every = lb.build(tmp_path, all_metrics=True)
    assert {c for c, _ in every.columns} == {COL, COL.replace("auroc", "accuracy")}


def test_refuses_to_average_mismatched_split_hashes(tmp_path):
    plant(tmp_path, "convirt", seed=0, auroc=0.70, splits={"train": "A0", "test": "T0"})
    plant(tmp_path, "convirt", seed=1, auroc=0.72, splits={"train": "A1", "test": "T1"})
    plant(tmp_path, "prior", seed=0, auroc=0.80, splits={"train": "A0", "test": "T0"})
    odd = plant(tmp_path, "prior", seed=1, auroc=0.20, splits={"train": "B1", "test": "T1"})
    df = lb.build(tmp_path)
    # seed 1 of prior was split differently from convirt's seed 1: never averaged with prior's seed 0
    assert df.at["prior", (COL, "mean")] == pytest.approx(0.80)
    assert df.at["prior", (COL, "n")] == 1
    apart = [c for c in dict.fromkeys(df.columns.get_level_values(0)) if c != COL]
    assert len(apart) == 1 and "other splits" in apart[0]
    assert df.at["prior", (apart[0], "mean")] == pytest.approx(0.20)
    assert math.isnan(df.at["convirt", (apart[0], "mean")])
    (note,) = lb.notes(df)
    assert odd.stem in note and "split hashes of seed 1 differ" in note and "train" in note


def test_task_versions_and_presets_are_kept_apart(tmp_path):
    plant(tmp_path, seed=0, auroc=0.8)
    plant(tmp_path, seed=1, auroc=0.6, task_version="2")
    plant(tmp_path, seed=2, auroc=0.4, preset="default")
    plant(tmp_path, seed=3, auroc=0.3, eval_preset="default")
    df = lb.build(tmp_path)
    labels = list(dict.fromkeys(df.columns.get_level_values(0)))
    assert len(labels) == 4
    assert [df.at["prior", (c, "n")] for c in labels] == [1, 1, 1, 1]
    text = "\n".join(lb.notes(df))
    assert "task version 2 vs 1" in text and "preset default vs tiny" in text
    assert "evaluation preset default vs (none)" in text


def test_duplicate_seed_is_not_a_second_seed(tmp_path):
    plant(tmp_path, seed=0, auroc=0.5, created="2026-01-01T00:00:00")
    plant(tmp_path, seed=0, auroc=0.9, checkpoint_sha256="fedcba9876543210", created="2026-02-01T00:00:00")
    df = lb.build(tmp_path)
    assert df.at["prior", (COL, "n")] == 1 and df.at["prior", (COL, "mean")] == pytest.approx(0.9)
    assert any("superseded" in n for n in lb.notes(df))


def test_null_metric_leaves_the_count(tmp_path):
    plant(tmp_path, seed=0, auroc=0.6)
    plant(tmp_path, seed=1, auroc=None)
    df = lb.build(tmp_path)
    assert df.at["prior", (COL, "n")] == 1 and df.at["prior", (COL, "mean")] == pytest.approx(0.6)


def _planted_table(tmp_path):
    for seed, v in enumerate([0.7123, 0.7456, 0.8011]):
        plant(tmp_path, seed=seed, auroc=v)
        plant(tmp_path, "convirt", seed=seed, auroc=v - 0.0314)
    plant(tmp_path, "gloria", seed=0, auroc=0.66666)
    return lb.build(tmp_path)


def _expected(df, digits=3):
    out = {}
    for row in df.index:
        m, s, n = (df.at[row, (COL, k)] for k in lb.STATS)
        out[row] = (round(m, digits), None if n < 2 else round(s, digits), int(n))
    return out


CELL = re.compile(r"([0-9.]+)(?:\s*(?:±|\$\\pm\$)\s*([0-9.]+))?\s*\(n=(\d+)\)")


def _parse_cell(text):
    m = CELL.search(text)
    return float(m.group(1)), None if m.group(2) is None else float(m.group(2)), int(m.group(3))


def test_markdown_parses_back(tmp_path):
    df = _planted_table(tmp_path)
    lines = [ln for ln in lb.render(df, "md").splitlines() if ln.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header == ["variant", COL]
    got = {}
    for line in lines[2:]:
        row, value = (c.strip() for c in line.strip("|").split("|"))
        got[row] = _parse_cell(value)
    assert got == _expected(df)


def test_latex_parses_back(tmp_path):
    df = _planted_table(tmp_path)
    text = lb.render(df, "latex")
    assert r"\begin{tabular}" in text and "linear-probe/100\\%/auroc" in text
    body = text.split(r"\midrule")[1].split(r"\bottomrule")[0]
    got = {}
    for line in body.strip().splitlines():
        row, value = (c.strip() for c in line.rstrip("\\ ").split("&"))
        got[row] = _parse_cell(value)
    assert got == _expected(df)


def test_csv_parses_back_at_full_precision(tmp_path):
    df = _planted_table(tmp_path)
    back = pd.read_csv(io.StringIO(lb.render(df, "csv")), index_col=0)
    for row in df.index:
        for stat in lb.STATS:
            want, have = df.at[row, (COL, stat)], back.at[row, f"{COL} {stat}"]
            assert (math.isnan(want) and math.isnan(have)) or have == pytest.approx(want, rel=1e-12)


def test_html_escapes_names(tmp_path):
    plant(tmp_path, method="<b>plug</b>")
    html = lb.render(lb.build(tmp_path), "html")
    assert "&lt;b&gt;plug&lt;/b&gt;" in html and "<b>plug" not in html


def test_unreadable_files_are_named_and_skipped(tmp_path, capsys):
    plant(tmp_path, seed=0, auroc=0.8)
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "prior" / "typed.json").write_text(json.dumps(
        {"method": "prior", "task": "classification", "task_version": "1", "dataset": "chexpert",
         "metrics": {"auroc": "high"}, "schema_version": 1}))
    (tmp_path / "prior" / "partial.json").write_text(json.dumps({"method": "prior"}))
    (tmp_path / "_splits").mkdir()
    (tmp_path / "_splits" / "splits.json").write_text("[]")  # not a result folder: not read
    assert main(["leaderboard", "--results", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert "0.800 (n=1)" in out
    for name in ("broken.json", "typed.json", "partial.json"):
        assert name in err
    assert "'high'" in err and "missing field" in err and "splits.json" not in err


def test_task_filter_and_unknown_task(tmp_path, capsys):
    plant(tmp_path, seed=0)
    plant(tmp_path, seed=0, task="zero_shot", protocol="prompts-x")
    df = lb.build(tmp_path, tasks=["zero_shot"])
    assert [c for c in dict.fromkeys(df.columns.get_level_values(0))] == ["zero_shot/chexpert/prompts-x/100%/auroc"]
    assert main(["leaderboard", "--results", str(tmp_path), "--task", "segmentaton"]) == 2
    err = capsys.readouterr().err
    assert "segmentaton" in err and "classification, zero_shot" in err and "Traceback" not in err


def test_missing_results_folder_is_a_user_error(tmp_path, capsys):
    assert main(["leaderboard", "--results", str(tmp_path / "nope")]) == 2
    assert "no such folder" in capsys.readouterr().err

