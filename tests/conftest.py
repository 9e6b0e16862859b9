"""Shared test set-up: offline model hub; the fixtures that register the test-only methods."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="module")
def dummy_registered():
    """METHODS["dummy"] (:class:`support.train_dummy.DummyMethod`) and FORMATS["dummy-official"]
    for one test module."""
    from support import registered, train_dummy

    from bench.registry import FORMATS, METHODS

    with registered(METHODS, "dummy", train_dummy.DummyMethod, components=train_dummy.DummyMethod.components):
        with registered(FORMATS, "dummy-official", train_dummy):
            yield train_dummy.DummyMethod


@pytest.fixture(scope="module")
def planted_registered():
    """METHODS["planted"] (:class:`support.planted.PlantedMethod`) for one test module."""
    from support import planted, registered

    from bench.registry import METHODS

    with registered(METHODS, "planted", planted.PlantedMethod):
        yield planted.PlantedMethod


# Fuzzing profiles for the parser tests (every test_fuzz_*: the readers in tests/bench/data/test_fuzz_readers.py,
# --set in tests/bench/test_config_constraints.py): a few hundred examples in the default run;
# BENCH_FUZZ=bench-fuzz-slow runs >= 10,000 per parser (`tox -e fuzz` reports hypothesis's counts).
try:
    from hypothesis import HealthCheck, settings

    _QUIET = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
    settings.register_profile("bench-fuzz", max_examples=300, deadline=None, suppress_health_check=_QUIET)
    settings.register_profile(
        "bench-fuzz-slow", max_examples=10_000, deadline=None, suppress_health_check=_QUIET, database=None
    )
except ImportError:  # hypothesis is a test dependency; without it the fuzz tests are not collected
    pass
