from __future__ import annotations

from pathlib import Path

import pytest
import torch
from support.train_dummy import DummyMethod, make_cfg

from bench.checkpoint import load_checkpoint
from bench.cli import import_ as imp
from bench.cli import main

DUMMY_ARGS = ["--preset", "tiny"]


pytestmark = pytest.mark.usefixtures("dummy_registered")  # METHODS["dummy"], FORMATS["dummy-official"]


@pytest.fixture
def official(tmp_path):
    torch.manual_seed(3)
    state = DummyMethod.from_config(make_cfg()).state_dict()
    return {f"official.{k}": v for k, v in state.items()}


def _import(tmp_path, state, *extra):
    src = tmp_path / "official.ckpt"
    torch.save(state, src)
    out = tmp_path / "imported.pt"
    return main(["import", "--format", "dummy-official", str(src), "--out", str(out), *DUMMY_ARGS, *extra]), out


def test_import_writes_a_loadable_checkpoint_with_the_weights(tmp_path, official, capsys):
    code, out = _import(tmp_path, {**official, "official.unused.head": torch.zeros(3)})
    assert code == 0 and capsys.readouterr().out.strip() == str(out)
    method, cfg = load_checkpoint(out)
    assert isinstance(method, DummyMethod) and cfg.preset == "tiny"
    for key, value in method.state_dict().items():
        assert torch.equal(value, official[f"official.{key}"]), key


def test_unmatched_keys_exit_2_listing_them(tmp_path, official, capsys):
    extra = {f"stray.{i}": torch.zeros(1) for i in range(25)}
    code, out = _import(tmp_path, {**official, **extra})
    err = capsys.readouterr().err
    assert code == 2 and "25 key(s) have no place in dummy" in err and "stray.0" in err and "5 more" in err
    assert not out.exists()
    code, _ = _import(tmp_path, {**official, **extra}, "--allow-unmatched")
    assert code == 0


def test_shape_mismatch_and_unknown_target_exit_2(tmp_path, official, capsys):
    bad = {**official, "official.text.weight": torch.zeros(5, 5), "official.nowhere": torch.zeros(1)}
    code, _ = _import(tmp_path, bad)
    err = capsys.readouterr().err
    assert code == 2 and "text.weight (file (5, 5), model (101, 16))" in err and "nowhere (not in the model)" in err


def test_partial_file_warns_or_fails_with_strict(tmp_path, official, capsys):
    partial = {k: v for k, v in official.items() if k.startswith("official.image.")}
    code, out = _import(tmp_path, partial)
    assert code == 0
    code, _ = _import(tmp_path, partial, "--strict")
    assert code == 2 and "uncovered: extra.bias" in capsys.readouterr().err


def test_unknown_format_and_unsafe_file_exit_2(tmp_path, capsys):
    assert main(["import", "--format", "mgca", str(tmp_path / "x"), "--out", str(tmp_path / "y")]) == 2
    err = capsys.readouterr().err
    assert "unknown format 'mgca'" in err and "Traceback" not in err
    assert "Valid formats: benchx-convirt, dummy-official, gloria, prior" in err
    assert main(["import", "--format", "glorria", str(tmp_path / "x"), "--out", str(tmp_path / "y")]) == 2
    assert "Did you mean 'gloria'?" in capsys.readouterr().err
    src = tmp_path / "pickled.ckpt"
    torch.save({"hparams": Path("somewhere")}, src)  # an arbitrary object: weights_only refuses it
    assert main(["import", "--format", "dummy-official", str(src), "--out", str(tmp_path / "y")]) == 2
    assert "weights_only=True" in capsys.readouterr().err
    assert main(["import", "--format", "dummy-official", str(tmp_path / "nope.ckpt"), "--out", "y"]) == 2


def test_prior_bare_resnet_imports_into_the_tiny_preset(tmp_path):
    from bench.config import resolve
    from bench.registry import METHODS

    cls = METHODS.get("prior")
    torch.manual_seed(7)
    trunk = cls.from_config(resolve("tiny", "prior", {}, cls.Config)).image_encoder.trunk.state_dict()
    src = tmp_path / "prior_resnet50.pt"
    torch.save(trunk, src)
    out = tmp_path / "prior.pt"
    assert main(["import", "--format", "prior", str(src), "--out", str(out), "--preset", "tiny"]) == 0
    method, _ = load_checkpoint(out)
    for key, value in trunk.items():
        assert torch.equal(method.image_encoder.trunk.state_dict()[key], value), key


def test_builtin_formats_name_the_method_their_weights_fit():
    from bench.registry import FORMATS, METHODS

    assert {"prior", "gloria", "benchx-convirt"} <= set(FORMATS.names())
    for fmt, method in (("prior", "prior"), ("gloria", "gloria"), ("benchx-convirt", "convirt")):
        converter = FORMATS.get(fmt)
        assert converter.METHOD == method and method in METHODS and callable(converter.convert_official)


def test_a_plugin_format_arrives_through_the_entry_point_group(monkeypatch, tmp_path, official, capsys):
    from importlib.metadata import EntryPoint

    import bench.registry as r

    ep = EntryPoint(name="plugin-official", value="support.train_dummy", group="bench.formats")
    monkeypatch.setattr(r, "entry_points", lambda group: [ep] if group == "bench.formats" else [])
    formats = r.Registry("format", group="bench.formats")
    monkeypatch.setattr(imp, "FORMATS", formats)
    src, out = tmp_path / "official.ckpt", tmp_path / "plugin.pt"
    torch.save(official, src)
    assert main(["import", "--format", "plugin-official", str(src), "--out", str(out), *DUMMY_ARGS]) == 0
    assert isinstance(load_checkpoint(out)[0], DummyMethod)

