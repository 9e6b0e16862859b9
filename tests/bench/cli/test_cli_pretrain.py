from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.checkpoint import load_checkpoint, read_checkpoint
from bench.cli import main
from bench.cli.pretrain import default_out
from bench.data.synth.generate import generate
from bench.train_utils import read_log

pytestmark = pytest.mark.usefixtures("dummy_registered")  # `bench pretrain --method dummy`
SMALL = ["model.image_size=32", "train.batch_size=4", "train.device=cpu", "train.log_every=1", "train.threads=1"]


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    generate(out, studies=24, size=64, datasets=("mimic-cxr",))
    return out


def test_unknown_method_exits_2_with_the_registry_message():
    out = subprocess.run([sys.executable, "-m", "bench", "pretrain", "--method", "priorr"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "Did you mean 'prior'" in out.stderr and "Traceback" not in out.stderr


def test_bad_drop_exits_2_naming_valid_components(capsys):
    assert main(["pretrain", "--method", "dummy", "--drop", "decoder"]) == 2
    err = capsys.readouterr().err
    assert "--drop decoder" in err and "valid: extra_head" in err


def test_bad_steps_and_bad_set_exit_2(capsys):
    assert main(["pretrain", "--method", "dummy", "--steps", "0"]) == 2
    assert main(["pretrain", "--method", "dummy", "--set", "train.nope=1"]) == 2
    assert "train.nope" in capsys.readouterr().err


def test_default_out_names_the_ablation():
    assert default_out("prior", ()) == Path("runs/pretrain/prior")
    assert default_out("prior", ("prototype_bank", "local_alignment")) == Path(
        "runs/pretrain/prior-no-local_alignment-no-prototype_bank"
    )


def test_pretrain_writes_and_prints_the_final_checkpoint(synth, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["pretrain", "--method", "dummy", "--preset", "tiny", "--data", str(synth), "--out", str(out),
            "--steps", "3", "--drop", "extra_head", "--set", *SMALL]
    assert main(args) == 0
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    assert Path(printed) == out / "final.pt"
    method, cfg = load_checkpoint(printed)
    assert method.drop == ("extra_head",) and cfg.train.max_steps == 3 and cfg.model.image_size == 32
    assert [r["step"] for r in read_log(out / "log.jsonl")] == [1, 2, 3]
    assert main(args) == 2  # the folder holds a run: --resume or another --out
    assert "--resume" in capsys.readouterr().err
    assert main([*args, "--resume"]) == 0  # complete already: nothing to do
    assert read_checkpoint(out / "last.pt")["step"] == 3


def test_non_finite_loss_exits_1_keeping_checkpoints(synth, tmp_path, capsys):
    out = tmp_path / "nan"
    code = main(["pretrain", "--method", "dummy", "--preset", "tiny", "--data", str(synth), "--out", str(out),
                 "--steps", "4", "--set", *SMALL, "train.ckpt_every=2", "method.nan_at_call=4"])
    assert code == 1
    assert "non-finite loss at step 4" in capsys.readouterr().err
    assert read_checkpoint(out / "last.pt")["step"] == 2
