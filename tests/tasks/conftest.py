"""Fixtures for the task tests: the planted method, planted tables and a small resolved config."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import planted  # noqa: E402

from bench.config import resolve  # noqa: E402


def small_cfg(**overrides: str):
    base = {
        "model.image_size": "24",
        "train.num_workers": "0",
        "eval.batch_size": "32",
        "eval.subset_per_class": "6",
        "eval.probe_epochs": "200",
        "eval.probe_lr": "0.05",
        "eval.probe_patience": "20",
        "eval.cache_dir": "none",
    }
    base.update(overrides)
    return resolve("tiny", "planted", base, planted.PlantedConfig)


@pytest.fixture
def cfg():
    return small_cfg()


@pytest.fixture
def method():
    return planted.PlantedMethod()


@pytest.fixture(scope="module")
def chexpert_table(tmp_path_factory):
    return planted.chexpert_table(tmp_path_factory.mktemp("chexpert"))
