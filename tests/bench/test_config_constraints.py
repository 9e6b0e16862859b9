"""Every setting is checked on resolve against the one table of constraints in bench.config."""

from __future__ import annotations

import dataclasses
import math
import os
import subprocess
import sys
import typing

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
from bench.models import RANDOM, eval_config
from bench.pretraining import pretrain_config
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


# Method settings: each was accepted by resolve and failed when the model was built (a ValueError
# traceback, exit 1, after the data was read), or was never checked at all.
METHOD_REFUSED = [
    ("convirt", "method.temperature", "0"), ("convirt", "method.lambda_weight", "1.5"),
    ("convirt", "method.text_pool", "avg"), ("convirt", "method.proj_hidden", "0"),
    ("gloria", "method.local_layer", "layer9"), ("gloria", "method.last_n_layers", "0"),
    ("gloria", "method.temp3", "0"), ("gloria", "method.upsample_to", "8"),
    ("prior", "method.pool_heads", "0"), ("prior", "method.stage_ratio", "1,1"),
    ("prior", "method.image_dropout", "1"), ("prior", "method.bank_eval", "random"),
    ("prior", "method.kl_weight", "-1"), ("prior", "method.stage_lr_scale", "1,-1,1"),
]


@pytest.mark.parametrize("method, key, value", METHOD_REFUSED)
def test_bad_method_values_are_a_config_error_naming_the_key(method, key, value):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        pretrain_config(method, "tiny", (f"{key}={value}",))


@pytest.mark.parametrize("method", ["convirt", "gloria", "prior"])
def test_every_numeric_method_setting_refuses_minus_one(method):
    cls = METHODS.get(method).Config
    numeric = [f.name for f in dataclasses.fields(cls)
               if any(t in str(f.type) for t in ("int", "float")) and f.type != "bool"]
    assert numeric
    accepted = []
    for name in numeric:
        try:
            pretrain_config(method, "tiny", (f"method.{name}=-1",))
            accepted.append(name)
        except ConfigError:
            pass
    assert accepted == []


def test_method_choice_lists_match_their_homes():
    from methods.convirt.config import TEXT_POOL_NAMES
    from methods.convirt.model import TEXT_POOLS

    assert set(TEXT_POOL_NAMES) == set(TEXT_POOLS)


def test_cli_refuses_a_bad_method_setting_before_reading_data(tmp_path):
    out = subprocess.run([sys.executable, "-m", "bench", "pretrain", "--method", "prior", "--data", str(tmp_path),
                          "--out", str(tmp_path / "out"), "--set", "method.pool_heads=0"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 2, out.stderr[-2000:]
    err = out.stderr.strip()
    assert err.startswith("bench pretrain: error: ") and "method.pool_heads" in err and "\n" not in err, err
    assert not (tmp_path / "out").exists()


def test_config_does_not_import_bench_data():
    code = "import sys, bench.config as c; c.resolve('tiny'); print(sorted(m for m in sys.modules if m.startswith('bench.data')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


KEYS = sorted(_flatten(BenchConfig().to_dict()))
METHOD_KEYS = {name: [f"method.{f.name}" for f in dataclasses.fields(METHODS.get(name).Config)]
               for name in ("convirt", "gloria", "prior")}
VALUES = st.one_of(
    st.text(max_size=12), st.integers(-(2**40), 2**40).map(str), st.floats().map(repr),
    st.sampled_from(["nan", "inf", "-inf", "()", "[]", ",", "0,", "none", "true", "1e999", "-0", "=", "a=b",
                     "1,2,3", "[0.5, 1]", "(2, 1, 1)", "0.5,", "layer4", "max", "soft", "cuda:0"]),
)
JUNK_KEYS = st.one_of(st.sampled_from(["model", "train", "method", "x.y", ".", "", "train.", "method.x"]),
                      st.text(max_size=10))


@st.composite
def set_arguments(draw):
    """(method, the ``--set`` words as typed): ``key=value`` pairs over every setting of the
    sections and of the method's own section, junk keys, and words with no ``=`` at all."""
    method = draw(st.sampled_from(sorted(METHOD_KEYS)))
    key = st.one_of(st.sampled_from(KEYS + METHOD_KEYS[method]), JUNK_KEYS)
    pair = st.one_of(st.tuples(key, VALUES).map("=".join), st.text(max_size=16))
    return method, draw(st.lists(pair, min_size=1, max_size=3))


def _expected_scalar(cfg, key: str, word: str):
    """What an accepted ``key=word`` must have set, for the plain int/float/bool settings (else None)."""
    section, _, name = key.rpartition(".")
    target = cfg.method if section == "method" else getattr(cfg, section, None)
    if not dataclasses.is_dataclass(target) or name not in {f.name for f in dataclasses.fields(target)}:
        return None
    hint = typing.get_type_hints(type(target))[name]
    if hint is bool:
        return word.strip().lower() in ("1", "true", "yes", "on")
    if hint is int:
        return int(word.strip())
    if hint is float:
        return float(word.strip())
    return None


@FUZZ
@given(set_arguments(), st.sampled_from(["pretrain", "evaluate"]))
def test_fuzz_set_values(arguments, command):
    """``--set`` as ``bench pretrain``/``run`` (pretrain_config) and ``bench evaluate`` (eval_config)
    resolve it, without building anything: a ConfigError, or a config every constraint holds for."""
    method, words = arguments
    try:
        if command == "pretrain":
            cfg = pretrain_config(method, "tiny", tuple(words))
        else:
            cfg, _ = eval_config(method, RANDOM, "tiny", (), tuple(words))
    except ConfigError:
        return
    check_config(cfg)  # whatever was accepted meets the table, the method's included
    for name, item in _flatten(cfg.to_dict()).items():
        items = item if isinstance(item, list) else [item]
        assert all(not isinstance(v, float) or math.isfinite(v) for v in items), name
    assert dataclasses.is_dataclass(cfg.model) and dataclasses.is_dataclass(cfg.method)
    validate = getattr(cfg.method, "validate", None)
    if validate is not None:
        validate()  # what the method checks again when it is built: a traceback there, exit 1
    last = parse_overrides(words)  # the last word for a key wins
    for key, word in last.items():
        expected = _expected_scalar(cfg, key, word)
        if expected is not None:
            value = _flatten(cfg.to_dict())[key]
            assert value == expected and type(value) is type(expected), (key, word, value)
