"""RSNA Pneumonia layout: stage_2_train_labels.csv, stage_2_detailed_class_info.csv, one DICOM each.

About 35 % of patients are "Lung Opacity" (Target 1, one box per drawn opacity and lung: the box
is the bounding box of exactly the pixels the opacity changed; how many boxes, on which sides, and
their sizes and positions follow the real RSNA boxes, see ``boxes``), 35 % "No Lung Opacity / Not
Normal" (other findings only) and 30 % "Normal". A fifth of the DICOMs are MONOCHROME1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench.data.dicom import write_dicom
from bench.data.synth.boxes import opacity_boxes
from bench.data.synth.difficulty import Difficulty
from bench.data.synth.findings import KINDS, StudyPlan, sample_finding, sample_negations
from bench.data.synth.ids import dicom_uid, hex_id, study_date
from bench.data.synth.render import Rendered, render_frontal
from bench.data.synth.scene import bbox
from bench.data.synth.writers.common import (
    META,
    PLAN,
    RENDER,
    SynthContext,
    manifest_entry,
    plan_for,
    split_by_midline,
    to_uint8,
    write_csv,
)

NAME = "rsna"
OPACITY_KINDS = ("consolidation", "pneumonia", "opacity")
NOT_OPACITY = tuple(k for k in KINDS if k not in OPACITY_KINDS + ("atelectasis", "edema"))
CLASSES = ("Lung Opacity", "No Lung Opacity / Not Normal", "Normal")


def _plan(ctx: SynthContext, i: int, klass: str) -> StudyPlan:
    diff = ctx.annotated
    if klass == "Normal":
        return plan_for(ctx, NAME, i, force="normal", difficulty=diff)
    if klass == "No Lung Opacity / Not Normal":
        count = 1 + int(ctx.rng(NAME, i, META).random() < 0.3)
        return plan_for(
            ctx,
            NAME,
            i,
            difficulty=diff,
            count=count,
            exclude=tuple(k for k in KINDS if k not in NOT_OPACITY),
        )
    extra = int(ctx.rng(NAME, i, META).random() < 0.3)
    opacity = _opacity_plan(ctx.rng(NAME, i, PLAN), diff)
    if not extra:
        return opacity
    other = plan_for(ctx, NAME, i + 10**6, difficulty=diff, count=1, exclude=OPACITY_KINDS)
    return StudyPlan(opacity.findings + other.findings, ())


def _opacity_plan(rng: np.random.Generator, diff: Difficulty) -> StudyPlan:
    """Opacities laid out like a real positive RSNA image: its number of boxes, their sides and
    zones; a box in each lung is one bilateral finding, a lung's further box another finding."""
    right, left = [], []
    for side, zone in opacity_boxes().layout(rng):
        (right if side == "right" else left).append(zone)
    weights = np.array([KINDS[k].weight for k in OPACITY_KINDS])
    findings = []
    while right or left:
        if right and left:
            zones = (right.pop(0), left.pop(0))
            side, zone = "bilateral", zones[int(rng.integers(2))]
        else:
            side, zone = ("right", right.pop(0)) if right else ("left", left.pop(0))
        kind = OPACITY_KINDS[int(rng.choice(len(OPACITY_KINDS), p=weights / weights.sum()))]
        findings.append(sample_finding(rng, kind, side=side, zone=zone))
    return StudyPlan(tuple(findings), sample_negations(rng, diff, {f.kind for f in findings}))


def _boxes(plan: StudyPlan, rendered: Rendered, midline_px: float) -> list[tuple[int, int, int, int]]:
    boxes = []
    for f, region in zip(plan.findings, rendered.regions):
        if f.kind in OPACITY_KINDS and region is not None:
            boxes += [bbox(part) for part in split_by_midline(region, midline_px)]
    return boxes


def write(root: Path, n: int, ctx: SynthContext) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    label_rows, class_rows, entries = [], [], []
    counts = {c: 0 for c in CLASSES}
    for i in range(n):
        rng_meta = ctx.rng(NAME, i, META)
        u = rng_meta.random()
        klass = CLASSES[0] if u < 0.35 else (CLASSES[1] if u < 0.7 else CLASSES[2])
        plan = _plan(ctx, i, klass)
        rendered = render_frontal(ctx.rng(NAME, i, RENDER), plan.findings, ctx.annotated, ctx.size)
        midline = rendered.anatomy.cx * ctx.size
        boxes = _boxes(plan, rendered, midline) if klass == CLASSES[0] else []
        if klass == CLASSES[0] and not boxes:  # every opacity is drawn, so this cannot happen
            raise RuntimeError(f"rsna study {i}: opacity planned but nothing drawn")
        pid = hex_id(ctx.seed, NAME, i)
        photometric = "MONOCHROME1" if i % 5 == 2 else "MONOCHROME2"
        view = "AP" if rng_meta.random() < 0.5 else "PA"
        date, _ = study_date(ctx.seed, NAME, i)
        rel = f"stage_2_train_images/{pid}.dcm"
        write_dicom(
            root / rel,
            to_uint8(rendered.image),
            patient_id=pid,
            sop_instance_uid=dicom_uid(ctx.seed, NAME, i, "sop"),
            study_uid=dicom_uid(ctx.seed, NAME, i, "study"),
            series_uid=dicom_uid(ctx.seed, NAME, i, "series"),
            photometric=photometric,
            view_position=view,
            extra={"StudyDate": date, "ContentDate": date, "StudyTime": "000000"},
        )
        for x1, y1, x2, y2 in boxes:
            label_rows.append([pid, f"{x1:.1f}", f"{y1:.1f}", f"{x2 - x1:.1f}", f"{y2 - y1:.1f}", 1])
            class_rows.append([pid, klass])
        if not boxes:
            label_rows.append([pid, "", "", "", "", 0])
            class_rows.append([pid, klass])
        counts[klass] += 1
        entries.append(
            manifest_entry(
                pid,
                rel,
                "train",
                plan,
                rendered,
                klass=klass,
                photometric=photometric,
                boxes=[list(b) for b in boxes],
            )
        )
    write_csv(
        root / "stage_2_train_labels.csv", ("patientId", "x", "y", "width", "height", "Target"), label_rows
    )
    write_csv(root / "stage_2_detailed_class_info.csv", ("patientId", "class"), class_rows)
    return {"images": n, "boxes": sum(len(e["boxes"]) for e in entries), **counts}, entries
