from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
import yaml

from bench.config import BenchConfig, ConfigError, parse_overrides, resolve


@dataclass
class _MethodCfg:
    temperature: float = 0.1
    layers: int = 8
    name: str = "x"


def test_presets_differ_and_resolve():
    tiny = resolve("tiny")
    default = resolve("default")
    assert tiny.model.image_encoder == "resnet_tiny" and default.model.image_encoder == "resnet50"
    assert tiny.model.image_size < default.model.image_size
    assert tiny.preset == "tiny"


def test_speed_levers_are_on_at_the_default_preset_and_off_at_tiny():
    from bench.config_values import LEVERS_OFF, flatten

    tiny, default = flatten(resolve("tiny").to_dict()), flatten(resolve("default").to_dict())
    assert {key: tiny[key] for key in LEVERS_OFF} == LEVERS_OFF  # the tiny pins are fp32's
    assert all(default[key] is True for key in LEVERS_OFF)
    off = flatten(resolve("default", overrides={"train.cpu_bf16": "false"}).to_dict())
    assert off["train.cpu_bf16"] is False and off["train.channels_last"] is True


def test_set_overrides_with_type_checks():
    cfg = resolve("tiny", overrides=parse_overrides(["train.lr=3e-4", "train.batch_size=7", "model.faithful=true"]))
    assert cfg.train.lr == pytest.approx(3e-4) and isinstance(cfg.train.lr, float)
    assert cfg.train.batch_size == 7 and cfg.model.faithful is True
    with pytest.raises(ConfigError, match="expected int"):
        resolve("tiny", overrides={"train.batch_size": "seven"})
    with pytest.raises(ConfigError, match="unknown key 'train.lrr'"):
        resolve("tiny", overrides={"train.lrr": "1"})
    with pytest.raises(ConfigError, match="unknown config section"):
        resolve("tiny", overrides={"nope.lr": "1"})
    with pytest.raises(ConfigError, match="expected true/false"):
        resolve("tiny", overrides={"model.faithful": "maybe"})
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides(["train.lr"])


def test_optional_and_tuple_fields():
    cfg = resolve("tiny", overrides={"model.image_weights": "none", "eval.fractions": "0.1,1.0"})
    assert cfg.model.image_weights is None
    assert cfg.eval.fractions == (0.1, 1.0)
    cfg = resolve("tiny", overrides={"model.image_weights": "/x/r50.pth"})
    assert cfg.model.image_weights == "/x/r50.pth"


def test_method_section_from_preset_and_set(tmp_path):
    preset = tmp_path / "p.yaml"
    preset.write_text(yaml.safe_dump({"train": {"lr": 0.5}, "methods": {"m": {"layers": 2}}}))
    cfg = resolve(str(preset), method="m", method_config_cls=_MethodCfg, overrides={"method.temperature": "0.2"})
    assert cfg.train.lr == 0.5 and cfg.method.layers == 2 and cfg.method.temperature == 0.2
    with pytest.raises(ConfigError, match="no method"):
        resolve("tiny", overrides={"method.temperature": "0.2"})


def test_unknown_preset_lists_valid():
    with pytest.raises(ConfigError, match="Valid presets: default, tiny"):
        resolve("tinny")


def test_serialises_to_json_and_yaml_roundtrip():
    cfg = resolve("tiny", method="m", method_config_cls=_MethodCfg)
    data = json.loads(cfg.to_json())
    assert data["model"]["image_encoder"] == "resnet_tiny" and data["method"]["layers"] == 8
    assert yaml.safe_load(cfg.to_yaml()) == data
    assert isinstance(BenchConfig().to_dict()["eval"]["fractions"], list)
