"""SIIM-ACR Pneumothorax Segmentation (Kaggle stage 1): RLE masks per image, DICOMs in a tree.

``train-rle.csv`` has the header ``ImageId, EncodedPixels`` (note the leading space); ``-1`` (or
``" -1"``) marks an image without pneumothorax and an image with several masks has several rows,
all kept in ``Record.rle`` to be OR-ed (see :mod:`bench.data.rle`). DICOMs live under
``dicom-images-train/<study>/<series>/<ImageId>.dcm`` and are found by walking that tree.
"""

from __future__ import annotations

import os
from pathlib import Path

from bench.data.base import DataFormatError, Record, Table
from bench.data.csvfile import note_missing, read_rows, require_file
from bench.data.rle import EMPTY

NAME = "siim"
RLE_CSV = ("train-rle.csv",)
IMAGES = "dicom-images-train"
CLASSES = ("Pneumothorax",)


def index_dicoms(folder: Path) -> dict[str, Path]:
    """ImageId (file stem) -> path for every ``*.dcm`` below ``folder``."""
    index: dict[str, Path] = {}
    for dirpath, _, files in os.walk(folder):
        for name in files:
            if name.lower().endswith(".dcm"):
                index.setdefault(name[:-4], Path(dirpath) / name)
    return index


def _check_rle(path: Path, row: int, text: str) -> None:
    tokens = text.split()
    if not all(t.isascii() and t.isdigit() for t in tokens) or len(tokens) % 2:
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise DataFormatError(
            path, f"EncodedPixels {shown!r}: expected '-1' or an even number of non-negative integers", row
        )


def _read_rles(path: Path) -> dict[str, list[tuple[int, str]]]:
    """ImageId -> [(row, RLE)] of its non-empty rows (an image with only ``-1`` maps to [])."""
    rles: dict[str, list[tuple[int, str]]] = {}
    for row, cells in read_rows(path, ("ImageId", "EncodedPixels")):
        image_id, text = cells["ImageId"].strip(), cells["EncodedPixels"].strip()
        if not image_id:
            raise DataFormatError(path, "empty ImageId", row)
        masks = rles.setdefault(image_id, [])
        if text in (EMPTY, ""):
            continue
        _check_rle(path, row, text)
        masks.append((row, text))
    return rles


def read(root: Path, *, images_dir: str = IMAGES) -> Table:
    """One record per ImageId with every non-empty RLE row, labels {"Pneumothorax": 0/1}."""
    root = Path(root)
    csv_path = require_file(root, RLE_CSV, "SIIM train-rle csv")
    table = Table(dataset=NAME, root=root, records=[], classes=CLASSES)
    rles = _read_rles(csv_path)
    folder = root / images_dir
    if not folder.is_dir():
        table.problems.append(f"{folder}: DICOM folder missing")
    dicoms = index_dicoms(folder)
    for image_id, masks in rles.items():
        image = dicoms.get(image_id)
        if image is None:
            note_missing(table, folder / f"{image_id}.dcm")
            continue
        table.records.append(
            Record(
                key=image_id,
                image=image,
                split="train",
                labels={"Pneumothorax": 1.0 if masks else 0.0},
                rle=tuple(text for _, text in masks),
                meta={"masks": len(masks), "rle_source": str(csv_path), "rle_rows": [row for row, _ in masks]},
            )
        )
    unlisted = len(set(dicoms) - set(rles))
    if unlisted:
        table.counts["unlisted_images"] = unlisted
    return table
