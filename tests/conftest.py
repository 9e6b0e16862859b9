"""Shared test set-up: offline model hub, few threads, deterministic torch where present."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# Fuzzing profiles for the parser tests (tests/bench/**/test_fuzz_*.py): a few hundred examples in
# the default run; BENCH_FUZZ=bench-fuzz-slow runs >= 10,000 per parser.
try:
    from hypothesis import HealthCheck, settings

    _QUIET = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
    settings.register_profile("bench-fuzz", max_examples=300, deadline=None, suppress_health_check=_QUIET)
    settings.register_profile(
        "bench-fuzz-slow", max_examples=10_000, deadline=None, suppress_health_check=_QUIET, database=None
    )
except ImportError:  # hypothesis is a test dependency; without it the fuzz tests are not collected
    pass
