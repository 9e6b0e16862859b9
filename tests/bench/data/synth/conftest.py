"""A small SynthCXR generated once per test session (every dataset, 128 px)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.data.synth.generate import MANIFEST, generate

STUDIES, SEED, SIZE = 60, 5, 128


@pytest.fixture(scope="session")
def synth_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    generate(out, studies=STUDIES, seed=SEED, size=SIZE)
    return out


@pytest.fixture(scope="session")
def manifest(synth_out: Path) -> dict[str, Any]:
    return json.loads((synth_out / MANIFEST).read_text())
