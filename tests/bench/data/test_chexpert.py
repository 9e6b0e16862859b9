from __future__ import annotations

import math

import pytest

from bench.data.base import CHEXPERT_LABELS, COMPETITION_LABELS, DataFormatError
from bench.data.chexpert import POLICIES, apply_uncertainty, read

HEADER = ["Path", "Sex", "Age", "Frontal/Lateral", "AP/PA", *CHEXPERT_LABELS]
SMALL = "CheXpert-v1.0-small"


def row(path: str, view: str = "Frontal", **labels: str) -> list[str]:
    values = {name: "" for name in CHEXPERT_LABELS}
    values.update({k.replace("_", " "): v for k, v in labels.items()})
    return [path, "Female", "68", view, "AP" if view == "Frontal" else "", *values.values()]


def build(root, files, folder: str = SMALL):
    base = root / folder
    train = [
        row(f"{folder}/train/patient00001/study1/view1_frontal.jpg", Atelectasis="-1.0", Cardiomegaly="-1.0"),
        row(f"{folder}/train/patient00001/study1/view2_lateral.jpg", "Lateral", Edema="1.0"),
        row(f"{folder}/train/patient00002/study2/view1_frontal.jpg", Edema="-1.0", Consolidation="-1.0"),
        row(
            f"{folder}/train/patient00003/study1/view1_frontal.jpg", Pleural_Effusion="-1.0", Fracture="-1.0"
        ),
    ]
    valid = [row(f"{folder}/valid/patient64541/study1/view1_frontal.jpg", No_Finding="1.0", Edema="0.0")]
    for cells in train + valid:
        files.jpg(root / cells[0])
    files.csv(base / "train.csv", HEADER, train)
    files.csv(base / "valid.csv", HEADER, valid)
    return root


def test_frontal_only_by_default_with_splits(tmp_path, files):
    table = read(build(tmp_path, files))
    assert [r.split for r in table.records] == ["train", "train", "train", "valid"]
    assert table.counts["lateral"] == 1
    first = table.records[0]
    assert first.key == f"{SMALL}/train/patient00001/study1/view1_frontal.jpg"
    assert first.image == tmp_path / first.key and first.image.is_file()
    assert (first.patient, first.study, first.meta["view"]) == (
        "patient00001",
        "patient00001/study1",
        "Frontal",
    )
    all_views = read(tmp_path, frontal_only=False)
    assert len(all_views) == 5 and "lateral" not in all_views.counts


def test_raw_labels_keep_uncertain_and_blank(tmp_path, files):
    labels = read(build(tmp_path, files)).records[0].labels
    assert list(labels) == list(CHEXPERT_LABELS)
    assert labels["Atelectasis"] == -1.0 and math.isnan(labels["Edema"])
    assert read(tmp_path).records[3].labels["No Finding"] == 1.0


def test_root_may_be_the_dataset_folder_and_the_full_release(tmp_path, files):
    build(tmp_path, files)
    inner = read(tmp_path / SMALL)
    assert [r.image for r in inner.records] == [r.image for r in read(tmp_path).records]
    full = read(build(tmp_path / "full", files, folder="CheXpert-v1.0"))
    assert len(full) == 4 and all(r.image.is_file() for r in full.records)


def test_only_some_splits(tmp_path, files):
    assert {r.split for r in read(build(tmp_path, files), splits=("valid",)).records} == {"valid"}
    with pytest.raises(ValueError, match="expected one of"):
        read(tmp_path, splits=("test",))


def test_uncertainty_policies():
    raw = {name: math.nan for name in CHEXPERT_LABELS}
    raw.update({name: -1.0 for name in COMPETITION_LABELS})
    raw.update({"Fracture": -1.0, "Edema": -1.0, "No Finding": 1.0, "Pneumonia": 0.0})
    ones, zeros, gloria = (apply_uncertainty(raw, p) for p in ("ones", "zeros", "gloria"))
    assert ones["Atelectasis"] == ones["Fracture"] == 1.0 and ones["Lung Lesion"] == 0.0
    assert zeros["Atelectasis"] == zeros["Fracture"] == 0.0
    assert {n: gloria[n] for n in COMPETITION_LABELS} == {
        "Atelectasis": 1.0, "Cardiomegaly": 0.0, "Consolidation": 0.0, "Edema": 1.0, "Pleural Effusion": 1.0,
    }  # fmt: skip
    assert gloria["Fracture"] == -1.0  # untouched outside the competition classes, as in GLoRIA/MGCA
    for mapped in (ones, zeros, gloria):
        assert mapped["No Finding"] == 1.0 and mapped["Pneumonia"] == 0.0 and mapped["Lung Lesion"] == 0.0
        assert not any(math.isnan(v) for v in mapped.values())
    assert raw["Atelectasis"] == -1.0  # input not modified
    assert set(POLICIES["gloria"].per_class) == set(COMPETITION_LABELS)
    with pytest.raises(ValueError, match="gloria"):
        apply_uncertainty(raw, "u-ignore")


def test_malformed_label_names_file_and_row(tmp_path, files):
    build(tmp_path, files)
    path = tmp_path / SMALL / "train.csv"
    path.write_text(path.read_text().replace("-1.0", "unsure", 1))
    with pytest.raises(
        DataFormatError,
        match=r"train.csv, row 2: column .Cardiomegaly.: expected 1, 0, -1 or blank, got .unsure.",
    ):
        read(tmp_path)


def test_missing_columns_and_files(tmp_path, files):
    build(tmp_path, files)
    (tmp_path / SMALL / "valid.csv").write_text("Path,Sex\nx,y\n")
    with pytest.raises(DataFormatError, match="missing column"):
        read(tmp_path)
    (tmp_path / SMALL / "valid.csv").unlink()
    with pytest.raises(DataFormatError, match="valid.csv"):
        read(tmp_path)
