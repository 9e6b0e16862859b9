from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap

import pytest
import torch
from support import subprocess_env
from support.train_dummy import DummyMethod, make_cfg, make_table

from bench.checkpoint import build_method, load_checkpoint, read_checkpoint
from bench.data.pretrain import PretrainDataset
from bench.errors import UserError
from bench.train import NonFiniteLossError, Trainer
from bench.train_utils import read_log

pytestmark = pytest.mark.usefixtures("dummy_registered")  # load_checkpoint finds "dummy" by name


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    return make_table(tmp_path_factory.mktemp("pairs"), studies=16)


def _train(table, out, resume=False, **overrides):
    cfg = make_cfg(**overrides)
    torch.manual_seed(0)
    method = DummyMethod.from_config(cfg)
    trainer = Trainer(method, PretrainDataset(table, cfg), cfg, out)
    return trainer, trainer.run(resume=resume)


@pytest.mark.parametrize("interrupt_call", [13, 9], ids=["mid-stage", "at-stage-start"])
def test_resume_after_interruption_equals_uninterrupted_run(table, tmp_path, interrupt_call):
    common = {"method.n_stages": 2, "train.grad_accum": 2}
    _, final_a = _train(table, tmp_path / "a", **common)
    with pytest.raises(KeyboardInterrupt):
        _train(table, tmp_path / "b", **common, **{"method.raise_at_call": interrupt_call})
    stopped = read_checkpoint(tmp_path / "b" / "last.pt")["step"]
    assert stopped == (6 if interrupt_call == 13 else 4)
    _, final_b = _train(table, tmp_path / "b", resume=True, **common)
    a, b = read_checkpoint(final_a)["model"], read_checkpoint(final_b)["model"]
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    log_a, log_b = read_log(tmp_path / "a" / "log.jsonl"), read_log(tmp_path / "b" / "log.jsonl")
    assert [r["step"] for r in log_b] == list(range(1, 9))
    assert [r["contrastive_loss"] for r in log_a] == [r["contrastive_loss"] for r in log_b]


def test_training_changes_weights_and_logs_every_term(table, tmp_path):
    cfg = make_cfg()
    torch.manual_seed(0)
    method = DummyMethod.from_config(cfg)
    before = {k: v.clone() for k, v in method.state_dict().items()}
    final = Trainer(method, PretrainDataset(table, cfg), cfg, tmp_path).run()
    after = read_checkpoint(final)["model"]
    assert not torch.equal(before["image.0.weight"], after["image.0.weight"])
    assert torch.equal(before["extra.weight"], after["extra.weight"])  # frozen by set_stage("main")
    records = read_log(tmp_path / "log.jsonl")
    assert len(records) == 8
    for key in ("step", "epoch", "stage", "lr", "loss", "contrastive_loss", "scale", "images_per_s", "wall_s"):
        assert key in records[-1], key
    assert records[-1]["global_batch"] == 4 and records[-1]["world_size"] == 1
    assert (tmp_path / "config.yaml").is_file()


def test_stage_switch_recreates_optimizer_and_calls_set_stage(table, tmp_path):
    trainer, _ = _train(table, tmp_path, **{"method.n_stages": 2})
    assert trainer.method.stage_calls == ["a", "b"]
    start_b = read_checkpoint(tmp_path / "b_start.pt")
    assert start_b["step"] == 4 and start_b["stage_name"] == "b"
    assert start_b["optimizer"]["state"] == {}  # a fresh AdamW
    trained = {id(p) for g in trainer.optimizer.param_groups for p in g["params"]}
    assert id(trainer.method.extra.weight) in trained
    records = read_log(tmp_path / "log.jsonl")
    assert [r["stage"] for r in records] == ["a"] * 4 + ["b"] * 4
    assert "extra_loss" in records[-1] and "extra_loss" not in records[0]
    # stage b: warmup 1 step from lr/20 to lr/2 (lr 1e-2), logged after each step
    assert records[0]["lr"] == pytest.approx(0.0) and records[1]["lr"] == pytest.approx(5e-3)  # stage a warmup
    assert records[4]["lr"] == pytest.approx(5e-4) and records[5]["lr"] == pytest.approx(5e-3)
    assert records[7]["lr"] == pytest.approx(5e-3 * 0.5 * (1 + math.cos(math.pi * 2 / 3)))


