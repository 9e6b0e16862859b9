from __future__ import annotations

import pytest

from bench.registry import DATASETS, METHODS, PRESETS, TASKS, Registry, UnknownNameError


def test_lazy_string_target_loads_on_get():
    reg: Registry = Registry("thing")
    reg.register("join", "os.path:join")
    import os.path

    assert reg.get("join") is os.path.join
    assert reg.get("JOIN") is os.path.join  # names are case-insensitive


def test_decorator_and_duplicate():
    reg: Registry = Registry("thing")

    @reg.register("a", note="x")
    class A:
        pass

    assert reg.get("a") is A and reg.meta("a") == {"note": "x"}
    reg.register("a", A)  # same target again is fine
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a", object())


def test_unknown_name_suggests_nearest_and_lists_valid():
    with pytest.raises(UnknownNameError) as exc:
        METHODS.get("priorr")
    msg = str(exc.value)
    assert "Did you mean 'prior'" in msg
    assert "convirt" in msg and "gloria" in msg


def test_builtins_registered_without_importing_torch():
    import subprocess
    import sys

    code = (
        "import sys; from bench.registry import METHODS, TASKS, DATASETS, PRESETS;"
        "METHODS.names(); TASKS.names(); DATASETS.names(); PRESETS.names();"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert {"convirt", "gloria", "prior"} <= set(METHODS.names())
    assert {"classification", "zero_shot", "retrieval", "segmentation", "detection"} <= set(TASKS.names())
    assert set(DATASETS.names()) >= {"mimic-cxr", "chexpert", "rsna", "siim", "covidx", "object-cxr"}
    assert {"tiny", "default"} <= set(PRESETS.names())
    assert METHODS.meta("prior")["components"] == (
        "local_alignment",
        "prototype_bank",
        "image_reconstruction",
        "sentence_generation",
    )


def test_available_skips_missing_modules():
    reg: Registry = Registry("thing")
    reg.register("real", "json:dumps")
    reg.register("ghost", "no_such_module_xyz:thing")
    assert reg.available() == ["real"]


def test_entry_point_plugins_are_discovered(monkeypatch):
    from importlib.metadata import EntryPoint

    import bench.registry as r

    ep = EntryPoint(name="mymethod", value="json:loads", group="bench.methods")
    monkeypatch.setattr(r, "entry_points", lambda group: [ep] if group == "bench.methods" else [])
    reg: Registry = Registry("method", group="bench.methods")
    import json

    assert "mymethod" in reg.names()
    assert reg.get("mymethod") is json.loads


def test_unregister_and_temporarily_remove_what_they_added():
    reg: Registry = Registry("thing")
    reg.register("keep", "json:dumps")
    reg.register("gone", "json:loads")
    assert reg.get("gone") is not None  # loaded, so the cached object must go too
    reg.unregister("GONE")
    assert reg.names() == ["keep"]
    with pytest.raises(UnknownNameError, match="unknown thing 'gone'"):
        reg.get("gone")
    with pytest.raises(UnknownNameError):
        reg.unregister("gone")
    marker = object()
    with reg.temporarily("tmp", marker, note="x") as got:
        assert got is marker and reg.get("tmp") is marker and reg.meta("tmp") == {"note": "x"}
    assert "tmp" not in reg
    with pytest.raises(RuntimeError, match="boom"), reg.temporarily("tmp", marker):
        raise RuntimeError("boom")
    assert reg.names() == ["keep"]
    reg.register("tmp", object())  # the name is free again, for another target


def test_user_errors_derive_from_the_bottom_floor_base():
    from bench.config import ConfigError
    from bench.data.base import DataFormatError
    from bench.errors import USER_ERRORS, UserError
    from bench.results import ResultError

    for cls in (ConfigError, DataFormatError, UnknownNameError, ResultError):
        assert issubclass(cls, UserError) and issubclass(cls, USER_ERRORS)
    assert issubclass(UnknownNameError, KeyError)  # still a lookup failure for callers that catch KeyError
    assert str(UnknownNameError("unknown method 'x'")) == "unknown method 'x'"  # prose, not a quoted key

