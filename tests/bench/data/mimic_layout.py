"""A MIMIC-CXR-JPG v2.0.0 layout of the real size, for scale tests and the full-size benchmark.

377,110 images in 227,835 studies of 65,379 patients (``scale`` shrinks all three), in the real
folder structure (``files/p1X/p1XXXXXXX/sYYYYYYYY/<dicom_id>.jpg`` and ``sYYYYYYYY.txt``), the three
CSVs with every row and the real columns. Images are hard links to one tiny JPEG and reports hard
links to a few dozen texts (some without impression/findings, some too short), so the whole layout
costs directory entries, not disk. Everything is drawn from one seeded generator; :func:`write`
returns what the reader must find, computed from the generator's own arrays.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

IMAGES, STUDIES, PATIENTS = 377_110, 227_835, 65_379
LABELS = sorted(
    "No Finding,Enlarged Cardiomediastinum,Cardiomegaly,Lung Opacity,Lung Lesion,Edema,Consolidation,"
    "Pneumonia,Atelectasis,Pneumothorax,Pleural Effusion,Pleural Other,Fracture,Support Devices".split(",")
)
META = ["dicom_id", "subject_id", "study_id", "PerformedProcedureStepDescription", "ViewPosition", "Rows",
        "Columns", "StudyDate", "StudyTime", "ProcedureCodeSequence_CodeMeaning", "ViewCodeSequence_CodeMeaning",
        "PatientOrientationCodeSequence_CodeMeaning"]  # fmt: skip
VIEWS = np.array(["PA", "AP", "LATERAL", "LL", ""])
VIEW_P = [0.26, 0.38, 0.29, 0.04, 0.03]  # close to the real ViewPosition counts
SPLITS = np.array(["train", "validate", "test"])
SPLIT_P = [0.978, 0.008, 0.014]
SENTENCES = ["The lungs are clear.", "There is no pleural effusion.", "Heart size is normal.",
             "No pneumothorax is seen.", "Mild atelectasis at the left base.", "No focal consolidation."]  # fmt: skip
REPORT_KINDS = 50  # distinct report texts
LINKS = 60_000  # hard links per pool file


def report_text(kind: int) -> tuple[str, int]:
    """A report and its sentence count in impression + findings (0: no such section)."""
    n = (0, 2, 4, 4, 5, 5, 6, 6, 7, 8)[kind % 10]  # 80 % usable at min_sentences 4
    chosen = [SENTENCES[(kind + i) % len(SENTENCES)] for i in range(n)]
    text = "                                 FINAL REPORT\n EXAMINATION:  CHEST (PA AND LAT)\n\n"
    text += f" INDICATION:  ___ with cough, case {kind}.\n\n COMPARISON:  None.\n\n"
    if n == 0:
        return text + " NOTE: see prior.\n", 0
    findings, impression = chosen[: n // 2], chosen[n // 2 :]
    if findings:
        text += " FINDINGS: \n\n " + " ".join(findings) + "\n\n"
    return text + " IMPRESSION: \n\n " + " ".join(impression) + "\n", n


def plan(scale: float = 1.0, seed: int = 0) -> dict[str, np.ndarray]:
    """The ids and attributes of every patient, study and image (no files)."""
    rng = np.random.default_rng(seed)
    images, studies, patients = (max(1, round(n * scale)) for n in (IMAGES, STUDIES, PATIENTS))
    subject_ids = 10_000_000 + np.sort(rng.choice(9_999_999, patients, replace=False))
    # every patient has a study, every study an image
    study_patient = np.sort(np.r_[np.arange(patients), rng.integers(0, patients, studies - patients)])
    study_ids = 50_000_000 + rng.choice(9_999_999, studies, replace=False)
    image_study = np.r_[np.arange(studies), rng.integers(0, studies, images - studies)]
    image_study = image_study[rng.permutation(images)]  # metadata rows are not grouped by study
    views = VIEWS[rng.choice(len(VIEWS), images, p=VIEW_P)]
    hexes = rng.integers(0, 2**32, (images, 5), dtype=np.uint64)
    dicom = pd.Series(hexes[:, 0]).map("{:08x}".format)
    for k in range(1, 5):
        dicom = dicom + "-" + pd.Series(hexes[:, k]).map("{:08x}".format)
    patient_split = SPLITS[rng.choice(3, patients, p=SPLIT_P)]
    return {
        "subject": subject_ids[study_patient[image_study]].astype(str),
        "study": study_ids[image_study].astype(str),
        "dicom": dicom.to_numpy(),
        "view": views,
        "split": patient_split[study_patient[image_study]],
        "study_ids": study_ids.astype(str),
        "study_subject": subject_ids[study_patient].astype(str),
        "report_kind": rng.integers(0, REPORT_KINDS, studies),
        "labels": rng.choice(np.array(["1.0", "0.0", "-1.0", ""]), (studies, len(LABELS)), p=[0.1, 0.1, 0.05, 0.75]),
    }


def write(root: Path | str, scale: float = 1.0, seed: int = 0, *, progress: bool = False) -> dict[str, int]:
    """The layout under ``root``; returns the expected reader counts (min_sentences 4, PA/AP)."""
    root = Path(root)
    p = plan(scale, seed)
    files = root / "files"
    (root / "pool").mkdir(parents=True, exist_ok=True)
    n_images = len(p["dicom"])
    jpegs = [root / "pool" / f"tiny{k}.jpg" for k in range(-(-n_images // LINKS))]  # ext4: 65,000 links a file
    for jpeg in jpegs:
        Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8) * 4).save(jpeg)
    reports, sentence_counts = [], []
    for kind in range(REPORT_KINDS):
        text, n = report_text(kind)
        (root / "pool" / f"report{kind}.txt").write_text(text)
        reports.append(root / "pool" / f"report{kind}.txt")
        sentence_counts.append(n)
    rows = pd.DataFrame({"dicom_id": p["dicom"], "subject_id": p["subject"], "study_id": p["study"],
                         "PerformedProcedureStepDescription": "CHEST (PA AND LAT)", "ViewPosition": p["view"],
                         "Rows": 3056, "Columns": 2544, "StudyDate": 21800506, "StudyTime": 213014.531,
                         "ProcedureCodeSequence_CodeMeaning": "CHEST (PA AND LAT)",
                         "ViewCodeSequence_CodeMeaning": "postero-anterior", "PatientOrientationCodeSequence_CodeMeaning": "Erect"})  # fmt: skip
    rows.to_csv(root / "mimic-cxr-2.0.0-metadata.csv", index=False, columns=META)
    pd.DataFrame({"dicom_id": p["dicom"], "study_id": p["study"], "subject_id": p["subject"], "split": p["split"]}).to_csv(
        root / "mimic-cxr-2.0.0-split.csv", index=False)
    labels = pd.DataFrame(p["labels"], columns=LABELS)
    labels.insert(0, "study_id", p["study_ids"])
    labels.insert(0, "subject_id", p["study_subject"])
    labels.to_csv(root / "mimic-cxr-2.0.0-chexpert.csv", index=False)
    study_dirs = [files / f"p{s[:2]}" / f"p{s}" / f"s{t}" for s, t in zip(p["study_subject"], p["study_ids"])]
    for i, folder in enumerate(study_dirs):
        folder.mkdir(parents=True, exist_ok=True)
        os.link(reports[p["report_kind"][i]], folder.with_suffix(".txt"))
        if progress and i % 20000 == 0:
            print(f"studies {i}/{len(study_dirs)}", file=sys.stderr)
    for i, (s, t, d) in enumerate(zip(p["subject"], p["study"], p["dicom"])):
        os.link(jpegs[i % len(jpegs)], f"{files}/p{s[:2]}/p{s}/s{t}/{d}.jpg")
        if progress and i % 50000 == 0:
            print(f"images {i}/{n_images}", file=sys.stderr)
    usable_study = np.array(sentence_counts)[p["report_kind"]] >= 4
    study_index = pd.Series(np.arange(len(p["study_ids"])), index=p["study_ids"])
    frontal = np.isin(p["view"], ["PA", "AP"])
    image_usable = usable_study[study_index[p["study"]].to_numpy()]
    frontal_studies = np.unique(p["study"][frontal])
    frontal_usable = usable_study[study_index[frontal_studies].to_numpy()]
    return {
        "images": n_images,
        "studies": len(p["study_ids"]),
        "patients": len(np.unique(p["study_subject"])),
        "non_frontal": int((~frontal).sum()),
        "frontal_studies": len(frontal_studies),
        "usable_studies": int(frontal_usable.sum()),
        "records": int((frontal & image_usable).sum()),
        "frontal_images": int(frontal.sum()),
    }


if __name__ == "__main__":  # python tests/bench/data/mimic_layout.py OUT [SCALE]
    out = write(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 1.0, progress=True)
    print(out)
