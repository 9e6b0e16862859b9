from __future__ import annotations

import gzip
import math
import shutil
from pathlib import Path

import pytest

from bench.data.base import DataFormatError
from bench.data.mimic import NAME, read

# mimic-cxr-2.0.0-chexpert.csv column order (alphabetical, unlike CheXpert's own csv)
MIMIC_LABELS = [
    "Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Enlarged Cardiomediastinum", "Fracture",
    "Lung Lesion", "Lung Opacity", "No Finding", "Pleural Effusion", "Pleural Other", "Pneumonia",
    "Pneumothorax", "Support Devices",
]  # fmt: skip
META = [
    "dicom_id", "subject_id", "study_id", "PerformedProcedureStepDescription", "ViewPosition", "Rows",
    "Columns", "StudyDate", "StudyTime", "ProcedureCodeSequence_CodeMeaning", "ViewCodeSequence_CodeMeaning",
    "PatientOrientationCodeSequence_CodeMeaning",
]  # fmt: skip


def report(impression: str, findings: str | None = None) -> str:
    text = "                                 FINAL REPORT\n EXAMINATION:  CHEST (PA AND LAT)\n\n"
    text += " INDICATION:  ___ with cough.\n\n COMPARISON:  None.\n\n"
    if findings is not None:
        text += f" FINDINGS: \n\n {findings}\n\n"
    if impression:
        text += f" IMPRESSION: \n\n {impression}\n"
    return text


LONG = report("No acute process. No pneumonia.", "Lungs are clear. Heart size normal. No effusion.")
# (subject, study, [(dicom_id, view, split)], report text or None for a missing file)
STUDIES = [
    ("10000032", "50414267", [("d1", "PA", "train"), ("d2", "LATERAL", "train")], LONG),
    ("10000032", "50000001", [("d3", "AP", "train")], report("Clear. Normal.")),
    ("10000032", "50000002", [("d4", "PA", "train")], None),
    ("10000764", "50000003", [("d5", "AP", "validate")], " INDICATION: cough.\n"),
    ("11000011", "53000000", [("d6", "PA", "test"), ("d7", "LL", "test"), ("d8", "AP", "test")], LONG),
]


def build(root: Path, files, *, reports_root: Path | None = None, gz: bool = False, s_prefix=False) -> Path:
    meta, split, labels = [], [], []
    for subject, study, images, text in STUDIES:
        sid = f"s{study}" if s_prefix else study
        folder = root / "files" / f"p{subject[:2]}" / f"p{subject}" / f"s{study}"
        for dicom_id, view, part in images:
            files.jpg(folder / f"{dicom_id}.jpg")
            meta.append(
                [dicom_id, subject, sid, "CHEST (PA AND LAT)", view, 6, 8, 21800506, 213014.531, "", "", ""]
            )
            split.append([dicom_id, study, subject, part])
        values = ["1.0", "", "-1.0", "0.0"] + [""] * 10
        labels.append([subject, sid, *values])
        if text is not None:
            target = (reports_root or root) / "files" / f"p{subject[:2]}" / f"p{subject}" / f"s{study}.txt"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
    files.csv(root / "mimic-cxr-2.0.0-metadata.csv", META, meta)
    files.csv(root / "mimic-cxr-2.0.0-split.csv", ["dicom_id", "study_id", "subject_id", "split"], split)
    chexpert = files.csv(
        root / "mimic-cxr-2.0.0-chexpert.csv", ["subject_id", "study_id", *MIMIC_LABELS], labels
    )
    if gz:
        with open(chexpert, "rb") as src, gzip.open(f"{chexpert}.gz", "wb") as dst:
            shutil.copyfileobj(src, dst)
        chexpert.unlink()
    return root


def test_frontal_images_with_reports(tmp_path, files):
    table = read(build(tmp_path, files))
    assert table.dataset == NAME
    assert [r.key for r in table.records] == ["d1", "d6", "d8"]
    d1 = table.records[0]
    assert d1.study == "s50414267" and d1.patient == "p10000032"
    assert d1.image == tmp_path / "files/p10/p10000032/s50414267/d1.jpg"
    assert d1.split == "train" and table.records[1].split == "test"
    assert d1.meta["view"] == "PA"
    assert d1.sentences[:2] == ("No acute process.", "No pneumonia.")  # impression first
    assert d1.sentences[2:] == ("Lungs are clear.", "Heart size normal.", "No effusion.")
    assert d1.report is not None and "FINAL REPORT" in d1.report


