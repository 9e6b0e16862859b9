"""Where SynthCXR's lung opacities go and how large they are: the real RSNA boxes, read at run time.

torchxrayvision's wheel ships the real RSNA Pneumonia stage-2 train labels
(``data/kaggle_stage_2_train_labels.csv.zip``: 30,227 rows, 9,555 boxes on 1024 px images). When
the package is installed that file is read (never copied) and each opacity draws a real box's
centre, width and height as fractions of the image side, conditioned on its lung and zone, and
RSNA-style images draw their number of boxes and their sides from a real positive image. Without
the package a built-in sample with the same quartiles stands in (width 0.17 / 0.21 / 0.25, height
0.20 / 0.29 / 0.43 of the side; 1, 2, 3, 4 boxes on 2,614, 3,266, 119, 13 images).

A real box's centre is placed relative to the lung fields of the real images (rows 0.10 to 0.90,
0.04 to 0.44 of the side from the midline: the 2nd and 98th percentiles of the real box edges) and
mapped onto each patient's lung (apex to costophrenic level, medial border to outer edge); its
zone is the third of that height holding the centre. Width and height stay fractions of the side.
"""

from __future__ import annotations

import csv
import functools
import io
import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.data.synth.anatomy import SIGN, Anatomy, lung_sd
from bench.data.synth.findings import ZONES
from bench.data.synth.realism import data_dir

log = logging.getLogger(__name__)
RSNA_FILE = "kaggle_stage_2_train_labels.csv.zip"
RSNA_SIDE = 1024.0  # RSNA images are 1024 x 1024 pixels
TEMPLATE_TOP, TEMPLATE_BASE = 0.10, 0.90  # rows of the real lung fields (fractions of the side)
TEMPLATE_INNER, TEMPLATE_OUTER = 0.04, 0.44  # their columns, as distances from the midline
REAL_COUNTS = {1: 2614, 2: 3266, 3: 119, 4: 13}  # boxes per positive RSNA image -> images


def side_of(cx: float) -> str:
    """The patient's side of a box centre (the patient's right is on the image's left)."""
    return "right" if cx < 0.5 else "left"


def zone_of(cy: float) -> str:
    third = (cy - TEMPLATE_TOP) / ((TEMPLATE_BASE - TEMPLATE_TOP) / 3.0)
    return ZONES[int(np.clip(np.floor(third), 0, 2))]


@dataclass(frozen=True)
class BoxStats:
    """Boxes (centre x, centre y, width, height; fractions of the side) grouped by image."""

    source: str  # "rsna-labels" (the real file) or "built-in"
    boxes: np.ndarray  # float [N, 4]
    images: tuple[tuple[int, ...], ...]  # per positive image, the indices of its boxes

    @functools.cached_property
    def buckets(self) -> dict[tuple[str, str], np.ndarray]:
        keys = [(side_of(cx), zone_of(cy)) for cx, cy in self.boxes[:, :2]]
        out = {}
        for side in ("right", "left"):
            for zone in ZONES:
                out[side, zone] = np.array([i for i, k in enumerate(keys) if k == (side, zone)], int)
        return out

    def counts(self) -> dict[int, int]:
        """Boxes per positive image -> number of images."""
        values, n = np.unique([len(b) for b in self.images], return_counts=True)
        return {int(v): int(c) for v, c in zip(values, n)}

    def layout(self, rng: np.random.Generator) -> list[tuple[str, str]]:
        """(side, zone) of every box of one real positive image, drawn at random."""
        picked = self.images[int(rng.integers(len(self.images)))]
        return [(side_of(self.boxes[i, 0]), zone_of(self.boxes[i, 1])) for i in picked]

    def draw(self, rng: np.random.Generator, side: str, zone: str) -> np.ndarray:
        """One box (cx, cy, w, h) in template fractions from this lung and zone (any zone if none)."""
        pool = self.buckets.get((side, zone))
        if pool is None or len(pool) == 0:
            pool = np.concatenate([self.buckets[side, z] for z in ZONES])
        return self.boxes[int(pool[int(rng.integers(len(pool)))])]


