"""Validating detection boxes as readers read them: finite, with a positive size, inside the image.

A box may overhang the image by at most :data:`TOLERANCE` of the image side (annotation tools
round, and some draw on the border); it is then clipped to the image. Anything else is refused with
a :class:`BoxError` that the reader counts as a problem, so ``bench data check`` reports it and
detection never trains or scores on it.
"""

from __future__ import annotations

import math
from dataclasses import replace

from bench.data.base import Box, Record, Table
from bench.data.images import image_size

TOLERANCE = 0.02  # fraction of the image width (height) a box may reach past the left/right (top/bottom)


class BoxError(ValueError):
    """A box that cannot be a real object's: non-finite, empty, or outside the image."""


def check_box(box: tuple[float, ...]) -> Box:
    """``box`` (x1, y1, x2, y2) when its coordinates are finite and x2 > x1, y2 > y1."""
    if len(box) != 4:
        raise BoxError(f"box {box}: expected 4 coordinates x1 y1 x2 y2")
    if not all(math.isfinite(v) for v in box):
        raise BoxError(f"box {tuple(box)}: coordinates must be finite numbers")
    x1, y1, x2, y2 = (float(v) for v in box)
    if not (x2 > x1 and y2 > y1):
        raise BoxError(f"box {tuple(box)}: width and height must be positive")
    return (x1, y1, x2, y2)


def fit_box(box: Box, height: int, width: int, tolerance: float = TOLERANCE) -> Box:
    """``box`` clipped to a ``height`` x ``width`` image; :class:`BoxError` when it reaches past an
    edge by more than ``tolerance`` of that side or has no area left after clipping."""
    x1, y1, x2, y2 = check_box(box)
    dx, dy = tolerance * width, tolerance * height
    if x1 < -dx or y1 < -dy or x2 > width + dx or y2 > height + dy:
        raise BoxError(
            f"box {box} lies outside the {width}x{height} image (more than {tolerance:.0%} of a side past an edge)"
        )
    clipped = (max(x1, 0.0), max(y1, 0.0), min(x2, float(width)), min(y2, float(height)))
    if not (clipped[2] > clipped[0] and clipped[3] > clipped[1]):
        raise BoxError(f"box {box} has no area inside the {width}x{height} image")
    return clipped


def fit_record(table: Table, record: Record, where: str) -> Record | None:
    """``record`` with its boxes clipped to its image; boxes outside are dropped and counted
    (``where`` names the file and rows). None when a record that had boxes keeps none. The image
    header gives the size; an unreadable header leaves the boxes as they are (the image itself is
    then reported unreadable)."""
    if not record.boxes:
        return record
    try:
        height, width = image_size(record.image)
    except Exception:  # noqa: BLE001 - any header failure is reported by `data check` as unreadable
        return record
    boxes, labels = [], []
    for box, label in zip(record.boxes, record.box_labels or (0,) * len(record.boxes)):
        try:
            boxes.append(fit_box(box, height, width))
            labels.append(label)
        except BoxError as exc:
            table.problems.append(f"{where}: {record.key}: {exc}; box dropped")
            table.counts["invalid_boxes"] = table.counts.get("invalid_boxes", 0) + 1
    if not boxes:
        table.problems.append(f"{where}: {record.key}: no valid box left; image skipped")
        table.counts["no_valid_box"] = table.counts.get("no_valid_box", 0) + 1
        return None
    return replace(record, boxes=tuple(boxes), box_labels=tuple(labels))