def test_lateral_views_dropped_and_studies_counted(tmp_path, files):
    table = read(build(tmp_path, files))
    assert table.counts["non_frontal"] == 2  # LATERAL and LL
    assert table.counts["dropped_few_sentences"] == 1  # s50000001 has 2 sentences
    assert table.counts["missing_report"] == 1
    assert table.counts["no_report_section"] == 1
    assert table.counts["studies"] == 2
    assert any("s50000002.txt" in p for p in table.problems)


def test_min_sentences_is_an_option(tmp_path, files):
    table = read(build(tmp_path, files), min_sentences=2)
    assert "d3" in [r.key for r in table.records]
    assert "dropped_few_sentences" not in table.counts


def test_labels_from_the_chexpert_csv(tmp_path, files):
    labels = read(build(tmp_path, files)).records[0].labels
    assert labels["Atelectasis"] == 1.0 and labels["Consolidation"] == -1.0 and labels["Edema"] == 0.0
    assert math.isnan(labels["Cardiomegaly"]) and set(labels) == set(MIMIC_LABELS)


def test_study_id_with_s_prefix_in_the_csvs_and_gzipped_csv(tmp_path, files):
    table = read(build(tmp_path, files, gz=True, s_prefix=True))
    assert [r.key for r in table.records] == ["d1", "d6", "d8"]
    assert table.records[0].study == "s50414267" and table.records[0].labels["Atelectasis"] == 1.0


def test_reports_in_a_separate_tree(tmp_path, files):
    reports = tmp_path / "reports"
    root = build(tmp_path / "jpg", files, reports_root=reports)
    assert read(root).counts["missing_report"] == 5  # every study looked up under root
    assert [r.key for r in read(root, reports_root=reports).records] == ["d1", "d6", "d8"]
    assert len(read(root, reports_root=reports / "files")) == 3  # the files folder itself


def test_missing_image_is_recorded_not_fatal(tmp_path, files):
    root = build(tmp_path, files)
    (root / "files/p11/p11000011/s53000000/d6.jpg").unlink()
    table = read(root)
    assert [r.key for r in table.records] == ["d1", "d8"]
    assert table.missing == [root / "files/p11/p11000011/s53000000/d6.jpg"]
    assert len(read(root, check_files=False)) == 3


def test_image_without_split_row_is_a_problem(tmp_path, files):
    root = build(tmp_path, files)
    path = root / "mimic-cxr-2.0.0-split.csv"
    path.write_text("".join(line for line in path.read_text().splitlines(True) if not line.startswith("d8,")))
    table = read(root)
    assert "d8" not in [r.key for r in table.records] and table.counts["no_split"] == 1


def test_absent_csv_is_an_error_naming_it(tmp_path, files):
    root = build(tmp_path, files)
    (root / "mimic-cxr-2.0.0-metadata.csv").unlink()
    with pytest.raises(DataFormatError, match="mimic-cxr-2.0.0-metadata.csv"):
        read(root)


def test_malformed_rows_name_file_and_row(tmp_path, files):
    root = build(tmp_path, files)
    split = root / "mimic-cxr-2.0.0-split.csv"
    split.write_text(split.read_text() + "d9,50000009\n")
    with pytest.raises(DataFormatError, match=r"split.csv, row 10: 2 fields, expected 4"):
        read(root)
    build(root, files)
    chexpert = root / "mimic-cxr-2.0.0-chexpert.csv"
    lines = chexpert.read_text().splitlines(True)
    lines[2] = lines[2].replace("1.0", "2.0", 1)
    chexpert.write_text("".join(lines))
    with pytest.raises(
        DataFormatError,
        match=r"chexpert.csv, row 3: column 'Atelectasis': expected 1, 0, -1 or blank, got '2.0'",
    ):
        read(root)
