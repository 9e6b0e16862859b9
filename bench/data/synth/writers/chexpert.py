"""CheXpert-v1.0-small layout: train.csv / valid.csv and patient/study/view JPEGs.

Train labels follow the (unwritten) report: 1 / 0 / -1 / blank. Every second train study is a
single-class study cycling through :data:`PURE_CLASSES` (only that finding, no hedges, no devices),
so 5x200- and 8x200-style subsets can be drawn at reduced size. Valid labels are the image truth
(1 when drawn, else 0, no blanks), as the real valid set is a radiologist consensus on images.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from bench.data.base import CHEXPERT_LABELS
from bench.data.synth.findings import KINDS, PURE_CLASSES, StudyPlan
from bench.data.synth.lateral import render_lateral
from bench.data.synth.render import render_frontal
from bench.data.synth.writers.common import (
    FINISH,
    META,
    RENDER,
    SynthContext,
    label_text,
    manifest_entry,
    plan_for,
    save_image,
    write_csv,
)

NAME = "chexpert"
FOLDER = "CheXpert-v1.0-small"
COLUMNS = ("Path", "Sex", "Age", "Frontal/Lateral", "AP/PA", *CHEXPERT_LABELS)
LATERAL = 0.1
VALID_FRACTION, VALID_MIN = 0.2, 40
VALID_OFFSET = 10**6  # valid studies use their own stream indexes


def valid_count(n: int) -> int:
    return max(VALID_MIN, int(round(n * VALID_FRACTION)))


def image_truth(plan: StudyPlan) -> dict[str, float]:
    """1 for every drawn finding's column, 0 elsewhere; No Finding when no pathology is drawn."""
    out = {name: 0.0 for name in CHEXPERT_LABELS}
    for f in plan.drawn():
        out[KINDS[f.kind].label] = 1.0
    pathology = [v for k, v in out.items() if k not in ("No Finding", "Support Devices")]
    out["No Finding"] = 0.0 if any(pathology) else 1.0
    return out


def _study(
    ctx: SynthContext,
    split: str,
    index: int,
    patient: int,
    plan: StudyPlan,
    labels: dict[str, float],
    root: Path,
) -> tuple[list[list[Any]], list[dict[str, Any]]]:
    rng_meta = ctx.rng(NAME, index, META)
    view = "AP" if rng_meta.random() < 0.6 else "PA"
    sex = "Female" if rng_meta.random() < 0.5 else "Male"
    age = int(rng_meta.integers(18, 91))
    rendered = render_frontal(ctx.rng(NAME, index, RENDER), plan.findings, ctx.difficulty, ctx.size)
    base = f"{FOLDER}/{split}/patient{patient:05d}/study1"
    cells = [label_text(labels[c]) for c in CHEXPERT_LABELS]
    rel = f"{base}/view1_frontal.jpg"
    save_image(root / rel, rendered.image)
    rows = [[rel, sex, age, "Frontal", view, *cells]]
    entries = [manifest_entry(rel, rel, split, plan, rendered, view=view, pure=plan.facts.get("pure"))]
    if split == "train" and rng_meta.random() < LATERAL:
        lat = f"{base}/view2_lateral.jpg"
        save_image(
            root / lat,
            render_lateral(ctx.rng(NAME, index, FINISH), rendered.anatomy, ctx.difficulty, ctx.size),
        )
        rows.append([lat, sex, age, "Lateral", "", *cells])
        entries.append(manifest_entry(lat, lat, split, plan, None, view="LATERAL"))
    if split == "valid":
        entries[0]["labels"] = {k: v for k, v in labels.items() if not math.isnan(v)}
    return rows, entries


def write(root: Path, n: int, ctx: SynthContext) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``n`` train studies and :func:`valid_count` valid studies under ``root``."""
    train_rows, valid_rows, entries = [], [], []
    pure_counts = {c: 0 for c in PURE_CLASSES}
    for i in range(n):
        pure = PURE_CLASSES[(i // 2) % len(PURE_CLASSES)] if i % 2 == 0 else None
        plan = plan_for(ctx, NAME, i, force=pure)
        if pure is not None:
            plan = StudyPlan(plan.findings, plan.negated, {"pure": pure})
            pure_counts[pure] += 1
        rows, found = _study(ctx, "train", i, i + 1, plan, plan.labels(), root)
        train_rows += rows
        entries += found
    for j in range(valid_count(n)):
        plan = plan_for(ctx, NAME, VALID_OFFSET + j)
        patient = max(n, 64540) + 1 + j
        rows, found = _study(ctx, "valid", VALID_OFFSET + j, patient, plan, image_truth(plan), root)
        valid_rows += rows
        entries += found
    write_csv(root / FOLDER / "train.csv", COLUMNS, train_rows)
    write_csv(root / FOLDER / "valid.csv", COLUMNS, valid_rows)
    counts = {
        "train": len(train_rows),
        "valid": len(valid_rows),
        "images": len(entries),
        **{f"pure_{k}": v for k, v in pure_counts.items()},
    }
    return counts, entries