def place_box(box: np.ndarray, anat: Anatomy, scale: float = 1.0) -> tuple[float, float, float, float]:
    """A template box on this patient: frame (u, v) centre and half-extents, inside its side.

    The centre moves with the patient's lung (apex, base, borders); width and height stay
    fractions of the image side (times ``scale``), clipped so the box keeps to its half of the chest.
    """
    cx, cy, w, h = (float(x) for x in box)
    side = side_of(cx)
    top, base, width = anat.side_params(side)
    reach = (abs(cx - 0.5) - TEMPLATE_INNER) / (TEMPLATE_OUTER - TEMPLATE_INNER)
    u = anat.cx + SIGN[side] * (anat.medial + reach * width)
    v = top + (cy - TEMPLATE_TOP) * (base - top) / (TEMPLATE_BASE - TEMPLATE_TOP)
    hw, hh = 0.5 * w * scale, 0.5 * h * scale
    lo, hi = (0.01, anat.cx - 0.5 * anat.medial) if side == "right" else (anat.cx + 0.5 * anat.medial, 0.99)
    u0, u1 = max(lo, u - hw), min(hi, u + hw)
    v0, v1 = max(0.01, v - hh), min(0.99, v + hh)
    return 0.5 * (u0 + u1), 0.5 * (v0 + v1), max(0.5 * (u1 - u0), 0.005), max(0.5 * (v1 - v0), 0.005)


def in_lung(anat: Anatomy, side: str, u: float, v: float, margin: float = 0.01) -> bool:
    """Whether a frame point lies at least ``margin`` inside that side's lung."""
    return float(lung_sd(SIGN[side] * (u - anat.cx), v, anat, side)) > margin


def load_rsna(path: Path) -> BoxStats:
    """The real boxes of RSNA's ``stage_2_train_labels.csv`` (zipped or plain)."""
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            text = archive.read(archive.namelist()[0]).decode("utf-8")
    else:
        text = path.read_text(encoding="utf-8")
    boxes: list[tuple[float, ...]] = []
    by_patient: dict[str, list[int]] = {}
    for row in csv.DictReader(io.StringIO(text)):
        if row["Target"] != "1":
            continue
        x, y, w, h = (float(row[k]) / RSNA_SIDE for k in ("x", "y", "width", "height"))
        by_patient.setdefault(row["patientId"], []).append(len(boxes))
        boxes.append((x + w / 2, y + h / 2, w, h))
    if not boxes:
        raise ValueError(f"{path}: no rows with Target 1 (expected RSNA's stage_2_train_labels.csv)")
    return BoxStats("rsna-labels", np.asarray(boxes, float), tuple(tuple(v) for v in by_patient.values()))


def builtin(seed: int = 0) -> BoxStats:
    """A fixed sample with the real quartiles: log-normal width and height (correlated 0.6),
    centres about 0.2 of the side from the midline and at 0.52 of the height, real box counts."""
    rng = np.random.default_rng(seed)
    sides: list[tuple[str, ...]] = []
    for k, n in REAL_COUNTS.items():
        for _ in range(n):
            first = "right" if rng.random() < 0.62 else "left"  # single boxes: 1,618 right of 2,614
            other = "left" if first == "right" else "right"
            layouts = {1: (first,), 2: (first, other), 3: (first, first, other)}
            sides.append(layouts.get(k, (first, first, other, other)))
    total = sum(len(s) for s in sides)
    z = rng.multivariate_normal([0.0, 0.0], [[1.0, 0.6], [0.6, 1.0]], size=total)
    w = np.clip(0.21 * np.exp(0.286 * z[:, 0]), 0.03, 0.5)  # quartiles 0.17 / 0.21 / 0.25
    h = np.clip(0.29 * np.exp(0.567 * z[:, 1]), 0.03, 0.9)  # quartiles 0.20 / 0.29 / 0.43
    offset = np.abs(rng.normal(0.19, 0.059, total))
    cy = np.clip(rng.normal(0.518, 0.113, total), 0.15, 0.85)
    flat = [s for image in sides for s in image]
    cx = np.where(np.array(flat) == "right", 0.5 - offset, 0.5 + offset)
    images, start = [], 0
    for image in sides:
        images.append(tuple(range(start, start + len(image))))
        start += len(image)
    return BoxStats("built-in", np.stack([cx, cy, w, h], axis=1), tuple(images))


@functools.lru_cache(maxsize=1)
def opacity_boxes() -> BoxStats:
    """The real RSNA boxes when torchxrayvision is installed, else the built-in sample."""
    folder = data_dir()
    path = folder / RSNA_FILE if folder is not None else None
    if path is not None and path.is_file():
        return load_rsna(path)
    log.info("%s not installed (torchxrayvision); opacity boxes follow the built-in sample", RSNA_FILE)
    return builtin()
