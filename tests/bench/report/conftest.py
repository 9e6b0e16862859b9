"""A tiny SynthCXR (the pretraining corpus only) with a planted ``<script>`` sentence in every report."""

from __future__ import annotations

import re

import pytest

SCRIPT = "<script>alert(1)</script> is planted here."


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory):
    from bench.data.synth import generate

    root = tmp_path_factory.mktemp("synth")
    generate(root, studies=24, seed=3, size=64, datasets=("mimic-cxr",))
    for report in (root / "mimic-cxr").rglob("s*.txt"):
        text = report.read_text()
        report.write_text(re.sub(r"(IMPRESSION:\s*)", lambda m: m.group(1) + SCRIPT + " ", text, count=1))
    return root
