from __future__ import annotations

import pytest

from bench.data.base import DataFormatError
from bench.data.covidx import read

TRAIN = """\
3 SARS-10.1148rg.242035193-g04mr34g0-Fig8a-day0.jpeg pneumonia cohen
5 COVID-00001.jpg COVID-19 cohen extra_col 12
8d5e9b9f-a1 8d5e9b9f-a1.png normal rsna
419639 003251 MIDRC-RICORD-1C-419639-003251-46647-0.png COVID-19 ricord
"""
TEST = "101 test-1.png normal rsna\n102 test-2.png COVID-19 ricord\n"


def build(root, files, train=TRAIN, test=TEST, names=("train.txt", "test.txt")):
    (root / names[0]).write_text(train)
    (root / names[1]).write_text(test)
    for split, text in (("train", train), ("test", test)):
        for line in text.splitlines():
            filename = next(t for t in line.split() if "." in t)
            files.jpg(root / split / filename)
    return root


def test_three_classes_extra_columns_and_spaces_in_ids(tmp_path, files):
    table = read(build(tmp_path, files))
    assert table.classes == ("normal", "pneumonia", "COVID-19")
    assert [r.split for r in table.records] == ["train"] * 4 + ["test"] * 2
    covid = table.records[1]
    assert covid.key == "COVID-00001.jpg" and covid.patient == "5"
    assert covid.meta == {"target": 2, "class": "COVID-19", "source": "cohen"}
    assert covid.labels == {"normal": 0.0, "pneumonia": 0.0, "COVID-19": 1.0}
    ricord = table.records[3]
    assert ricord.patient == "419639 003251" and ricord.key.startswith("MIDRC")
    assert table.records[0].image == tmp_path / "train" / table.records[0].key


def test_mgca_file_names_and_flat_image_folder(tmp_path, files):
    (tmp_path / "train_COVIDx9A.txt").write_text(TRAIN)
    (tmp_path / "test_COVIDx9A.txt").write_text(TEST)
    files.jpg(tmp_path / "test-1.png")  # fallback: root/<filename>
    table = read(tmp_path, check_files=False)
    assert len(table) == 6
    assert table.records[4].image == tmp_path / "test-1.png"
    assert table.records[5].image == tmp_path / "test" / "test-2.png"  # neither exists: expected place
    assert len(read(tmp_path).missing) == 5


def test_binary_scheme_and_val_file(tmp_path, files):
    build(
        tmp_path, files, train="1 a.png positive bimcv\n2 b.png negative sirm\n", test="3 c.png Negative x\n"
    )
    (tmp_path / "val.txt").write_text("4 d.png positive bimcv\n")
    files.jpg(tmp_path / "val" / "d.png")
    table = read(tmp_path)
    assert table.classes == ("negative", "positive")
    assert [(r.split, r.meta["target"]) for r in table.records] == [
        ("train", 1),
        ("train", 0),
        ("val", 1),
        ("test", 0),
    ]


def test_duplicates_are_problems(tmp_path, files):
    build(tmp_path, files, test="9 COVID-00001.jpg COVID-19 cohen\n")
    table = read(tmp_path)
    assert table.counts["duplicates"] == 1 and "test.txt, row 1" in table.problems[0]


@pytest.mark.parametrize(
    "train, match",
    [
        ("1 a.png\n", "train.txt, row 1: expected 'patient_id filename class source'"),
        ("1 a.png normal x\n2 b.png covid-like x\n", "train.txt, row 2"),
        ("1 a.png normal x\n2 b.png positive x\n", "mix the schemes"),
    ],
)
def test_malformed_lines(tmp_path, files, train, match):
    build(tmp_path, files)
    (tmp_path / "train.txt").write_text(train)
    with pytest.raises(DataFormatError, match=match):
        read(tmp_path)


def test_absent_list_is_an_error(tmp_path, files):
    build(tmp_path, files)
    (tmp_path / "test.txt").unlink()
    with pytest.raises(DataFormatError, match="test list not found"):
        read(tmp_path)
