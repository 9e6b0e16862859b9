"""Clear errors instead of tracebacks (bad checkpoints, output folders, encoder names) and the
clean-up of temporary files left by killed processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from support.pickles import code_carrying
from support.train_dummy import DummyMethod, make_cfg, make_table

from bench.checkpoint import read_checkpoint
from bench.data.base import DataFormatError
from bench.data.pretrain import PretrainDataset
from bench.errors import USER_ERRORS, UserError
from bench.featurecache import FeatureCache
from bench.stale import remove_stale, writer_pid
from bench.train import Trainer
from bench.train_utils import writable_dir


def dead_pid() -> int:
    """The id of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    return make_table(tmp_path_factory.mktemp("pairs"), studies=16)


# -- checkpoints that are not checkpoints -------------------------------------------------------
@pytest.mark.parametrize("content", [b"", b"not a zip at all", b"PK\x03\x04 truncated zip"])
def test_a_non_checkpoint_file_is_a_user_error(tmp_path, content):
    path = tmp_path / "c.pt"
    path.write_bytes(content)
    with pytest.raises(DataFormatError, match="not a readable checkpoint") as info:
        read_checkpoint(path)
    assert isinstance(info.value, USER_ERRORS) and "\n" not in str(info.value)


def test_a_code_carrying_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "ran"  # every loading path: tests/bench/test_planted_pickles.py
    with pytest.raises(DataFormatError, match=r"not a readable checkpoint \(it holds pickled code"):
        read_checkpoint(code_carrying(tmp_path / "evil.pt", marker))
    assert not marker.exists()


@pytest.mark.slow  # imports the method's whole stack (tens of seconds on a loaded machine)
def test_cli_evaluate_with_a_bad_checkpoint_exits_2(tmp_path, capsys):
    from bench.cli import main

    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage")
    assert main(["evaluate", "--method", "convirt", "--checkpoint", str(bad), "--task", "classification"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "not a readable checkpoint" in err and len(err.strip().splitlines()) == 1


def test_resume_from_a_damaged_last_pt_is_a_user_error(table, tmp_path):
    (tmp_path / "last.pt").write_bytes(b"\x00" * 64)
    cfg = make_cfg()
    trainer = Trainer(DummyMethod.from_config(cfg), PretrainDataset(table, cfg), cfg, tmp_path)
    with pytest.raises(DataFormatError, match="last.pt: not a readable checkpoint"):
        trainer.run(resume=True)


# -- output folders -----------------------------------------------------------------------------
def test_an_output_folder_that_is_a_file_or_below_one_is_a_user_error(table, tmp_path):
    (tmp_path / "file").write_text("x")
    for out in (tmp_path / "file", tmp_path / "file" / "run"):
        with pytest.raises(UserError, match=str(out)):
            writable_dir(out)
    cfg = make_cfg()
    trainer = Trainer(DummyMethod.from_config(cfg), PretrainDataset(table, cfg), cfg, tmp_path / "file")
    with pytest.raises(UserError, match="is not a folder"):
        trainer.run()


def test_split_files_under_a_file_are_a_user_error(tmp_path):
    from bench.data.splits import write_splits

    (tmp_path / "results").write_text("x")
    with pytest.raises(UserError, match="cannot write the split files"):
        write_splits({"train": ["a"]}, tmp_path / "results" / "_splits")


# -- names that are not known -------------------------------------------------------------------
def test_unknown_encoder_and_option_names_are_user_errors():
    from bench.data.chexpert import apply_uncertainty, read
    from bench.data.dicom import to_display
    from methods.resnet import build_resnet
    from methods.text import build_text_encoder

    for call in (lambda: build_resnet("resnet7"), lambda: build_text_encoder("no-such/encoder-xyz"),
                 lambda: apply_uncertainty({}, "maybe"), lambda: read(Path("."), splits=("test",)),
                 lambda: to_display(None, "log")):
        with pytest.raises(USER_ERRORS):
            call()


# -- temporary files of killed processes --------------------------------------------------------
def test_writer_pid_reads_every_temporary_name():
    assert writer_pid(".last.pt.tmp-123") == 123 and writer_pid(".shard.77.abc_d.tmp") == 77
    assert writer_pid(".synth-s0-n10-128px.tmp-9") == 9 and writer_pid(".log.jsonl.tmp-5") == 5
    assert writer_pid("last.pt") is None and writer_pid(".shard.abc.tmp") is None and writer_pid("x.tmp-1") is None


def test_only_temporaries_of_gone_processes_are_removed(tmp_path):
    dead, live = dead_pid(), os.getppid()
    stale = [tmp_path / f".last.pt.tmp-{dead}", tmp_path / f".shard.{dead}.q1w2.tmp"]
    kept = [tmp_path / f".last.pt.tmp-{live}", tmp_path / ".shard.x1y2.tmp", tmp_path / "last.pt",
            tmp_path / f".log.jsonl.tmp-{os.getpid()}"]
    for path in stale + kept:
        path.write_bytes(b"x")
    (tmp_path / f".synth-s0.tmp-{dead}").mkdir()
    (tmp_path / f".synth-s0.tmp-{dead}" / "a.png").write_bytes(b"x")
    (tmp_path / f".synth-s1.tmp-{live}").mkdir()
    removed = remove_stale(tmp_path)
    assert sorted(removed) == sorted([*stale, tmp_path / f".synth-s0.tmp-{dead}"])
    assert all(p.exists() for p in kept) and (tmp_path / f".synth-s1.tmp-{live}").is_dir()


def test_trainer_and_feature_cache_clean_up_on_start(table, tmp_path):
    dead = dead_pid()
    out = tmp_path / "run"
    out.mkdir()
    (out / f".last.pt.tmp-{dead}").write_bytes(b"half a checkpoint")
    cfg = make_cfg()
    Trainer(DummyMethod.from_config(cfg), PretrainDataset(table, cfg), cfg, out).run()
    assert not list(out.glob(".*.tmp-*")) and (out / "final.pt").is_file()

    cache = FeatureCache(tmp_path / "cache")
    namespace = ("model", "chexpert", "backbone", 24)
    cache.get(namespace, ["a"], lambda keys: {"f": torch.zeros(len(keys), 2)})
    folder = cache.folder(namespace)
    (folder / f".shard.{dead}.zz.tmp").write_bytes(b"x")
    fresh = FeatureCache(tmp_path / "cache")
    assert fresh.get(namespace, ["a"], lambda keys: pytest.fail("cached"))["f"].shape == (1, 2)
    assert not list(folder.glob(".shard.*.tmp"))


def test_embedded_default_start_removes_killed_generations(tmp_path, monkeypatch):
    from bench.config import resolve
    from bench.data import resolve as data_resolve
    from bench.data.synth import cache as synth_cache

    dead = dead_pid()
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path))
    leftover = synth_cache.cache_root() / f".synth-killed.tmp-{dead}"
    leftover.mkdir(parents=True)
    (leftover / "image.png").write_bytes(b"x" * 1000)
    monkeypatch.setattr(synth_cache, "default_data_dir", lambda **kw: tmp_path / "made")
    assert data_resolve.data_dir(None, resolve("tiny")) == tmp_path / "made"
    assert not leftover.exists()
