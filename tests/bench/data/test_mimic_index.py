"""The vectorised MIMIC-CXR index against the per-row reader it replaced, record by record, and its
cache (a second read comes from it; editing a CSV invalidates it)."""

from __future__ import annotations

import math
import os

import mimic_reference
import pytest
from test_mimic import build

from bench.data import mimic, mimic_index


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))


def _same_labels(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        (math.isnan(x) and math.isnan(b[k])) or x == b[k] for k, x in a.items()
    )


def assert_same(new, old) -> None:
    assert len(new.records) == len(old.records)
    for a, b in zip(new.records, old.records):
        assert (a.key, a.image, a.split, a.report, a.sentences, a.study, a.patient, a.meta) == (
            b.key, b.image, b.split, b.report, b.sentences, b.study, b.patient, b.meta
        )
        assert _same_labels(a.labels, b.labels), a.key
    assert new.counts == old.counts
    assert new.problems == old.problems
    assert new.missing == old.missing
    assert (new.dataset, new.root, new.classes) == (old.dataset, old.root, old.classes)


VARIANTS = [
    ({}, {}),
    ({"gz": True, "s_prefix": True}, {}),
    ({}, {"min_sentences": 2}),
    ({}, {"min_sentences": 0}),
    ({}, {"labels": False}),
    ({}, {"views": ("PA",)}),
    ({}, {"sections": ("findings",)}),
]


@pytest.mark.parametrize(("layout", "options"), VARIANTS)
def test_same_records_as_the_per_row_reader_on_the_fixtures(tmp_path, files, layout, options):
    root = build(tmp_path / "mimic", files, **layout)
    (root / "files/p11/p11000011/s53000000/d6.jpg").unlink()  # a missing image
    split = root / "mimic-cxr-2.0.0-split.csv"  # an image without a split row
    split.write_text("".join(line for line in split.read_text().splitlines(True) if not line.startswith("d8,")))
    old = mimic_reference.read(root, **options)
    assert_same(mimic.read(root, **options), old)
    assert_same(mimic.read(root, **options), old)  # from the cache
    assert_same(mimic.read(root, cache=False, **options), old)


def test_same_records_with_reports_elsewhere_and_without_file_checks(tmp_path, files):
    reports = tmp_path / "reports"
    root = build(tmp_path / "jpg", files, reports_root=reports)
    (root / "files/p11/p11000011/s53000000/d6.jpg").unlink()
    for options in ({}, {"reports_root": reports}, {"reports_root": reports / "files", "check_files": False}):
        assert_same(mimic.read(root, **options), mimic_reference.read(root, **options))


@pytest.mark.slow
def test_same_records_on_a_generated_synthcxr(tmp_path):
    from bench.data.synth.generate import generate

    generate(tmp_path / "synth", studies=60, seed=3, size=64, datasets=("mimic-cxr",))
    root = tmp_path / "synth" / "mimic-cxr"
    old = mimic_reference.read(root)
    assert len(old.records) > 50
    assert_same(mimic.read(root), old)
    assert_same(mimic.read(root), old)
    # the process pool gives what one process gives
    paths = sorted(str(p) for p in root.rglob("s*.txt"))
    pooled = mimic_index.parse_reports(paths * 40, ("impression", "findings"), workers=2)
    single = mimic_index.parse_reports(paths * 40, ("impression", "findings"), workers=1)
    assert pooled.equals(single) and len(pooled) >= mimic_index.POOL_FROM


def test_second_read_comes_from_the_cache_and_a_csv_edit_invalidates_it(tmp_path, files, monkeypatch):
    root = build(tmp_path / "mimic", files)
    first = mimic.read(root)
    cached = sorted(p.name for p in (tmp_path / "cache" / "index").iterdir())
    assert any(n.endswith(".images.parquet") for n in cached) and any(n.endswith(".reports.parquet") for n in cached)
    calls = []
    monkeypatch.setattr(mimic_index, "image_table", lambda *a, **k: calls.append(a) or (_ for _ in ()).throw(AssertionError))
    monkeypatch.setattr(mimic_index, "parse_reports", lambda *a, **k: calls.append(a) or (_ for _ in ()).throw(AssertionError))
    assert_same(mimic.read(root), first)
    assert calls == []
    monkeypatch.undo()
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    # relabel one study: same size, newer mtime
    chexpert = root / "mimic-cxr-2.0.0-chexpert.csv"
    text = chexpert.read_text().replace("10000032,50414267,1.0", "10000032,50414267,0.0", 1)
    chexpert.write_text(text)
    stat = chexpert.stat()
    os.utime(chexpert, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    edited = mimic.read(root)
    assert first.records[0].labels["Atelectasis"] == 1.0
    assert edited.records[0].labels["Atelectasis"] == 0.0
    assert_same(edited, mimic_reference.read(root))


def test_a_damaged_cache_file_is_rebuilt(tmp_path, files):
    root = build(tmp_path / "mimic", files)
    first = mimic.read(root)
    for path in (tmp_path / "cache" / "index").glob("*.parquet"):
        path.write_bytes(b"not parquet")
    assert_same(mimic.read(root), first)


def test_without_sentences_no_report_is_parsed(tmp_path, files, monkeypatch):
    root = build(tmp_path / "mimic", files)
    monkeypatch.setattr("bench.data.text.report_sentences", lambda *a, **k: pytest.fail("sentences split"))
    table = mimic.read(root, sentences=False)
    # every frontal image of a study with a report file: short and section-less reports count too
    assert [r.key for r in table.records] == ["d1", "d3", "d5", "d6", "d8"]
    assert all(r.sentences == () and r.report is None for r in table.records)
    assert table.counts == {"non_frontal": 2, "missing_report": 1, "studies": 4}


def test_ids_that_would_leave_the_root_are_counted_and_skipped(tmp_path, files):
    root = build(tmp_path / "mimic", files)
    meta = root / "mimic-cxr-2.0.0-metadata.csv"
    meta.write_text(meta.read_text().replace("d6,11000011,", "d6,1/../../../../x,").replace("d8,", "../d8,"))
    split = root / "mimic-cxr-2.0.0-split.csv"
    split.write_text(split.read_text().replace("d8,", "../d8,"))
    table = mimic.read(root)
    assert [r.key for r in table.records] == ["d1"]
    assert table.counts["escaping_path"] == 2
    assert sum("leaves the dataset root" in p for p in table.problems) == 2
    assert all(str(r.image).startswith(str(root)) for r in table.records)
