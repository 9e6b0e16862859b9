"""``bench rescore`` and ``bench compare`` on results written as the engine writes them."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import subprocess
import sys

import numpy as np
import pytest

from bench.cli import main
from bench.predictions import Predictions
from bench.results import Result, result_path, write_result
from bench.stats.audit import audit_entries, interval_of
from bench.stats.scorers import identity_metrics

SPLIT = "s" * 64


def _write(results_dir, method: str, noise: float, seed: int = 0, split_hash: str = SPLIT, n: int = 300,
           checkpoint: str = "final.pt", train_seed: int = 0):
    """A zero-shot RSNA result whose metrics are what its task's rescore gives its predictions."""
    from tasks import zero_shot

    t = np.random.default_rng(0).integers(0, 2, n)
    logits = t * 1.0 + np.random.default_rng(seed).normal(0, noise, n)
    p1 = (1 / (1 + np.exp(-logits))).astype(np.float32)
    probs = np.stack([1 - p1, p1], axis=1)
    pred = Predictions("zero_shot", "rsna", "binary", [f"img{i}" for i in range(n)],
                       {"scores": p1, "probs": probs, "targets": t}, split="subset",
                       meta={"classes": ["Normal", "Pneumonia"], "labels": ["normal", "pneumonia"], "threshold": 0.5})
    metrics = zero_shot.rescore(pred)
    result = Result(method, "zero_shot", "1", "rsna", metrics, protocol="prompts-gloria", checkpoint=checkpoint,
                    checkpoint_id="random" if checkpoint == "random" else f"sd-{method}{train_seed}",
                    config={"train": {"seed": train_seed}},
                    cell_key=hashlib.sha256(f"{checkpoint}-{train_seed}".encode()).hexdigest(), split_hashes={"subset": split_hash})
    path = result_path(result, results_dir)
    result.extra.update(audit_entries(pred, path, metrics, result.split_hashes, n_resamples=300))
    assert write_result(result, results_dir) == path
    return path


def test_a_written_result_names_its_predictions_and_intervals(tmp_path):
    path = _write(tmp_path, "prior", 1.0)
    data = json.loads(path.read_text())
    entry, ci = data["extra"]["predictions"], data["extra"]["ci"]
    assert (path.parent / entry["file"]).is_file() and len(entry["sha256"]) == 64
    assert entry["split_hash"] == SPLIT and entry["kind"] == "binary"
    assert set(ci["metrics"]) == set(data["metrics"]) == {"auroc", "accuracy", "f1"}
    assert ci["n_resamples"] == 300 and ci["seed"] == 0 and ci["level"] == 0.95
    for name, (low, high) in ci["metrics"].items():
        assert low <= data["metrics"][name] <= high, name
        assert interval_of(data["extra"], name) == (low, high)
    assert interval_of(data["extra"], "map") is None and interval_of({}, "auroc") is None


def test_rescore_passes_then_fails_on_a_changed_metric(tmp_path, capsys):
    path = _write(tmp_path, "prior", 1.0)
    assert main(["rescore", str(tmp_path)]) == 0
    assert "1 rescored, 0 mismatched" in capsys.readouterr().out
    data = json.loads(path.read_text())
    data["metrics"]["auroc"] += 1e-6
    path.write_text(json.dumps(data))
    assert main(["rescore", str(path)]) == 1
    out = capsys.readouterr().out
    assert "MISMATCH" in out and "auroc: stored" in out


