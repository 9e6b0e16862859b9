from __future__ import annotations

import pytest

from bench.data.base import DataFormatError
from bench.data.rsna import read

HEADER = ["patientId", "x", "y", "width", "height", "Target"]


def build(root, files, rows=None):
    rows = rows or [
        ["0004cfab-14fd-4e49-80ba-63a80b6bddd6", "", "", "", "", "0"],
        ["00436515-870c-4b36-a041-de91049b9ab4", "264.0", "152.0", "213.0", "379.0", "1"],
        ["00436515-870c-4b36-a041-de91049b9ab4", "562.0", "152.0", "256.0", "453.0", "1"],
        ["00704310-78a8-4b38-8475-49f4573b2dbb", "nan", "nan", "nan", "nan", "0"],
    ]
    files.csv(root / "stage_2_train_labels.csv", HEADER, rows)
    classes = [[r[0], "Lung Opacity" if r[5] == "1" else "Normal"] for r in rows]
    files.csv(root / "stage_2_detailed_class_info.csv", ["patientId", "class"], classes)
    for pid in dict.fromkeys(r[0] for r in rows):
        files.dcm(root / "stage_2_train_images" / f"{pid}.dcm", 640, 900, view_position="PA")
    return root


def test_rows_grouped_per_patient_with_corner_boxes(tmp_path, files):
    table = read(build(tmp_path, files))
    assert len(table) == 3 and table.classes == ("Pneumonia",)
    neg, pos, nan_neg = table.records
    assert pos.key == "00436515-870c-4b36-a041-de91049b9ab4"
    assert pos.boxes == ((264.0, 152.0, 477.0, 531.0), (562.0, 152.0, 818.0, 605.0))
    assert pos.box_labels == (0, 0) and pos.labels == {"Pneumonia": 1.0} and pos.positive
    assert neg.boxes == () and neg.labels == {"Pneumonia": 0.0} and not neg.positive
    assert nan_neg.boxes == () and nan_neg.labels == {"Pneumonia": 0.0}
    assert pos.meta["class"] == "Lung Opacity" and pos.meta["rows"] == 2
    assert pos.image == tmp_path / "stage_2_train_images" / f"{pos.key}.dcm"
    assert table.problems == []


def test_detailed_class_info_is_optional(tmp_path, files):
    build(tmp_path, files)
    (tmp_path / "stage_2_detailed_class_info.csv").unlink()
    assert "class" not in read(tmp_path).records[0].meta


def test_inconsistent_rows_are_problems(tmp_path, files):
    rows = [["a", "", "", "", "", "1"], ["b", "1", "2", "3", "4", "0"]]
    table = read(build(tmp_path, files, rows))
    assert table.counts == {"target_without_box": 1, "box_without_target": 1}
    assert "stage_2_train_labels.csv, row 2: Target 1 but no box" in table.problems[0]
    assert table.records[0].labels == {"Pneumonia": 1.0} and table.records[0].boxes == ()


def test_missing_dicom_is_recorded(tmp_path, files):
    build(tmp_path, files)
    gone = tmp_path / "stage_2_train_images" / "0004cfab-14fd-4e49-80ba-63a80b6bddd6.dcm"
    gone.unlink()
    table = read(tmp_path)
    assert len(table) == 2 and table.missing == [gone] and table.counts["missing_image"] == 1
    assert table.problems == [f"{gone}: image missing"]


@pytest.mark.parametrize(
    "bad, match",
    [
        (["a", "1", "x", "3", "4", "1"], "row 3: column 'y': expected a number"),
        (["a", "", "", "", "", "2"], "row 3: Target must be 0 or 1"),
    ],
)
def test_malformed_rows_name_file_and_row(tmp_path, files, bad, match):
    build(tmp_path, files, [["ok", "", "", "", "", "0"], bad])
    with pytest.raises(DataFormatError, match=f"stage_2_train_labels.csv, {match}"):
        read(tmp_path)


def test_an_empty_box_is_a_counted_problem_not_a_fatal_error(tmp_path, files):
    rows = [["ok", "", "", "", "", "0"], ["a", "1", "2", "0", "4", "1"], ["a", "1", "", "3", "4", "1"],
            ["a", "1", "2", "3", "4", "1"]]
    build(tmp_path, files, rows)
    table = read(tmp_path)
    assert table.counts["invalid_boxes"] == 2 and table.records[1].boxes == ((1.0, 2.0, 4.0, 6.0),)
    assert "stage_2_train_labels.csv, row 3: box x=1.0, y=2.0, width=0.0" in table.problems[0]
    assert "stage_2_train_labels.csv, row 4: box partly empty" in table.problems[1]