def test_non_finite_loss_stops_and_keeps_last_checkpoint(table, tmp_path):
    with pytest.raises(NonFiniteLossError, match="step 5") as info:
        _train(table, tmp_path, **{"method.nan_at_call": 5})
    assert "last.pt" in str(info.value)
    assert read_checkpoint(tmp_path / "last.pt")["step"] == 3
    assert not (tmp_path / "final.pt").exists()


def test_refuses_to_overwrite_a_run_without_resume(table, tmp_path):
    _train(table, tmp_path, **{"train.max_steps": 2})
    with pytest.raises(UserError, match="--resume"):
        _train(table, tmp_path, **{"train.max_steps": 2})
    trainer, final = _train(table, tmp_path, resume=True, **{"train.max_steps": 2})  # complete: no-op
    assert trainer.step == 2 and final.is_file()


def test_load_checkpoint_rebuilds_method_and_config(table, tmp_path):
    cfg = make_cfg(**{"train.max_steps": 2, "method.dim": 12})
    torch.manual_seed(0)
    method = DummyMethod.from_config(cfg, drop=("extra_head",))
    final = Trainer(method, PretrainDataset(table, cfg), cfg, tmp_path).run()
    loaded, loaded_cfg = load_checkpoint(final)
    assert isinstance(loaded, DummyMethod) and loaded.drop == ("extra_head",) and not loaded.training
    assert loaded_cfg.to_dict() == cfg.to_dict()
    for key, value in method.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)
    random = build_method("dummy", loaded_cfg, ("extra_head",))
    assert random.text.weight.shape == (101, 12)
    assert not torch.equal(random.text.weight, loaded.text.weight)


DDP_SCRIPT = """
import torch
from support.train_dummy import DummyMethod, make_cfg, make_table
from pathlib import Path
from bench import dist
from bench.data.pretrain import PretrainDataset
from bench.train import Trainer
out = Path({out!r})
table = make_table(out / "data", studies=20)
cfg = make_cfg(**{{"method.n_stages": 2, "train.sync_bn": True, "train.grad_accum": 2}})
torch.manual_seed(0)
method = DummyMethod.from_config(cfg)
final = Trainer(method, PretrainDataset(table, cfg), cfg, out / "run").run()
torch.save(method.state_dict(), out / f"rank{{dist.get_rank()}}.pt")
dist.cleanup()
"""


@pytest.mark.slow
def test_two_process_gloo_run_completes_and_rank0_writes(tmp_path):
    script = tmp_path / "ddp.py"
    script.write_text(textwrap.dedent(DDP_SCRIPT.format(out=str(tmp_path))))
    env = {**subprocess_env(dict(os.environ)), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(script)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # its own process group: a hang kills the ranks too
    try:
        _, stderr = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, stderr = proc.communicate()
        pytest.fail(f"the 2-rank run hung: {stderr[-4000:]}")
    assert proc.returncode == 0, stderr[-4000:]
    final = read_checkpoint(tmp_path / "run" / "final.pt")
    assert final["world_size"] == 2 and final["global_batch"] == 16
    records = read_log(tmp_path / "run" / "log.jsonl")
    assert [r["step"] for r in records] == list(range(1, 9)) and records[-1]["world_size"] == 2
    r0, r1 = torch.load(tmp_path / "rank0.pt"), torch.load(tmp_path / "rank1.pt")
    params = [k for k in r0 if "running_" not in k and "num_batches" not in k]  # BN stats stay per rank on CPU
    for key in params:
        assert torch.equal(r0[key], r1[key]), key  # DDP kept the replicas identical
    assert torch.equal(final["model"]["image.0.weight"], r0["image.0.weight"])


def test_unreadable_image_in_a_worker_is_a_data_format_error(table, tmp_path):
    from bench.data.base import DataFormatError, Record

    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    records = [*table.records, Record(key="bad", image=broken, sentences=("a.", "b."), study="sbad")]
    cfg = make_cfg(**{"train.num_workers": 1, "train.batch_size": 15})  # one batch holds every study
    method = DummyMethod.from_config(cfg)
    with pytest.raises(DataFormatError, match=r"broken\.jpg: cannot decode image"):
        Trainer(method, PretrainDataset(records, cfg), cfg, tmp_path / "run").run()


def test_log_windows_end_at_stage_boundaries(table, tmp_path):
    _train(table, tmp_path, **{"method.n_stages": 2, "train.log_every": 3, "train.max_steps": 10})
    records = read_log(tmp_path / "log.jsonl")
    assert [(r["step"], r["stage"]) for r in records] == [(3, "a"), (5, "a"), (6, "b"), (9, "b"), (10, "b")]
    assert all("extra_loss" in r for r in records if r["stage"] == "b")
