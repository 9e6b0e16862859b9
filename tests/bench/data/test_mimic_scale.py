"""MIMIC-CXR at a tenth of its real size (generated layout): the index finds what the generator
planted, equals the per-row reader, and a second read comes from the cache."""

from __future__ import annotations

import time

import mimic_layout
import mimic_reference
import pytest
from test_mimic_index import assert_same

from bench.data import mimic
from bench.data.check import check


@pytest.mark.slow
def test_a_tenth_of_mimic_cxr(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "mimic-cxr"
    expected = mimic_layout.write(root, scale=0.1)
    assert (expected["images"], expected["studies"], expected["patients"]) == (37_711, 22_784, 6_538)
    table = mimic.read(root)
    assert len(table) == expected["records"]
    assert table.counts["studies"] == expected["usable_studies"]
    assert table.counts["non_frontal"] == expected["non_frontal"]
    dropped = table.counts["no_report_section"] + table.counts["dropped_few_sentences"]
    assert dropped == expected["frontal_studies"] - expected["usable_studies"]
    start = time.perf_counter()
    again = mimic.read(root)
    cached = time.perf_counter() - start
    assert_same(again, table)
    assert_same(table, mimic_reference.read(root))
    assert cached < 30  # generous: the machine may be loaded; the full-size benchmark measures it
    light = check("mimic-cxr", root)
    assert light["listed"] == light["found"] == expected["frontal_images"]  # every report file exists
    assert light["missing"] == light["unreadable"] == 0
