"""`bench run` and `bench ablate` end to end on a small SynthCXR with a short schedule."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import failing_task

from bench.cli import main
from bench.data.synth import generate
from bench.registry import TASKS
from bench.results import iter_results, variant_name

REPO = Path(__file__).resolve().parents[2]
SETS = ["model.image_size=32", "train.max_steps=2", "train.batch_size=8", "train.threads=1", "train.num_workers=0",
        "eval.subset_per_class=6", "eval.probe_epochs=20", "eval.cache_dir=none"]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    generate(out, studies=80, size=64, seed=3, datasets=("mimic-cxr", "chexpert"))
    return out


def _argv(command, data, results, *extra, method="convirt"):
    head = [command, "--method", method] if method else [command]
    return [*head, "--data", str(data), "--preset", "tiny", "--results", str(results), "--dataset", "chexpert",
            "--fraction", "1.0", "--eval-seeds", "0", *extra, "--set", *SETS]


def _results(folder):
    return {r.cell_key: r for _, r in iter_results(folder)}


def test_run_writes_every_planned_cell_then_skips_them(data, tmp_path, capsys):
    argv = _argv("run", data, tmp_path, "--task", "classification", "zero_shot")
    assert main(argv) == 0
    out = capsys.readouterr().out
    first = _results(tmp_path)
    # 2 tasks x (pretrained, random init) on chexpert at 100 %, seed 0
    assert len(first) == 4
    assert {(r.task, r.checkpoint == "random") for r in first.values()} == {
        ("classification", False), ("classification", True), ("zero_shot", False), ("zero_shot", True)}
    assert "4 done, 0 skipped" in out and "convirt (random init)" in out
    r = next(r for r in first.values() if r.checkpoint != "random")
    assert r.checkpoint_id.startswith("sd-") and r.data_source["kind"] == "synthcxr" and r.preset == "tiny"
    assert len(list((tmp_path / "_pretrain").glob("convirt_seed0_*/final.pt"))) == 1

    mtimes = {p: p.stat().st_mtime_ns for p, _ in iter_results(tmp_path)}
    assert main(argv) == 0
    assert "0 done, 4 skipped" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p, _ in iter_results(tmp_path)} == mtimes

    # another --set of an evaluation setting: new cells (new keys), the pretraining reused
    assert main([*argv, "eval.probe_epochs=21"]) == 0
    assert "4 done, 0 skipped" in capsys.readouterr().out
    after = _results(tmp_path)
    assert len(after) == 8 and set(first) < set(after)
    assert len(list((tmp_path / "_pretrain").iterdir())) == 1


@pytest.fixture
def exploding_task():
    module = failing_task("exploding", RuntimeError("planted failure"))
    with TASKS.temporarily("exploding", module):
        yield module


def test_a_failing_cell_is_recorded_and_the_others_finish(data, tmp_path, capsys, exploding_task):
    code = main(_argv("run", data, tmp_path, "--task", "classification", "exploding", "--no-random"))
    assert code == 1
    out = capsys.readouterr().out
    assert "1 done, 0 skipped (already there), 1 failed" in out and "planted failure" in out
    assert [r.task for r in _results(tmp_path).values()] == ["classification"]
    (record,) = [json.loads(p.read_text()) for p in (tmp_path / "_failed").glob("*.json")]
    assert "RuntimeError: planted failure" in record["traceback"] and record["identity"]["task"] == "exploding"


def _subprocess_argv(data, results):
    return [sys.executable, "-m", "bench", *_argv("run", data, results, "--task", "classification", "zero_shot")]


def test_kill_9_mid_run_then_rerun_matches_an_uninterrupted_run(data, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    whole = tmp_path / "whole"
    subprocess.run(_subprocess_argv(data, whole), check=True, env=env, capture_output=True, cwd=REPO)
    killed = tmp_path / "killed"
    proc = subprocess.Popen(_subprocess_argv(data, killed), env=env, cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and not list(killed.glob("convirt/*/*/*.json")):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = _results(killed)
    assert 1 <= len(partial) < 4, "the kill should land between the first and the last cell"
    before = {p: p.stat().st_mtime_ns for p, _ in iter_results(killed)}
    subprocess.run(_subprocess_argv(data, killed), check=True, env=env, capture_output=True, cwd=REPO)
    assert {p: p.stat().st_mtime_ns for p, _ in iter_results(killed) if p in before} == before  # untouched
    resumed, reference = _results(killed), _results(whole)
    assert set(resumed) == set(reference)
    for key, r in reference.items():
        assert resumed[key].metrics == pytest.approx(r.metrics, abs=1e-9)


def test_ablate_pretrains_each_variant_and_its_deltas_are_the_stored_differences(data, tmp_path, capsys):
    argv = [*_argv("ablate", data, tmp_path, "--task", "classification", "--drop", "prototype_bank", method="prior"),
            "train.max_steps=3"]  # PRIOR's three stages need a step each
    assert main(argv) == 0
    out = capsys.readouterr().out
    pretrained = sorted(p.name.split("_seed")[0] for p in (tmp_path / "_pretrain").iterdir())
    assert pretrained == ["prior", "prior-no-prototype_bank"]
    stored = {variant_name(r.method, r.ablation): r.metrics["auroc"] for r in _results(tmp_path).values()}
    delta = stored["prior-no-prototype_bank"] - stored["prior"]
    row = next(line for line in out.splitlines() if "prior-no-prototype_bank" in line and "auroc" in line)
    assert f"{delta:+.3f}" in row and f"{stored['prior']:.3f}" in row


def test_ablate_unknown_component_is_one_line_naming_the_valid_ones(tmp_path, capsys):
    assert main(["ablate", "--drop", "prototype_bnk", "--results", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "did you mean prototype_bank?" in err and "local_alignment" in err and len(err.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("argv, expected", [
    (["run", "--method", "prir", "--task", "all"], "prior"),
    (["run", "--method", "prior", "--task", "clasification"], "classification"),
    (["run", "--method", "prior", "--dataset", "chexpret"], "chexpert"),
    (["run", "--method", "prior", "--fraction", "1.5"], "(0, 1]"),
    (["run", "--method", "prior", "--task", "zero_shot", "--fraction", "0.1"], "zero_shot runs at 1"),
])
def test_bad_names_and_ranges_fail_fast_with_exit_2(argv, expected, tmp_path, capsys):
    start = time.perf_counter()
    assert main([*argv, "--results", str(tmp_path)]) == 2
    assert expected in capsys.readouterr().err
    assert time.perf_counter() - start < 60  # no model was built, no data generated (minutes otherwise)


def test_unwritable_results_folder_is_a_clear_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["run", "--method", "convirt", "--task", "classification", "--results", str(blocker)]) == 2
    assert "is not a folder" in capsys.readouterr().err


PLUGIN = '''
import torch
from methods.convirt import ConVIRT

NAME, VERSION, DATASETS, FRACTIONS = "mean_norm", "1", ("chexpert",), (1.0,)
METRICS = {"mean_norm": True}


class PlugConvirt(ConVIRT):
    name = "plugconvirt"


def evaluate(method, data, cfg):
    size = cfg.model.image_size
    images = torch.ones(len(data.splits["test"][:4]), 1, size, size)
    with torch.no_grad():
        return {"mean_norm": float(method.encode_image(images).global_.norm(dim=1).mean())}
'''


def test_a_plugin_package_outside_the_repository_adds_a_method_and_a_task(data, tmp_path):
    site = tmp_path / "site"
    (site / "benchplug").mkdir(parents=True)
    (site / "benchplug" / "__init__.py").write_text(PLUGIN)
    info = site / "benchplug-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: benchplug\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[bench.methods]\nplugconvirt = benchplug:PlugConvirt\n\n[bench.tasks]\nmean_norm = benchplug\n")
    env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{REPO}"}
    listed = subprocess.run([sys.executable, "-m", "bench", "ls", "tasks"], env=env, capture_output=True, text=True)
    assert "mean_norm" in listed.stdout
    argv = [sys.executable, "-m", "bench", *_argv("run", data, tmp_path / "r", "--task", "mean_norm", "--no-random",
                                                 method="plugconvirt")]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    (r,) = _results(tmp_path / "r").values()
    assert (r.method, r.task) == ("plugconvirt", "mean_norm") and r.metrics["mean_norm"] > 0
