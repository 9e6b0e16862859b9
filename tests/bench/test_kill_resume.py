"""``kill -9`` of a pretraining at random points, then a restart: the final weights equal an
uninterrupted run's bit for bit (CPU, ConVIRT at the tiny preset: frozen MiniLM with its cache).

Two ways in: ``bench pretrain`` then ``--resume``, and ``bench run``, which pretrains under
``RESULTS/_pretrain/<variant>_seed<S>_<key>/`` and resumes from its ``last.pt`` when the same
command is given again. The runs are killed at seeded random steps and, when the poll catches one,
while a checkpoint is being written (bench.fileio's temporary ``.last.pt.<PID>-<hex>.tmp`` exists).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import torch

from bench.checkpoint import read_checkpoint
from bench.data.synth.generate import generate
from bench.results import iter_results
from bench.train_utils import read_log

REPO = Path(__file__).resolve().parents[2]
STEPS = 16
CKPT_EVERY = 3
SETS = ["model.image_size=32", "train.batch_size=4", "train.device=cpu", "train.log_every=1", "train.threads=1",
        f"train.ckpt_every={CKPT_EVERY}"]


def _command(data: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "bench", "pretrain", "--method", "convirt", "--preset", "tiny", "--data",
            str(data), "--out", str(out), "--steps", str(STEPS), *extra, "--set", *SETS]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
            "OMP_NUM_THREADS": "1"}


def _steps_logged(out: Path) -> int:
    try:
        return len([r for r in read_log(out / "log.jsonl") if "step" in r])
    except (OSError, ValueError):
        return 0


def _writing(out: Path, pid: int) -> bool:
    """Process ``pid`` is writing a checkpoint into ``out`` (its atomic temporary exists)."""
    return any(out.glob(f".last.pt.{pid}-*.tmp"))


def _run_and_kill(cmd: list[str], out: Path, at_step: int | None, during_write: bool) -> tuple[str, str]:
    """Start ``cmd`` (a pretraining into ``out``); SIGKILL it once ``at_step`` steps are logged or,
    with ``during_write``, while a checkpoint is being written after one exists. (What happened, its stderr.)"""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=err)
        try:
            while proc.poll() is None:
                writing = during_write and (out / "last.pt").is_file() and _writing(out, proc.pid)
                if writing or (at_step is not None and _steps_logged(out) >= at_step):
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    where = " during the checkpoint write" if writing else ""
                    return f"killed{where} after step {_steps_logged(out)}", _text(err)
                time.sleep(0.002)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 0, _text(err)[-3000:]
        return "finished", _text(err)


def _text(fh) -> str:
    fh.seek(0)
    return fh.read().decode(errors="replace")


def _max_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    """max |a - b| over every tensor of two state dicts with the same keys."""
    assert a.keys() == b.keys()
    return max(float((a[k].double() - b[k].double()).abs().max()) if a[k].numel() else 0.0 for k in a)


@pytest.mark.slow
def test_kill_9_and_resume_is_bit_exact(tmp_path):
    data = tmp_path / "synth"
    generate(data, studies=24, size=64, datasets=("mimic-cxr",))
    done = subprocess.run(_command(data, tmp_path / "a"), env=_env(), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]

    out = tmp_path / "b"
    rng = random.Random(17)
    points = sorted(rng.sample(range(2, STEPS - 1), 3))
    events = [_run_and_kill(_command(data, out), out, points[0], during_write=True)[0]]
    for step in points[1:]:
        events.append(_run_and_kill(_command(data, out, "--resume"), out, step, during_write=False)[0])
    events.append(_run_and_kill(_command(data, out, "--resume"), out, None, during_write=False)[0])
    print("kill points:", events)
    assert events[-1] == "finished" and sum(e.startswith("killed") for e in events) == 3

    a = read_checkpoint(tmp_path / "a" / "final.pt")["model"]
    b = read_checkpoint(out / "final.pt")["model"]
    diff = _max_diff(a, b)
    print("max |weight difference|:", diff)
    assert all(torch.equal(a[k], b[k]) for k in a), diff
    def losses(path: Path) -> list[tuple[int, dict]]:
        return [(r["step"], {k: v for k, v in r.items() if k.endswith("_loss")}) for r in read_log(path)]

    losses_a = losses(tmp_path / "a" / "log.jsonl")
    assert len(losses_a) == STEPS and all(terms for _, terms in losses_a)
    assert losses(out / "log.jsonl") == losses_a


# -- inside `bench run`: the pretraining of a matrix -------------------------------------------------
RUN_SETS = [*SETS, f"train.max_steps={STEPS}", "train.num_workers=0", "eval.subset_per_class=6", "eval.cache_dir=none"]


def _run_command(data: Path, results: Path) -> list[str]:
    return [sys.executable, "-m", "bench", "run", "--method", "convirt", "--task", "zero_shot", "--preset", "tiny",
            "--data", str(data), "--results", str(results), "--dataset", "chexpert", "--eval-seeds", "0",
            "--no-random", "--set", *RUN_SETS]


def _cells(results: Path) -> dict[Path, tuple[int, bytes]]:
    """Every result file of ``results``: (mtime, bytes)."""
    return {p: (p.stat().st_mtime_ns, p.read_bytes()) for p, _ in iter_results(results)}


@pytest.mark.slow
def test_kill_9_during_the_pretraining_of_bench_run_resumes_bit_exact(tmp_path):
    from bench.pretraining import Pretraining, pretrain_config, pretrain_dir

    data = tmp_path / "synth"
    generate(data, studies=24, size=64, datasets=("mimic-cxr", "chexpert"))
    whole = tmp_path / "whole"
    done = subprocess.run(_run_command(data, whole), env=_env(), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]

    results = tmp_path / "killed"
    out = pretrain_dir(Pretraining("convirt", (), pretrain_config("convirt", "tiny", tuple(RUN_SETS)), str(data)),
                       results)
    rng = random.Random(23)
    events, resumed_at = [], []
    # 1: during a checkpoint write once last.pt exists (at step 9 if the poll never catches one);
    # 2: at a seeded random step past what run 1 logged; 3: to the end. Each time the same command.
    for run in range(3):
        at_step = {0: STEPS // 2 + 1, 1: rng.randrange(_steps_logged(out) + 1, STEPS), 2: None}[run]
        before = read_checkpoint(out / "last.pt")["step"] if (out / "last.pt").is_file() else None
        event, err = _run_and_kill(_run_command(data, results), out, at_step, during_write=run == 0)
        events.append(event)
        if before is not None:  # the same command continued the pretraining from last.pt
            assert f"resumed from {out / 'last.pt'} at step {before}/{STEPS}" in err, err[-3000:]
            resumed_at.append(before)
    print("kill points:", events, "resumed at steps:", resumed_at)
    assert events[0].startswith("killed") and events[1].startswith("killed after") and events[2] == "finished"
    assert len(resumed_at) == 2 and not list(out.glob(".*.tmp"))  # the killed writer's temporary was removed

    a = read_checkpoint(next((whole / "_pretrain").glob("convirt_seed0_*")) / "final.pt")["model"]
    b = read_checkpoint(out / "final.pt")["model"]
    diff = _max_diff(a, b)
    print("max |weight difference|:", diff)
    assert diff == 0.0 and all(torch.equal(a[k], b[k]) for k in a)
    reference = {p.relative_to(whole): r.metrics for p, r in iter_results(whole)}
    assert len(reference) == 1 and {p.relative_to(results): r.metrics for p, r in iter_results(results)} == reference
    cells = _cells(results)

    final = (out / "final.pt").stat().st_mtime_ns
    again = subprocess.run(_run_command(data, results), env=_env(), capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "0 done, 1 skipped" in again.stdout and "reused" in again.stderr
    assert _cells(results) == cells and (out / "final.pt").stat().st_mtime_ns == final
