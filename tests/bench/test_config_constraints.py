"""Every setting is checked on resolve against the one table of constraints in bench.config."""

from __future__ import annotations

import dataclasses
import math
import os
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.config import (
    CONSTRAINTS,
    SYNTH_DIFFICULTIES,
    BenchConfig,
    ConfigError,
    _flatten,
    _set_path,
    check_config,
    parse_overrides,
    resolve,
)
from bench.registry import METHODS

FUZZ = __import__("hypothesis").settings.get_profile(os.environ.get("BENCH_FUZZ", "bench-fuzz"))

# What the probe found: each was a traceback, a ZeroDivisionError later, or silently accepted.
REFUSED = [
    ("train.batch_size", "0"), ("train.batch_size", "-3"), ("train.lr", "nan"), ("train.lr", "-1e-3"),
    ("train.lr", "inf"), ("train.grad_accum", "0"), ("train.num_workers", "-1"), ("model.image_size", "0"),
    ("train.epochs", "inf"), ("train.epochs", "nan"), ("train.epochs", "0"), ("train.ckpt_every", "0"),
    ("train.log_every", "0"), ("model.embed_dim", "0"), ("train.device", "tpu"), ("train.device", "cuda:x"),
    ("train.warmup_steps", "-5"), ("eval.seeds", ""), ("eval.seeds", "()"), ("eval.fractions", ""),
    ("eval.fractions", "0"), ("eval.fractions", "1.5"), ("eval.probe_epochs", "-1"), ("data.hflip", "2"),
    ("data.std", "0"), ("data.mean", "nan"), ("data.synth_difficulty", "brutal"), ("data.unit", "patient"),
    ("eval.dense_fractions", "0,1"), ("eval.dense_seeds", "-1"), ("eval.dense_datasets", "detection:"),
    ("eval.probe_features", "pixels"), ("eval.uncertainty", "maybe"), ("train.find_unused", "perhaps"),
]


@pytest.mark.parametrize("key, value", REFUSED)
def test_bad_values_are_a_config_error_naming_the_key(key, value):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        resolve("tiny", overrides={key: value})


@dataclasses.dataclass
class _MethodCfg:
    temperature: float = 0.1


@pytest.mark.parametrize("key", ["model", "train", "eval", "data", "method"])
def test_set_on_a_section_is_refused(key):
    with pytest.raises(ConfigError, match="is a section"):
        resolve("tiny", "m", {key: "3"}, _MethodCfg)


def test_good_values_pass():
    cfg = resolve("tiny", overrides={"train.device": "cuda:1", "eval.fractions": "0.01,1", "train.lr": "0"})
    assert cfg.train.device == "cuda:1" and cfg.eval.fractions == (0.01, 1.0) and cfg.train.lr == 0.0


@pytest.mark.slow
def test_presets_resolve_for_every_method():
    for preset in ("tiny", "default"):
        for name in ("convirt", "gloria", "prior"):
            check_config(resolve(preset, name, None, getattr(METHODS.get(name), "Config", None)))


def test_every_constraint_names_a_real_setting():
    settings = _flatten(BenchConfig().to_dict())
    assert set(CONSTRAINTS) <= set(settings)
    numeric = {k for k, v in settings.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    assert numeric - set(CONSTRAINTS) == {"data.mean"}  # any finite mean is fine (checked for finiteness)


def test_set_path_checks_too_so_evaluate_overrides_are_checked():
    cfg = resolve("tiny")
    with pytest.raises(ConfigError, match="eval.probe_epochs"):
        _set_path(cfg, "eval.probe_epochs", "0", "--set")


def test_non_finite_floats_in_a_method_section_are_refused():
    with pytest.raises(ConfigError, match="finite"):
        resolve("tiny", "m", {"method.temperature": "nan"}, _MethodCfg)


def test_the_choice_lists_match_their_homes():
    from bench.data.chexpert import POLICIES
    from bench.data.synth.difficulty import DIFFICULTIES

    assert set(SYNTH_DIFFICULTIES) == set(DIFFICULTIES)
    assert set(CONSTRAINTS["eval.uncertainty"].values) == set(POLICIES)


def test_config_does_not_import_bench_data():
    code = "import sys, bench.config as c; c.resolve('tiny'); print(sorted(m for m in sys.modules if m.startswith('bench.data')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


KEYS = sorted(_flatten(BenchConfig().to_dict()))
VALUES = st.one_of(
    st.text(max_size=12), st.integers(-(2**40), 2**40).map(str), st.floats().map(repr),
    st.sampled_from(["nan", "inf", "-inf", "()", "[]", ",", "0,", "none", "true", "1e999", "-0", "=", "a=b"]),
)


@FUZZ
@given(st.one_of(st.sampled_from(KEYS), st.sampled_from(["model", "train", "x.y", ".", "", "train."]),
                 st.text(max_size=10)), VALUES)
def test_fuzz_set_values(key, value):
    try:
        cfg = resolve("tiny", overrides=parse_overrides([f"{key}={value}"]))
    except ConfigError:
        return
    check_config(cfg)  # whatever was accepted meets the table
    for name, item in _flatten(cfg.to_dict()).items():
        items = item if isinstance(item, list) else [item]
        assert all(not isinstance(v, float) or math.isfinite(v) for v in items), name
    assert dataclasses.is_dataclass(cfg.model) and dataclasses.is_dataclass(cfg.train)