def test_rescore_refuses_a_changed_predictions_file(tmp_path):
    path = _write(tmp_path, "prior", 1.0)
    npz = path.parent / json.loads(path.read_text())["extra"]["predictions"]["file"]
    raw = bytearray(npz.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    npz.write_bytes(bytes(raw))
    out = subprocess.run([sys.executable, "-m", "bench", "rescore", str(path)], capture_output=True, text=True)
    assert out.returncode == 2 and "sha256" in out.stderr and "Traceback" not in out.stderr


def test_rescore_without_predictions_is_exit_2(tmp_path):
    result = Result("prior", "zero_shot", "1", "rsna", {"auroc": 0.5})
    write_result(result, tmp_path)
    out = subprocess.run([sys.executable, "-m", "bench", "rescore", str(tmp_path)], capture_output=True, text=True)
    assert out.returncode == 2 and "skipped" in out.stdout and "no result with saved predictions" in out.stderr


def test_compare_prints_paired_rows_and_tiny_p_for_a_large_difference(tmp_path, capsys):
    _write(tmp_path / "a", "prior", 0.3, seed=1)
    _write(tmp_path / "b", "gloria", 3.0, seed=2)
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--format", "csv", "--resamples", "500"]) == 0
    rows = {r["metric"]: r for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert set(rows) == {"auroc", "accuracy", "f1"}
    auroc = rows["auroc"]
    assert float(auroc["A-B"]) > 0.2 and float(auroc["p"]) == pytest.approx(2 / 501, rel=0.01)
    assert float(auroc["p DeLong"]) < 1e-6 and auroc["DeLong Holm"] and rows["accuracy"]["p DeLong"] == ""


def test_compare_of_a_result_set_with_itself_gives_p_one(tmp_path, capsys):
    _write(tmp_path / "a", "prior", 1.0)
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert "| auroc" in out and "0.0000" in out and "1.000" in out


def test_compare_refuses_different_split_hashes_and_says_why(tmp_path):
    _write(tmp_path / "a", "prior", 1.0)
    _write(tmp_path / "b", "gloria", 1.0, split_hash="t" * 64)
    out = subprocess.run([sys.executable, "-m", "bench", "compare", str(tmp_path / "a"), str(tmp_path / "b")],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "split hashes differ" in out.stderr and "different samples" in out.stderr


def test_identity_metrics_of_saved_predictions_equal_the_stored_ones(tmp_path):
    from bench.predictions import load_for_result
    from bench.results import load_result

    path = _write(tmp_path, "prior", 1.0)
    result = load_result(path)
    pred = load_for_result(path, result.extra, result.split_hashes)
    fast = identity_metrics(pred)  # float64 here, float32 inside torchmetrics: equal to 1e-6
    assert all(fast[k] == pytest.approx(v, abs=1e-6) for k, v in result.metrics.items())


def test_ablation_table_gives_each_delta_its_paired_interval_and_p(tmp_path):
    from bench.ablation import render, table
    from bench.results import load_result

    paths = []
    for drop, noise in (((), 0.3), (("prototype_bank",), 3.0)):
        path = _write(tmp_path, "prior", noise, seed=len(drop))
        data = json.loads(path.read_text())
        data.update(ablation=list(drop), checkpoint="ckpt.pt", task="zero_shot")
        moved = path.with_name(("abl_" if drop else "full_") + path.name)
        moved.write_text(json.dumps(data))
        (path.parent / data["extra"]["predictions"]["file"]).rename(path.parent / f"{moved.stem}.predictions.npz")
        data["extra"]["predictions"]["file"] = f"{moved.stem}.predictions.npz"
        moved.write_text(json.dumps(data))
        path.unlink()
        paths.append(moved)
    results = [load_result(p) for p in paths]
    wanted = [(), ("prototype_bank",)]
    df = table(results, "prior", wanted, paths=paths)
    (row,) = list(df.itertuples())
    d = row.paired
    assert d.difference == pytest.approx(row.delta[0]) and d.high < 0 and d.p_value < 0.01 and row.p_holm == d.p_value
    text = render(df)
    assert "delta 95% CI (paired bootstrap)" in text and f"[{d.low:+.3f}, {d.high:+.3f}]" in text
    assert "paired" not in table(results, "prior", wanted).columns  # without paths: the table as before


def test_compare_takes_one_init_per_side_and_pairs_pretraining_seeds(tmp_path, capsys):
    """``bench run`` writes a method's random-init rows beside its pretrained ones, one per
    pretraining seed: by default each side takes its pretrained results, paired seed by seed;
    ``--b-init random`` compares a method with its own random init."""
    for train_seed in (0, 1):
        _write(tmp_path / "prior", "prior", 0.3, seed=1 + train_seed, train_seed=train_seed)
        _write(tmp_path / "prior", "prior", 3.0, seed=5 + train_seed, checkpoint="random", train_seed=train_seed)
        _write(tmp_path / "gloria", "gloria", 0.3, seed=1 + train_seed, train_seed=train_seed)
    assert main(["compare", str(tmp_path / "prior"), str(tmp_path / "gloria"), "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert sorted({r["pretrain seed"] for r in rows}) == ["0", "1"] and len(rows) == 6
    assert all(float(r["A-B"]) == 0.0 for r in rows)  # the same noise seeds on both sides
    assert main(["compare", str(tmp_path / "prior"), str(tmp_path / "prior"), "--b-init", "random",
                 "--format", "csv"]) == 0
    rows = [r for r in csv.DictReader(io.StringIO(capsys.readouterr().out)) if r["metric"] == "auroc"]
    assert len(rows) == 2 and all(float(r["A-B"]) > 0.2 for r in rows)
    out = subprocess.run([sys.executable, "-m", "bench", "compare", str(tmp_path / "gloria"), str(tmp_path / "prior"),
                          "--a-init", "random"], capture_output=True, text=True)
    assert out.returncode == 2 and "none of its 2 result(s) is random" in out.stderr
    assert "--a-init pretrained" in out.stderr and "Traceback" not in out.stderr
