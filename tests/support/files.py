"""Tiny real-format files for the reader tests: images, DICOMs and CSVs written as the datasets ship them."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image

from bench.data.dicom import write_dicom


def tiny_pixels(height: int = 6, width: int = 8) -> np.ndarray:
    return (np.arange(height * width, dtype=np.uint16).reshape(height, width) * 5 % 256).astype(np.uint8)


def write_jpg(path: Path, height: int = 6, width: int = 8) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(tiny_pixels(height, width)).save(path)
    return path


def write_dcm(path: Path, height: int = 6, width: int = 8, **kwargs) -> Path:
    kwargs.setdefault("patient_id", path.stem)
    return write_dicom(path, tiny_pixels(height, width), **kwargs)


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    """A CSV written like pandas/Kaggle write them: comma separated, no index, empty for NaN."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def corrupt(path: Path) -> Path:
    """Keep the first bytes only, so the header may parse but the pixels cannot."""
    data = path.read_bytes()
    path.write_bytes(data[: max(8, len(data) // 3)])
    return path
