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
