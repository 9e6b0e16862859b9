"""Harness records -> the files the toolboxes read: PNG images, PNG masks, list files, COCO json.

Images are resized to ``size`` x ``size`` exactly as the other tasks resize them (bilinear,
antialiased; :mod:`tasks.common.images`), stored as 8-bit grey PNG. Masks are drawn at the stored
image's own size (SIIM: the RLE rows OR-ed; RSNA: the boxes filled), area-downsampled and
thresholded at 0.5, stored as PNG with 0 = background and 1 = foreground. Boxes are scaled to the
resized image. A file that already exists is reused, so one prepared folder serves every label
fraction and seed of a dataset. Images that do not decode are skipped and named at the end
(:class:`~bench.data.damaged.UnreadableImages`: the engine runs the cell again without them).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bench.data.base import Record
from bench.data.damaged import UnreadableImages, decode_error
from bench.data.images import grey_uint8, image_size, load_image, resize
from bench.data.rle import record_mask as rle_mask

log = logging.getLogger(__name__)
IMAGES = "images"
MASKS = "masks"


def file_stem(key: str) -> str:
    """A file-name-safe, collision-free stem for a record key."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", key)[:80]
    return f"{safe}-{hashlib.sha1(key.encode()).hexdigest()[:8]}"


def record_mask(record: Record, height: int, width: int) -> np.ndarray:
    """The foreground of ``record`` at its stored size: RLE rows OR-ed, else its boxes filled."""
    if record.rle:
        return rle_mask(record, height, width)
    mask = np.zeros((height, width), dtype=bool)
    for x1, y1, x2, y2 in record.boxes:
        c1, r1 = max(int(np.floor(x1)), 0), max(int(np.floor(y1)), 0)
        c2, r2 = min(int(np.ceil(x2)), width), min(int(np.ceil(y2)), height)
        mask[r1:r2, c1:c2] = True
    return mask


def mask_png(mask: np.ndarray, size: int) -> np.ndarray:
    """A bool mask -> size x size uint8 0/1 (area-downsampled, foreground where >= 0.5)."""
    return (resize(mask.astype(np.float32), size, "area") >= 0.5).astype(np.uint8)


def _write(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.png")  # atomic even with parallel writers
    Image.fromarray(array).save(tmp)
    tmp.replace(path)


def write_images(
    records: Sequence[Record], folder: Path, size: int, with_masks: bool = False, images: Any = None
) -> dict[str, tuple[int, int]]:
    """Write every record's image (and mask) under ``folder``; key -> stored (height, width).
    ``images``: a :class:`bench.data.image_cache.ImageCache` at ``size`` whose rows are used as they
    are (the same uint8 this function would write)."""
    images = images if images is not None and images.size == size else None
    (folder / IMAGES).mkdir(parents=True, exist_ok=True)
    if with_masks:
        (folder / MASKS).mkdir(parents=True, exist_ok=True)
    shapes: dict[str, tuple[int, int]] = {}
    failures: dict[str, tuple[str, str]] = {}
    written = 0
    for record in records:
        stem = file_stem(record.key)
        image_path = folder / IMAGES / f"{stem}.png"
        mask_path = folder / MASKS / f"{stem}.png"
        try:
            shapes[record.key], wrote = _image(record, image_path, size, images)
            written += wrote
        except Exception as exc:  # noqa: BLE001 - any decoder failure: the record is skipped by the engine
            failures[record.key] = (record.image_path, decode_error(exc))
            continue
        if with_masks and not mask_path.exists():
            _write(mask_path, mask_png(record_mask(record, *shapes[record.key]), size))
    if written:
        log.info("wrote %d image(s) at %d px under %s", written, size, folder)
    if failures:
        raise UnreadableImages(failures)
    return shapes


def _image(record: Record, path: Path, size: int, images: Any) -> tuple[tuple[int, int], bool]:
    """(the stored image's height and width, whether ``path`` was written now)."""
    row = images.row(record) if images is not None else None
    if row is not None:
        shape = (int(images.shapes[row, 0]), int(images.shapes[row, 1]))
        if path.exists():
            return shape, False
        _write(path, np.asarray(images.pixels[row]))
        return shape, True
    if path.exists():
        return image_size(record.image), False
    pixels = load_image(record.image)
    _write(path, grey_uint8(pixels, size))
    return pixels.shape[:2], True


def write_list(records: Sequence[Record], path: Path) -> Path:
    """One file stem per line (MMSeg's ``ann_file``)."""
    path.write_text("".join(f"{file_stem(r.key)}\n" for r in records))
    return path


def coco_dict(
    records: Sequence[Record], shapes: dict[str, tuple[int, int]], size: int, classes: Sequence[str]
) -> dict:
    """COCO detection json of ``records`` at ``size`` px; images without boxes are kept."""
    images, annotations = [], []
    for image_id, record in enumerate(records, start=1):
        height, width = shapes[record.key]
        sx, sy = size / width, size / height
        images.append(
            {"id": image_id, "file_name": f"{file_stem(record.key)}.png", "height": size, "width": size}
        )
        labels = record.box_labels or (0,) * len(record.boxes)
        for (x1, y1, x2, y2), label in zip(record.boxes, labels):
            w, h = (x2 - x1) * sx, (y2 - y1) * sy
            if w <= 0 or h <= 0:
                log.warning("%s: skipping degenerate box %s", record.key, (x1, y1, x2, y2))
                continue
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": int(label) + 1,
                    "bbox": [x1 * sx, y1 * sy, w, h],
                    "area": w * h,
                    "iscrowd": 0,
                }
            )
    categories = [{"id": i + 1, "name": name} for i, name in enumerate(classes)]
    return {"images": images, "annotations": annotations, "categories": categories}


def write_coco(
    records: Sequence[Record],
    shapes: dict[str, tuple[int, int]],
    size: int,
    classes: Sequence[str],
    path: Path,
) -> Path:
    path.write_text(json.dumps(coco_dict(records, shapes, size, classes)))
    return path
