"""bench.checkpoint: the payload every checkpoint holds, atomic writes, reading, rebuilding."""

from __future__ import annotations

from importlib.metadata import version

import pytest
import torch
from support.train_dummy import DummyMethod, make_cfg

from bench.checkpoint import (
    FORMAT,
    build_method,
    check_resumable,
    checkpoint_payload,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
)
from bench.errors import UserError

pytestmark = pytest.mark.usefixtures("dummy_registered")  # checkpoints name their method "dummy"


def test_payload_saved_and_read_back_with_format_and_versions(tmp_path):
    cfg = make_cfg(**{"method.dim": 12})
    method = DummyMethod.from_config(cfg, drop=("extra_head",))
    payload = checkpoint_payload(method, cfg, step=5, total_steps=8)
    assert payload["method"] == "dummy" and payload["drop"] == ["extra_head"] and payload["step"] == 5
    assert payload["config"] == cfg.to_dict() and payload["model"].keys() == method.state_dict().keys()
    ckpt = read_checkpoint(save_checkpoint(tmp_path / "c.pt", payload))
    assert ckpt["format"] == FORMAT and ckpt["total_steps"] == 8 and ckpt["created"] > 0
    assert {"python", "torch", "medvlp-bench"} <= set(ckpt["versions"])
    assert ckpt["versions"]["torch"] == version("torch") and ckpt["versions"]["numpy"] == version("numpy")
    loaded, loaded_cfg = load_checkpoint(tmp_path / "c.pt")
    assert isinstance(loaded, DummyMethod) and loaded.drop == ("extra_head",) and not loaded.training
    assert loaded_cfg.to_dict() == cfg.to_dict()
    assert all(torch.equal(v, method.state_dict()[k]) for k, v in loaded.state_dict().items())


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "last.pt", {"step": 1, "model": {"w": torch.ones(2)}})

    def broken_save(obj, fh, *args, **kwargs):
        fh.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"step": 2, "model": {"w": torch.zeros(2)}})
    assert read_checkpoint(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_load_checkpoint_rejects_foreign_files(tmp_path):
    torch.save({"state_dict": {"w": torch.ones(1)}}, tmp_path / "x.ckpt")
    with pytest.raises(ValueError, match="bench import"):
        load_checkpoint(tmp_path / "x.ckpt")
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.pt")


def test_weights_that_do_not_fit_are_refused(tmp_path):
    cfg = make_cfg()
    method = DummyMethod.from_config(cfg)
    state = {k: v for k, v in method.state_dict().items() if not k.startswith("extra.")}
    save_checkpoint(tmp_path / "c.pt", {**checkpoint_payload(method, cfg), "model": {**state, "stray": torch.ones(1)}})
    with pytest.raises(ValueError, match=r"2 missing .*1 unexpected"):
        load_checkpoint(tmp_path / "c.pt")


def test_check_resumable_names_what_differs(tmp_path):
    cfg = make_cfg()
    method = DummyMethod.from_config(cfg, drop=("extra_head",))
    ckpt = checkpoint_payload(method, cfg, total_steps=8)
    check_resumable(ckpt, tmp_path / "last.pt", method, 8)  # the same run: no error
    with pytest.raises(UserError, match="8-step run; this one has 9 steps"):
        check_resumable(ckpt, tmp_path / "last.pt", method, 9)
    with pytest.raises(UserError, match="holds dummy without"):
        check_resumable(ckpt, tmp_path / "last.pt", DummyMethod.from_config(cfg), 8)


def test_build_method_is_the_untrained_architecture():
    cfg = make_cfg(**{"method.dim": 12})
    torch.manual_seed(0)
    a = build_method("dummy", cfg, ["extra_head"])
    torch.manual_seed(1)
    b = build_method("DUMMY", cfg)
    assert isinstance(a, DummyMethod) and a.drop == ("extra_head",) and b.drop == ()
    assert a.text.weight.shape == (101, 12) and not torch.equal(a.text.weight, b.text.weight)
