"""bench.stored_config: a BenchConfig rebuilt from its stored to_dict() form."""

from __future__ import annotations

import logging

from support.train_dummy import DummyConfig, make_cfg

from bench.stored_config import config_from_dict


def test_round_trip_keeps_every_setting():
    cfg = make_cfg(**{"method.dim": 12, "train.lr": 0.25, "model.image_size": 20})
    back = config_from_dict(cfg.to_dict(), DummyConfig)
    assert back.to_dict() == cfg.to_dict()
    assert back.method.dim == 12 and back.train.lr == 0.25 and back.model.image_size == 20
    assert back.preset == "tiny" and back.method_name == "dummy"


def test_unknown_settings_are_logged_and_skipped(caplog):
    data = make_cfg().to_dict()
    data["train"]["retired_option"] = 3
    data["gone_section"] = {"x": 1}
    with caplog.at_level(logging.WARNING, logger="bench.stored_config"):
        back = config_from_dict(data, DummyConfig)
    assert back.train.lr == make_cfg().train.lr
    text = caplog.text
    assert "ignoring stored setting" in text and "retired_option" in text and "gone_section" in text


def test_method_section_needs_the_method_config_class():
    data = make_cfg(**{"method.dim": 12}).to_dict()
    assert config_from_dict(data).method is None  # no class: the section is dropped, not an error
    assert config_from_dict(data, DummyConfig).method == DummyConfig(dim=12)
