"""The per-row MIMIC-CXR reader the vectorised index replaced, kept as the reference its output is
compared with, record by record (see test_mimic_index.py)."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from bench.data.base import CHEXPERT_LABELS, Record, Table
from bench.data.csvfile import bump, keep_if_present, label_cells, read_rows, require_file
from bench.data.text import PRETRAIN_SECTIONS, report_sentences

NAME = "mimic-cxr"
log = logging.getLogger(__name__)

METADATA = ("mimic-cxr-2.0.0-metadata.csv",)
SPLIT = ("mimic-cxr-2.0.0-split.csv",)
CHEXPERT = ("mimic-cxr-2.0.0-chexpert.csv",)
FRONTAL = ("PA", "AP")


def _bare(value: str, prefix: str) -> str:
    """'s50414267' or '50414267' (or '50414267.0') -> '50414267'."""
    text = value.strip()
    if text[:1].lower() == prefix:
        text = text[1:]
    return text[:-2] if text.endswith(".0") else text


def _files_dir(base: Path) -> Path:
    """``base/files`` when it exists (the PhysioNet layout), else ``base`` (already the files dir)."""
    return base / "files" if (base / "files").is_dir() else base


def study_dir(files: Path, subject: str, study: str) -> Path:
    return files / f"p{subject[:2]}" / f"p{subject}" / f"s{study}"


@dataclass
class _Study:
    sentences: tuple[str, ...] = ()
    report: str | None = None
    usable: bool = False
    images: list[tuple[str, str]] = field(default_factory=list)  # (dicom_id, view)


def _read_split(path: Path) -> dict[str, str]:
    return {
        cells["dicom_id"].strip(): cells["split"].strip()
        for _, cells in read_rows(path, ("dicom_id", "split"))
    }


def _read_labels(path: Path) -> dict[str, dict[str, float]]:
    labels: dict[str, dict[str, float]] = {}
    for row, cells in read_rows(path, ("study_id", *CHEXPERT_LABELS)):
        labels[_bare(cells["study_id"], "s")] = label_cells(path, row, cells, CHEXPERT_LABELS)
    return labels


def _group_studies(path: Path, views: tuple[str, ...], table: Table) -> dict[tuple[str, str], _Study]:
    """Frontal images of the metadata grouped by (subject, study), in file order."""
    studies: dict[tuple[str, str], _Study] = {}
    for _, cells in read_rows(path, ("dicom_id", "subject_id", "study_id", "ViewPosition")):
        view = cells["ViewPosition"].strip().upper()
        if view not in views:
            bump(table, "non_frontal")
            continue
        key = (_bare(cells["subject_id"], "p"), _bare(cells["study_id"], "s"))
        studies.setdefault(key, _Study()).images.append((cells["dicom_id"].strip(), view))
    return studies


def _load_report(
    study: _Study, path: Path, min_sentences: int, sections: tuple[str, ...], table: Table
) -> None:
    if not path.is_file():
        bump(table, "missing_report")
        table.problems.append(f"{path}: report missing")
        return
    text = path.read_text(encoding="utf-8", errors="replace")
    sentences = report_sentences(text, sections)
    if not sentences:
        bump(table, "no_report_section")
        return
    if len(sentences) < min_sentences:
        bump(table, "dropped_few_sentences")
        return
    study.report, study.sentences, study.usable = text, tuple(sentences), True


def read(
    root: Path,
    *,
    reports_root: Path | None = None,
    min_sentences: int = 4,
    views: tuple[str, ...] = FRONTAL,
    sections: tuple[str, ...] = PRETRAIN_SECTIONS,
    image_ext: str = ".jpg",
    labels: bool = True,
    check_files: bool = True,
) -> Table:
    """Frontal images with their report sentences, official split and CheXpert labels.

    ``reports_root`` (default ``root``) holds ``files/p1X/p1XXXXXXX/sYYYYYYYY.txt`` (or is that
    ``files`` folder). Studies without a report file, without impression/findings, or with fewer
    than ``min_sentences`` sentences are dropped and counted in ``Table.counts``.
    """
    root = Path(root)
    images = _files_dir(root)
    reports = _files_dir(Path(reports_root) if reports_root is not None else root)
    table = Table(dataset=NAME, root=root, records=[], classes=CHEXPERT_LABELS)
    split_of = _read_split(require_file(root, SPLIT, "MIMIC-CXR split csv"))
    label_of = _read_labels(require_file(root, CHEXPERT, "MIMIC-CXR chexpert csv")) if labels else {}
    studies = _group_studies(require_file(root, METADATA, "MIMIC-CXR metadata csv"), tuple(views), table)
    for (subject, study_id), study in studies.items():
        report_path = study_dir(reports, subject, study_id).with_suffix(".txt")
        _load_report(study, report_path, min_sentences, tuple(sections), table)
        if not study.usable:
            continue
        bump(table, "studies")
        if labels and study_id not in label_of:
            bump(table, "no_labels")
        for dicom_id, view in study.images:
            if dicom_id not in split_of:
                bump(table, "no_split")
                table.problems.append(f"{dicom_id}: image of s{study_id} is not in the split csv")
                continue
            record = Record(
                key=dicom_id,
                image=study_dir(images, subject, study_id) / f"{dicom_id}{image_ext}",
                split=split_of[dicom_id],
                labels=dict(label_of.get(study_id, {})),
                report=study.report,
                sentences=study.sentences,
                study=f"s{study_id}",
                patient=f"p{subject}",
                meta={"view": view},
            )
            keep_if_present(table, record, check_files)
    log.info(
        "%s: %d images from %d studies; counts %s",
        NAME,
        len(table),
        table.counts.get("studies", 0),
        table.counts,
    )
    return table
