"""bench.perf.side_by_side: arguments, the error for a missing official checkout, the table and
JSON of planted timings; end to end at a tiny size where BENCH_PRIOR_OFFICIAL names a checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.perf import official_prior, side_by_side
from bench.perf.sbs_report import COLUMNS, markdown_table, summarise

REPO = Path(__file__).resolve().parents[2]
OFFICIAL = os.environ.get("BENCH_PRIOR_OFFICIAL")


def test_defaults_and_lists_parse():
    args = side_by_side.parse_args(["--official", "x"])
    assert (args.threads, args.steps, args.batch, args.image_size) == (2, 5, 8, 224)
    assert args.stages == ("stage1", "stage2", "stage3") and args.text == ("bert-base", "minilm")
    args = side_by_side.parse_args(["--official", "x", "--stages", "1,3", "--text", "minilm",
                                    "--project-set", "train.cpu_bf16=true", "train.channels_last=true"])
    assert args.stages == ("stage1", "stage3") and args.text == ("minilm",)
    assert args.project_set == ["train.cpu_bf16=true", "train.channels_last=true"]


@pytest.mark.parametrize("argv", [[], ["--official", "x", "--stages", "4"], ["--official", "x", "--text", "gpt"]])
def test_bad_arguments_exit_2(argv):
    with pytest.raises(SystemExit) as exc:
        side_by_side.parse_args(argv)
    assert exc.value.code == 2


def test_missing_checkout_is_a_clear_error(tmp_path, capsys):
    missing = tmp_path / "no-such-prior"
    assert side_by_side.main(["--official", str(missing)]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "no such folder" in err
    (tmp_path / "empty").mkdir()
    assert side_by_side.main(["--official", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "empty") in err and "codes/prior/models/prior.py" in err


def test_checkout_without_git_has_unknown_commit(tmp_path):
    assert official_prior.checkout_commit(tmp_path) == "unknown"


def _planted() -> list[dict]:
    side = lambda wall, cpu, rss: {"wall_s": wall, "cpu_s": cpu, "peak_rss_mib": rss,  # noqa: E731
                                   "warmup_terms": {"x_loss": 1.0}}
    return [
        {"text": "minilm", "stage": "stage1", "official": side([3.0, 1.0, 2.0], [4.0, 4.0, 8.0], 2048.4),
         "project": side([1.0, 0.5, 2.0], [2.0, 1.0, 2.0], 1024.0)},
        {"text": "bert-base", "stage": "stage3", "official": side([6.0], [12.0], None),
         "project": side([4.0], [6.0], None)},
    ]


def test_summary_takes_medians_and_official_over_project_ratios():
    rows = summarise(_planted())
    first, second = rows
    assert first["official"]["median_wall_s"] == 2.0 and first["project"]["median_wall_s"] == 1.0
    assert first["ratio_wall"] == 2.0 and first["ratio_cpu"] == 2.0
    assert second["ratio_wall"] == 1.5 and second["ratio_cpu"] == 2.0
    assert first["official"]["wall_s"] == [3.0, 1.0, 2.0]  # every step kept
    table = markdown_table(rows, steps=3)
    lines = table.splitlines()
    assert all(col in lines[0] for col in COLUMNS)
    assert "| minilm" in lines[2] and "2.000" in lines[2] and "1.000" in lines[2] and "2048 / 1024 MiB" in lines[2]
    assert "| bert-base" in lines[3] and "1.50" in lines[3] and "not measured" in lines[3]
    assert "medians over 3 timed steps" in table
    json.dumps(rows)  # the JSON report holds them as they are


@pytest.mark.slow
@pytest.mark.skipif(not OFFICIAL, reason="BENCH_PRIOR_OFFICIAL does not name an official PRIOR checkout")
def test_end_to_end_tiny(tmp_path):
    out = tmp_path / "sbs.json"
    cmd = [sys.executable, "-m", "bench.perf.side_by_side", "--official", OFFICIAL, "--image-size", "64",
           "--batch", "2", "--steps", "1", "--text", "minilm", "--stages", "1",
           "--tower-dir", str(tmp_path / "towers"), "--out", str(out)]
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| minilm" in done.stdout and "stage1" in done.stdout
    report = json.loads(out.read_text())
    assert {"torch", "threads", "cpu", "official_commit"} <= set(report["environment"])
    (row,) = report["rows"]
    for side in ("official", "project"):
        terms = row[side]["warmup_terms"]
        assert terms and all(isinstance(v, float) for v in terms.values())
        assert len(row[side]["wall_s"]) == 1 and row[side]["peak_rss_mib"] > 0
    assert {"global_loss", "local_image_loss", "local_text_loss"} <= set(row["project"]["warmup_terms"])
    assert "stage1_global_alignment_loss" in row["official"]["warmup_terms"]
