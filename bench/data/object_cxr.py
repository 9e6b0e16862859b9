"""Object-CXR (JF Healthcare): foreign objects as rectangles, ellipses and polygons.

``train.csv`` / ``dev.csv`` have columns ``image_name,annotation``. An annotation joins objects with
``;``; each object is ``<type> <coordinates>`` separated by spaces: type 0 = rectangle and 1 =
ellipse (both by their bounding x1 y1 x2 y2), 2 = polygon (x y point list), turned into the bounding
box of its points. An empty annotation means no object. A malformed object is skipped and recorded
as a problem naming the file and row; the image keeps its other objects.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from bench.data.base import Box, Record, Table
from bench.data.boxes import BoxError, check_box, fit_record
from bench.data.csvfile import (
    EscapingPathError,
    bump,
    inside,
    keep_if_present,
    note_escape,
    read_rows,
    require_file,
)

NAME = "object-cxr"
SPLIT_FILES = {"train": "train.csv", "dev": "dev.csv"}
CLASSES = ("Foreign object",)


def _bounds(coords: list[float]) -> Box:
    xs, ys = coords[0::2], coords[1::2]
    return (min(xs), min(ys), max(xs), max(ys))


def _by_corners(coords: list[float]) -> Box:
    if len(coords) != 4:
        raise ValueError(f"expected 4 coordinates x1 y1 x2 y2, got {len(coords)}")
    return _bounds(coords)


def _by_points(coords: list[float]) -> Box:
    if len(coords) < 4 or len(coords) % 2:
        raise ValueError(f"expected an even number (>= 4) of polygon coordinates, got {len(coords)}")
    return _bounds(coords)


SHAPES: dict[int, tuple[str, Callable[[list[float]], Box]]] = {
    0: ("rectangle", _by_corners),
    1: ("ellipse", _by_corners),
    2: ("polygon", _by_points),
}


def parse_object(text: str) -> tuple[str, Box]:
    """One object (``"<type> x1 y1 ..."``) -> (shape name, x1 y1 x2 y2 box); ValueError if malformed."""
    tokens = text.split()
    try:
        kind = int(tokens[0])
        coords = [float(t) for t in tokens[1:]]
    except (ValueError, IndexError):
        raise ValueError(f"object {text!r}: expected '<type> <numbers...>'") from None
    if not all(math.isfinite(v) for v in coords):
        raise ValueError(f"object {text!r}: coordinates must be finite numbers")
    if kind not in SHAPES:
        raise ValueError(f"object {text!r}: type {kind} unknown; expected one of {sorted(SHAPES)}")
    shape, to_box = SHAPES[kind]
    try:
        box = to_box(coords)
    except ValueError as exc:
        raise ValueError(f"object {text!r} ({shape}): {exc}") from None
    try:
        return shape, check_box(box)
    except BoxError as exc:
        raise ValueError(f"object {text!r} ({shape}): {exc}") from None


def _objects(path: Path, row: int, annotation: str, table: Table) -> tuple[list[Box], list[str]]:
    boxes: list[Box] = []
    shapes: list[str] = []
    if annotation.strip() and not annotation.replace(";", "").strip():
        table.problems.append(f"{path}, row {row}: annotation {annotation.strip()!r} names no object")
        bump(table, "malformed_objects")
    for part in annotation.split(";"):
        if not part.strip():
            continue
        try:
            shape, box = parse_object(part)
        except ValueError as exc:
            table.problems.append(f"{path}, row {row}: {exc}")
            bump(table, "malformed_objects")
            continue
        boxes.append(box)
        shapes.append(shape)
    return boxes, shapes


def read(root: Path, *, check_files: bool = True) -> Table:
    """Records of train.csv ("train") and dev.csv ("dev"), images in root/train and root/dev."""
    root = Path(root)
    table = Table(dataset=NAME, root=root, records=[], classes=CLASSES)
    for split, name in SPLIT_FILES.items():
        path = require_file(root, (name,), f"Object-CXR {split} csv")
        for row, cells in read_rows(path, ("image_name", "annotation")):
            image_name = cells["image_name"].strip()
            try:
                image = inside(root / split, image_name)
            except EscapingPathError as exc:
                note_escape(table, path, row, exc)
                continue
            annotated = bool(cells["annotation"].strip())
            boxes, shapes = _objects(path, row, cells["annotation"], table)
            if annotated and not boxes:
                table.problems.append(f"{path}, row {row}: {image_name}: annotated, but no valid object; image skipped")
                bump(table, "no_valid_box")
                continue
            record = Record(
                key=image_name,
                image=image,
                split=split,
                labels={CLASSES[0]: 1.0 if annotated else 0.0},
                boxes=tuple(boxes),
                box_labels=(0,) * len(boxes),
                meta={"shapes": tuple(shapes)},
            )
            if check_files and record.image.is_file():
                record = fit_record(table, record, f"{path}, row {row}")
                if record is None:
                    continue
            keep_if_present(table, record, check_files)
    return table
