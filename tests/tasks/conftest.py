"""Fixtures for the task tests: the planted method, planted tables and a small resolved config."""

from __future__ import annotations

import pytest
from support import planted


@pytest.fixture
def cfg():
    return planted.small_cfg()


@pytest.fixture
def method():
    return planted.PlantedMethod()


@pytest.fixture(scope="module")
def chexpert_table(tmp_path_factory):
    return planted.chexpert_table(tmp_path_factory.mktemp("chexpert"))
