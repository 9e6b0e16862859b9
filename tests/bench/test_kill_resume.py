"""``kill -9`` of ``bench pretrain`` at random points, then ``--resume``: the final weights equal an
uninterrupted run's bit for bit (CPU, ConVIRT at the tiny preset: frozen MiniLM with its cache).

The run is killed several times: at seeded random steps and, when the poll catches one, while a
checkpoint is being written (its ``.last.pt.tmp-PID`` exists). Each resume starts from ``last.pt``.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from bench.checkpoint import read_checkpoint
from bench.data.synth.generate import generate
from bench.train_utils import read_log

REPO = Path(__file__).resolve().parents[2]
STEPS = 16
SETS = ["model.image_size=32", "train.batch_size=4", "train.device=cpu", "train.log_every=1", "train.threads=1",
        "train.ckpt_every=3"]


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


def _run_and_kill(cmd: list[str], out: Path, at_step: int | None, during_write: bool) -> str:
    """Start ``cmd``; SIGKILL it at ``at_step`` or while a checkpoint is being written. What happened."""
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while proc.poll() is None:
            writing = during_write and any(out.glob(f".last.pt.tmp-{proc.pid}"))
            if writing or (at_step is not None and _steps_logged(out) >= at_step):
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                return "killed during a checkpoint write" if writing else f"killed after step {_steps_logged(out)}"
            time.sleep(0.002)
    finally:
        if proc.poll() is None:
            proc.kill()
    _, err = proc.communicate()
    assert proc.returncode == 0, err.decode()[-2000:]
    return "finished"


@pytest.mark.slow
def test_kill_9_and_resume_is_bit_exact(tmp_path):
    data = tmp_path / "synth"
    generate(data, studies=24, size=64, datasets=("mimic-cxr",))
    done = subprocess.run(_command(data, tmp_path / "a"), env=_env(), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]

    out = tmp_path / "b"
    rng = random.Random(17)
    points = sorted(rng.sample(range(2, STEPS - 1), 3))
    events = [_run_and_kill(_command(data, out), out, points[0], during_write=True)]
    for step in points[1:]:
        events.append(_run_and_kill(_command(data, out, "--resume"), out, step, during_write=False))
    events.append(_run_and_kill(_command(data, out, "--resume"), out, None, during_write=False))
    print("kill points:", events)
    assert events[-1] == "finished" and sum(e.startswith("killed") for e in events) == 3

    a = read_checkpoint(tmp_path / "a" / "final.pt")["model"]
    b = read_checkpoint(out / "final.pt")["model"]
    assert a.keys() == b.keys()
    diff = max(float((a[k].double() - b[k].double()).abs().max()) if a[k].numel() else 0.0 for k in a)
    print("max |weight difference|:", diff)
    assert all(torch.equal(a[k], b[k]) for k in a), diff
    def losses(path: Path) -> list[tuple[int, dict]]:
        return [(r["step"], {k: v for k, v in r.items() if k.endswith("_loss")}) for r in read_log(path)]

    losses_a = losses(tmp_path / "a" / "log.jsonl")
    assert len(losses_a) == STEPS and all(terms for _, terms in losses_a)
    assert losses(out / "log.jsonl") == losses_a
