"""Fuzzing every reader and parser: the only outcomes allowed are a correct parse or the project's
own error type (never an OverflowError, IndexError, UnicodeDecodeError... traceback).

Examples per test come from the ``bench-fuzz`` profile (tests/conftest.py); ``BENCH_FUZZ=bench-fuzz-slow``
runs at least 10,000 each.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.data import covidx, object_cxr, rsna
from bench.data.base import DataFormatError, Record, Table
from bench.data.csvfile import label_cells, read_rows
from bench.data.rle import RLEError, record_mask, rle_decode, rle_encode
from bench.data.text import report_sentences, section_text, split_sentences

FUZZ = settings.get_profile(os.environ.get("BENCH_FUZZ", "bench-fuzz"))
NUMBERS = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["nan", "NaN", "inf", "-inf", "1e400", "", " ", "-0", "0x10", "1_0", "٣", "²"]),
)
CELL = st.one_of(NUMBERS, st.text(max_size=12))


def _table() -> Table:
    return Table(dataset="fuzz", root=Path("."), records=[])


# -- RLE ----------------------------------------------------------------------------------------
RLE_TEXT = st.one_of(
    st.lists(st.integers(-5, 2**70), max_size=12).map(lambda v: " ".join(map(str, v))),
    st.lists(st.integers(0, 40), max_size=12).map(lambda v: " ".join(map(str, v))),
    st.text(alphabet="0123456789 -+\t\n.e", max_size=40),
    st.just("9223372036854775807 1 9223372036854775807 1"),
)


@FUZZ
@given(RLE_TEXT, st.integers(1, 9), st.integers(1, 9))
def test_fuzz_rle_decode(text, height, width):
    try:
        mask = rle_decode(text, height, width)
    except RLEError:
        return
    assert mask.shape == (height, width) and mask.dtype == bool
    values = [int(t) for t in text.split()] if text.strip() not in ("", "-1") else []
    assert int(mask.sum()) == sum(values[1::2])  # runs never overlap: every length is counted once
    assert np.array_equal(rle_decode(rle_encode(mask), height, width), mask)


@FUZZ
@given(st.lists(RLE_TEXT, min_size=1, max_size=3), st.integers(1, 9), st.integers(1, 9))
def test_fuzz_rle_of_a_record_names_file_row_and_image(texts, height, width):
    record = Record(key="1.2.3", image=Path("x.dcm"), rle=tuple(texts),
                    meta={"rle_source": "train-rle.csv", "rle_rows": list(range(2, 2 + len(texts)))})
    try:
        mask = record_mask(record, height, width)
    except DataFormatError as exc:
        assert "train-rle.csv, row " in str(exc) and "image 1.2.3" in str(exc)
        return
    assert mask.shape == (height, width)


# -- label cells and CSV rows -------------------------------------------------------------------
@FUZZ
@given(CELL)
def test_fuzz_label_cells(cell):
    try:
        out = label_cells(Path("train.csv"), 2, {"Edema": cell}, ("Edema",))
    except DataFormatError as exc:
        assert "train.csv, row 2: column 'Edema'" in str(exc)
        return
    value = out["Edema"]
    assert math.isnan(value) or value in (1.0, 0.0, -1.0)


@FUZZ
@given(st.binary(max_size=200))
def test_fuzz_csv_rows(body):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rows.csv"
        path.write_bytes(b"a,b\n" + body)
        try:
            rows = list(read_rows(path, ("a", "b")))
        except DataFormatError as exc:
            assert str(path) in str(exc)
            return
    assert all(set(cells) == {"a", "b"} and row >= 2 for row, cells in rows)


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(["p1", "p2", "../p", "/abs"]), CELL, CELL, CELL, CELL,
                          st.sampled_from(["0", "1", "2", "", "x"])), min_size=1, max_size=4))
def test_fuzz_rsna_rows(rows):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        lines = ["patientId,x,y,width,height,Target"]
        lines += [",".join(c.replace(",", " ").replace("\n", " ").replace("\r", " ").replace('"', " ") for c in row)
                  for row in rows]
        (root / "stage_2_train_labels.csv").write_text("\n".join(lines) + "\n")
        try:
            table = rsna.read(root, check_files=False)
        except DataFormatError:
            return
    for record in table.records:
        assert record.image.is_relative_to(root) and ".." not in record.image.relative_to(root).parts
        for x1, y1, x2, y2 in record.boxes:
            assert all(math.isfinite(v) for v in (x1, y1, x2, y2)) and x2 > x1 and y2 > y1


# -- Object-CXR annotations ---------------------------------------------------------------------
OBJECT = st.one_of(
    st.tuples(st.sampled_from(["0", "1", "2", "3", "x", ""]), st.lists(NUMBERS, max_size=8)).map(
        lambda t: " ".join([t[0], *t[1]])
    ),
    st.text(max_size=20),
)


@FUZZ
@given(st.lists(OBJECT, max_size=4).map(";".join))
def test_fuzz_object_cxr_annotation(annotation):
    table = _table()
    boxes, shapes = object_cxr._objects(Path("train.csv"), 2, annotation, table)
    assert len(boxes) == len(shapes)
    for x1, y1, x2, y2 in boxes:
        assert all(math.isfinite(v) for v in (x1, y1, x2, y2)) and x2 > x1 and y2 > y1
    assert all(p.startswith("train.csv, row 2:") for p in table.problems)


# -- COVIDx lines -------------------------------------------------------------------------------
COVIDX_LINE = st.one_of(
    st.lists(st.sampled_from(["p1", "a b", "x.png", "../x.png", "/etc/x.png", "normal", "COVID-19", "pneumonia",
                              "positive", "src", "", "\x00"]), max_size=6).map(" ".join),
    st.text(max_size=40),
)


@FUZZ
@given(st.lists(st.one_of(COVIDX_LINE.map(str.encode), st.binary(max_size=30)), min_size=1, max_size=4))
def test_fuzz_covidx_lists(lines):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "train.txt").write_bytes(b"\n".join(lines) + b"\n")
        (root / "test.txt").write_bytes(b"p9 t.png normal src\n")
        try:
            table = covidx.read(root, check_files=False)
        except DataFormatError as exc:
            assert str(root) in str(exc)
            return
        for record in table.records:
            assert record.image.is_relative_to(root) and ".." not in record.image.relative_to(root).parts
            assert record.meta["class"] in table.classes and sum(record.labels.values()) == 1.0


# -- report sections and sentences --------------------------------------------------------------
REPORT = st.lists(
    st.one_of(st.sampled_from(["FINDINGS:", "IMPRESSION:", "INDICATION:", "\n", "\n\n", " 1. ", "Dr.", "e.g.",
                               "No effusion.", "a.m.", "___", "?", "!", "\t"]), st.text(max_size=15)),
    max_size=12,
).map(" ".join)


@FUZZ
@given(REPORT)
def test_fuzz_report_sections_and_sentences(text):
    for name, body in section_text(text):
        assert isinstance(name, str) and isinstance(body, str)
    sentences = report_sentences(text)
    assert all(isinstance(s, str) and s.strip() == s and s for s in sentences)
    assert all(s and s.strip() == s for s in split_sentences(text))
