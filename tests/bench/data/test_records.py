"""What a full-size read needs: record fields kept small (the image path as a string, a report read
from its file on access, what a study shares shared) and progress bars on the slow steps."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import pytest
from test_mimic import build

from bench.data import mimic
from bench.data.base import Record, TextFile


def test_the_image_is_a_path_on_access_and_a_string_inside(tmp_path):
    record = Record("a", tmp_path / "x" / "a.jpg")
    assert record.image == tmp_path / "x" / "a.jpg" and isinstance(record.image, Path)
    assert record.image_path == str(tmp_path / "x" / "a.jpg") and isinstance(record.image_path, str)
    assert Record("a", str(tmp_path / "x" / "a.jpg")) == record
    moved = dataclasses.replace(record, image=tmp_path / "b.jpg")
    assert moved.image == tmp_path / "b.jpg" and record.image.name == "a.jpg"
    assert pickle.loads(pickle.dumps(moved)) == moved
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.image = tmp_path  # type: ignore[misc]
    with pytest.raises(TypeError):
        Record("no image")  # type: ignore[call-arg]


def test_a_report_given_as_its_file_is_read_on_access(tmp_path):
    path = tmp_path / "s1.txt"
    path.write_text("FINDINGS: clear.")
    record = Record("a", tmp_path / "a.jpg", report=TextFile(path))
    assert record.report == "FINDINGS: clear."
    assert record == Record("a", tmp_path / "a.jpg", report="FINDINGS: clear.")
    assert Record("a", tmp_path / "a.jpg").report is None
    path.write_text("IMPRESSION: changed.")
    assert pickle.loads(pickle.dumps(record)).report == "IMPRESSION: changed."


def test_mimic_records_share_what_their_study_shares(tmp_path, files, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    root = build(tmp_path / "mimic", files)
    table = mimic.read(root, min_sentences=2)
    by_key = {r.key: r for r in table.records}
    d6, d8 = by_key["d6"], by_key["d8"]  # two frontal images of one study
    assert d6.sentences is d8.sentences and d6.labels is d8.labels and d6.study is d8.study
    assert d6.report == (root / "files/p11/p11000011/s53000000.txt").read_text()
    assert by_key["d1"].labels == d6.labels and by_key["d1"].labels is d6.labels  # equal label rows: one dict


def test_full_size_reads_and_checks_show_progress(tmp_path, files, monkeypatch, capsys):
    from bench.data import check as check_module
    from bench.data import mimic_index

    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(mimic_index, "BAR_FROM", 0)  # as if every file were of full size
    monkeypatch.setattr(check_module, "BAR_FROM", 0)
    root = build(tmp_path / "mimic", files)
    check_module.check("mimic-cxr", root)
    check_module.probe([r.image for r in mimic.read(root).records], decode=True, workers=1)
    err = capsys.readouterr().err
    for bar in ("mimic-cxr index (csv)", "mimic-cxr reports on disk", "mimic-cxr images on disk", "headers", "decode",
                "mimic-cxr reports"):
        assert f"{bar}: 100%" in err, bar
    assert "img/s" in err
