"""CheXpert v1.0 (full or -small): train.csv and valid.csv with 14 raw labels per image.

Labels are kept raw (1, 0, -1 = uncertain, nan = blank); :func:`apply_uncertainty` maps them with
a named policy. ``Path`` in the CSVs starts with the dataset folder name
(``CheXpert-v1.0-small/train/...``); images are resolved against the folder holding the CSVs, so
``root`` may be that folder or its parent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from bench.config import ConfigError
from bench.data.base import CHEXPERT_LABELS, Record, Table
from bench.data.csvfile import (
    EscapingPathError,
    bump,
    inside,
    keep_if_present,
    label_cells,
    note_escape,
    read_rows,
    require_file,
)

NAME = "chexpert"
FOLDERS = ("CheXpert-v1.0-small", "CheXpert-v1.0")
SPLIT_FILES = {"train": "train.csv", "valid": "valid.csv"}
COLUMNS = ("Path", "Frontal/Lateral", *CHEXPERT_LABELS)


def dataset_dir(root: Path) -> Path:
    """The folder holding train.csv/valid.csv: ``root`` itself or one of its CheXpert subfolders."""
    for folder in FOLDERS:
        if (root / folder / "train.csv").is_file() or (root / folder / "valid.csv").is_file():
            return root / folder
    return root


def _image_path(base: Path, rel: str) -> Path:
    """The image of a ``Path`` cell, inside ``base`` (:class:`EscapingPathError` otherwise)."""
    image = inside(base, rel)
    parts = image.relative_to(base).parts
    # Drop the leading dataset-folder component (CheXpert-v1.0-small/...), whatever its name.
    return base.joinpath(*parts[1:]) if len(parts) > 1 and parts[1] in ("train", "valid", "test") else image


def _record(path: Path, row: int, cells: Mapping[str, str], base: Path, split: str) -> Record:
    rel = cells["Path"].strip()
    labels = label_cells(path, row, cells, CHEXPERT_LABELS)
    parts = PurePosixPath(rel).parts
    patient = next((p for p in parts if p.startswith("patient")), None)
    study = next((p for p in parts if p.startswith("study")), None)
    return Record(
        key=rel,
        image=_image_path(base, rel),
        split=split,
        labels=labels,
        study=f"{patient}/{study}" if patient and study else None,
        patient=patient,
        meta={
            "view": cells["Frontal/Lateral"].strip(),
            "ap_pa": cells.get("AP/PA", "").strip(),
            "sex": cells.get("Sex", "").strip(),
            "age": cells.get("Age", "").strip(),
        },
    )


def read(
    root: Path,
    *,
    frontal_only: bool = True,
    splits: tuple[str, ...] = ("train", "valid"),
    check_files: bool = True,
) -> Table:
    """Images of the wanted ``splits`` ("train" from train.csv, "valid" from valid.csv)."""
    root = Path(root)
    base = dataset_dir(root)
    table = Table(dataset=NAME, root=root, records=[], classes=CHEXPERT_LABELS)
    for split in splits:
        if split not in SPLIT_FILES:
            raise ConfigError(f"unknown CheXpert split {split!r}; expected one of {sorted(SPLIT_FILES)}")
        path = require_file(base, (SPLIT_FILES[split],), f"CheXpert {split} csv")
        for row, cells in read_rows(path, COLUMNS):
            if frontal_only and cells["Frontal/Lateral"].strip().lower() != "frontal":
                bump(table, "lateral")
                continue
            try:
                record = _record(path, row, cells, base, split)
            except EscapingPathError as exc:
                note_escape(table, path, row, exc)
                continue
            keep_if_present(table, record, check_files)
    return table


# -- uncertainty policies ------------------------------------------------------------------------
@dataclass(frozen=True)
class UncertaintyPolicy:
    """What -1 (uncertain) becomes, per class or by default, and what blank becomes."""

    uncertain: float | None  # default for -1; None keeps -1
    per_class: dict[str, float] = field(default_factory=dict)
    blank: float = 0.0

    def apply(self, labels: Mapping[str, float]) -> dict[str, float]:
        out: dict[str, float] = {}
        for name, value in labels.items():
            if value is None or math.isnan(value):
                out[name] = self.blank
            elif value == -1.0:
                target = self.per_class.get(name, self.uncertain)
                out[name] = -1.0 if target is None else target
            else:
                out[name] = float(value)
        return out


POLICIES: dict[str, UncertaintyPolicy] = {
    "ones": UncertaintyPolicy(uncertain=1.0),  # U-Ones
    "zeros": UncertaintyPolicy(uncertain=0.0),  # U-Zeros
    # GLoRIA/MGCA: U-Ones or U-Zeros per competition class (after the CheXpert paper), blank -> 0.
    # Like them, -1 in the other nine classes is left as it is; those classes are not evaluated.
    "gloria": UncertaintyPolicy(
        uncertain=None,
        per_class={
            "Atelectasis": 1.0,
            "Cardiomegaly": 0.0,
            "Consolidation": 0.0,
            "Edema": 1.0,
            "Pleural Effusion": 1.0,
        },
    ),
}


def apply_uncertainty(labels: Mapping[str, float], policy: str) -> dict[str, float]:
    """Map raw CheXpert labels (1, 0, -1, nan) with the named policy ("ones", "zeros", "gloria")."""
    if policy not in POLICIES:
        raise ConfigError(f"unknown uncertainty policy {policy!r}; expected one of {sorted(POLICIES)}")
    return POLICIES[policy].apply(labels)
