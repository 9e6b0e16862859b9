"""RSNA Pneumonia Detection (Kaggle stage 2): boxes per patient, one DICOM per patient.

``stage_2_train_labels.csv`` has one row per box (``patientId,x,y,width,height,Target``); a negative
patient has one row with empty coordinates and Target 0. Rows are grouped into one record per
patient with all its boxes converted from (x, y, width, height) to (x1, y1, x2, y2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bench.data.base import Box, DataFormatError, Record, Table
from bench.data.boxes import BoxError, check_box, fit_record
from bench.data.csvfile import (
    EscapingPathError,
    bump,
    find_file,
    inside,
    keep_if_present,
    note_escape,
    number,
    read_rows,
    require_file,
)

NAME = "rsna"
LABELS = ("stage_2_train_labels.csv",)
CLASS_INFO = ("stage_2_detailed_class_info.csv",)
IMAGES = "stage_2_train_images"
BOX_COLUMNS = ("x", "y", "width", "height")
CLASSES = ("Pneumonia",)


@dataclass
class _Patient:
    target: float = 0.0
    boxes: list[Box] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    invalid: int = 0  # boxes refused (non-finite, empty, outside the image)


def _box(path: Path, row: int, cells: dict[str, str]) -> Box | None:
    texts = [cells[c].strip() for c in BOX_COLUMNS]
    blank = [t == "" or t.lower() == "nan" for t in texts]
    if all(blank):
        return None
    if any(blank):
        raise BoxError(f"box partly empty ({', '.join(texts)}); expected all four numbers or none")
    x, y, w, h = (number(path, row, c, t) for c, t in zip(BOX_COLUMNS, texts))
    try:
        return check_box((x, y, x + w, y + h))
    except BoxError:
        raise BoxError(f"box x={x}, y={y}, width={w}, height={h}: expected finite numbers and a positive size") from None


def _target(path: Path, row: int, text: str) -> float:
    value = number(path, row, "Target", text)
    if value not in (0.0, 1.0):
        raise DataFormatError(path, f"Target must be 0 or 1, got {text!r}", row)
    return value


def _read_patients(path: Path, table: Table) -> dict[str, _Patient]:
    patients: dict[str, _Patient] = {}
    for row, cells in read_rows(path, ("patientId", *BOX_COLUMNS, "Target")):
        pid = cells["patientId"].strip()
        if not pid:
            raise DataFormatError(path, "empty patientId", row)
        target = _target(path, row, cells["Target"])
        patient = patients.setdefault(pid, _Patient())
        patient.rows.append(row)
        patient.target = max(patient.target, target)
        try:
            box = _box(path, row, cells)
        except BoxError as exc:
            table.problems.append(f"{path}, row {row}: {exc}; box dropped")
            bump(table, "invalid_boxes")
            patient.invalid += 1
            continue
        if box is not None and target == 0.0:
            table.problems.append(f"{path}, row {row}: box given with Target 0; box kept, label 0")
            bump(table, "box_without_target")
        if box is None and target == 1.0:
            table.problems.append(f"{path}, row {row}: Target 1 but no box")
            bump(table, "target_without_box")
        if box is not None:
            patient.boxes.append(box)
    return patients


def _read_classes(root: Path) -> dict[str, str]:
    path = find_file(root, CLASS_INFO)
    if path is None:
        return {}
    classes: dict[str, str] = {}
    for _, cells in read_rows(path, ("patientId", "class")):
        classes.setdefault(cells["patientId"].strip(), cells["class"].strip())
    return classes


def read(root: Path, *, check_files: bool = True) -> Table:
    """One record per patient: all boxes, labels {"Pneumonia": Target}, detailed class in meta."""
    root = Path(root)
    table = Table(dataset=NAME, root=root, records=[], classes=CLASSES)
    labels = require_file(root, LABELS, "RSNA labels csv")
    patients = _read_patients(labels, table)
    detail = _read_classes(root)
    for pid, patient in patients.items():
        meta: dict[str, object] = {"rows": len(patient.rows)}
        if pid in detail:
            meta["class"] = detail[pid]
        where = f"{labels}, row(s) {', '.join(map(str, patient.rows))}"
        if patient.invalid and not patient.boxes:
            table.problems.append(f"{where}: {pid}: no valid box left; image skipped")
            bump(table, "no_valid_box")
            continue
        try:
            image = inside(root, f"{IMAGES}/{pid}.dcm")
        except EscapingPathError as exc:
            note_escape(table, labels, patient.rows[0], exc)
            continue
        record = Record(
            key=pid,
            image=image,
            split="train",
            labels={"Pneumonia": patient.target},
            boxes=tuple(patient.boxes),
            box_labels=(0,) * len(patient.boxes),
            patient=pid,
            meta=meta,
        )
        if check_files and record.image.is_file():
            record = fit_record(table, record, where)
            if record is None:
                continue
        keep_if_present(table, record, check_files)
    return table
