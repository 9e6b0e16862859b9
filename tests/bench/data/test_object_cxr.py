from __future__ import annotations

import pytest

from bench.data.base import DataFormatError
from bench.data.object_cxr import parse_object, read

HEADER = ["image_name", "annotation"]


def build(root, files, train_rows=None, dev_rows=None):
    train_rows = train_rows or [
        ["00001.jpg", "0 100 200 150 260"],
        ["00002.jpg", "1 10 20 30 50;2 5 5 9 1 12 7 8 14"],
        ["00003.jpg", ""],
    ]
    dev_rows = dev_rows or [["08001.jpg", "2 40 40 60 45 50 70;0 1 2 3 4"]]
    files.csv(root / "train.csv", HEADER, train_rows)
    files.csv(root / "dev.csv", HEADER, dev_rows)
    for split, rows in (("train", train_rows), ("dev", dev_rows)):
        for name, _ in rows:
            files.jpg(root / split / name, 300, 300)
    return root


def test_rectangles_ellipses_polygons_and_empty(tmp_path, files):
    table = read(build(tmp_path, files))
    rect, mixed, empty, dev = table.records
    assert rect.boxes == ((100.0, 200.0, 150.0, 260.0),) and rect.meta["shapes"] == ("rectangle",)
    assert mixed.boxes == ((10.0, 20.0, 30.0, 50.0), (5.0, 1.0, 12.0, 14.0))
    assert mixed.meta["shapes"] == ("ellipse", "polygon") and mixed.box_labels == (0, 0)
    assert empty.boxes == () and empty.labels == {"Foreign object": 0.0} and not empty.positive
    assert dev.split == "dev" and dev.image == tmp_path / "dev" / "08001.jpg"
    assert dev.boxes == ((40.0, 40.0, 60.0, 70.0), (1.0, 2.0, 3.0, 4.0))
    assert rect.labels == {"Foreign object": 1.0} and table.problems == []


def test_malformed_object_is_a_problem_naming_file_and_row(tmp_path, files):
    rows = [["00001.jpg", "0 1 2 3 4"], ["00002.jpg", "0 1 2 3;7 1 2 3 4;2 1 2 3;1 5 5 9 9;x"]]
    table = read(build(tmp_path, files, train_rows=rows))
    assert table.counts["malformed_objects"] == 4
    assert all("train.csv, row 3:" in p for p in table.problems)
    assert "expected 4 coordinates" in table.problems[0] and "type 7 unknown" in table.problems[1]
    assert table.records[1].boxes == ((5.0, 5.0, 9.0, 9.0),)  # the good object is kept


def test_parse_object_rejects_degenerate_boxes():
    assert parse_object(" 0 3 4 1 2 ") == ("rectangle", (1.0, 2.0, 3.0, 4.0))
    with pytest.raises(ValueError, match="width and height must be positive"):
        parse_object("0 1 1 1 5")


def test_missing_image_and_csv(tmp_path, files):
    build(tmp_path, files)
    (tmp_path / "train" / "00003.jpg").unlink()
    assert [p.name for p in read(tmp_path).missing] == ["00003.jpg"]
    (tmp_path / "dev.csv").unlink()
    with pytest.raises(DataFormatError, match="dev.csv"):
        read(tmp_path)
