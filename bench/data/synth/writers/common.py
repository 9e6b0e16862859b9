"""What every dataset writer shares: per-study random streams, image files, CSVs, manifest rows."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bench.data.synth.difficulty import Difficulty
from bench.data.synth.findings import Finding, StudyPlan
from bench.data.synth.render import Rendered
from bench.data.synth.scene import bbox

DATASET_CODES = {"mimic-cxr": 1, "chexpert": 2, "rsna": 3, "siim": 4, "covidx": 5, "object-cxr": 6}
PLAN, RENDER, REPORT, META, FINISH = range(5)  # independent random streams of one study


@dataclass(frozen=True)
class SynthContext:
    """Arguments shared by the writers; ``rng`` gives each study its own independent streams."""

    seed: int
    size: int
    difficulty: Difficulty
    realism: Any = None  # bench.data.synth.realism.Realism when enabled

    def rng(self, dataset: str, index: int, stream: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, DATASET_CODES[dataset], index, stream])

    @property
    def annotated(self) -> Difficulty:
        """The difficulty for annotated (box / mask) datasets: what is annotated is drawn."""
        return replace(self.difficulty, mismatch_rate=0.0, hedge_rate=0.0, spurious_hedge_rate=0.0)


def to_uint8(image: np.ndarray) -> np.ndarray:
    return np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


def save_image(path: Path, image: np.ndarray) -> None:
    """JPEG (quality 95) or PNG by suffix; both encoders are deterministic for the same array."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pil = Image.fromarray(to_uint8(image))
    if path.suffix.lower() in (".jpg", ".jpeg"):
        pil.save(path, format="JPEG", quality=95)
    else:
        pil.save(path, format="PNG", compress_level=6)


def write_csv(path: Path, header: Iterable[str], rows: Iterable[Iterable[Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(list(header))
        writer.writerows(rows)


def label_text(value: float) -> str:
    """CheXpert cell: 1.0 / 0.0 / -1.0 / blank."""
    return "" if math.isnan(value) else f"{value:.1f}"


def finding_entry(f: Finding, region: np.ndarray | None) -> dict[str, Any]:
    box = bbox(region)
    return {
        "kind": f.kind,
        "side": f.side,
        "zone": f.zone,
        "severity": f.severity,
        "mention": f.mention,
        "visibility": f.visibility,
        "variant": f.variant,
        "label": f.label,
        "box": list(box) if box is not None else None,
    }


def manifest_entry(
    key: str, image: str, split: str, plan: StudyPlan, rendered: Rendered | None, **extra: Any
) -> dict[str, Any]:
    """One image of the manifest: findings with the boxes of their drawn regions, report labels."""
    regions = rendered.regions if rendered is not None else [None] * len(plan.findings)
    entry: dict[str, Any] = {
        "key": key,
        "image": image,
        "split": split,
        "findings": [finding_entry(f, r) for f, r in zip(plan.findings, regions)],
        "negated": list(plan.negated),
        "labels": {k: v for k, v in plan.labels().items() if not math.isnan(v)},
    }
    entry.update(extra)
    return entry


def split_by_midline(mask: np.ndarray, midline_px: float) -> list[np.ndarray]:
    """The parts of a mask left and right of a pixel column (non-empty ones, image left first)."""
    col = int(round(midline_px))
    parts = []
    for lo, hi in ((0, col), (col, mask.shape[1])):
        part = np.zeros_like(mask)
        part[:, lo:hi] = mask[:, lo:hi]
        if part.any():
            parts.append(part)
    return parts


def plan_for(ctx: SynthContext, dataset: str, index: int, **kwargs: Any) -> StudyPlan:
    """A study's plan from its own stream; label co-occurrence from real data when realism is on."""
    from bench.data.synth.findings import sample_plan

    rng = ctx.rng(dataset, index, PLAN)
    if ctx.realism is not None and kwargs.get("force") is None and not kwargs.get("count"):
        return ctx.realism.sample_plan(rng, ctx.difficulty, exclude=kwargs.get("exclude", ()))
    return sample_plan(rng, kwargs.pop("difficulty", ctx.difficulty), **kwargs)
