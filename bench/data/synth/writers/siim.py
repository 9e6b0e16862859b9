"""SIIM-ACR layout: train-rle.csv (leading-space header) and dicom-images-train/<study>/<series>/.

About 35 % of images hold a pneumothorax; a fifth of those are bilateral and get one RLE row per
side (the reader ORs them). Each mask is exactly the drawn air region. Negative rows alternate
between "-1" and " -1", as both spellings occur in the wild.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.data.dicom import write_dicom
from bench.data.rle import rle_encode
from bench.data.synth.findings import Finding, StudyPlan, sample_finding
from bench.data.synth.ids import dicom_uid, study_date
from bench.data.synth.render import render_frontal
from bench.data.synth.writers.common import (
    META,
    PLAN,
    RENDER,
    SynthContext,
    manifest_entry,
    plan_for,
    split_by_midline,
    to_uint8,
)

NAME = "siim"
POSITIVE, BILATERAL, DISTRACTORS = 0.35, 0.2, 0.4


def _plan(ctx: SynthContext, i: int) -> StudyPlan:
    rng = ctx.rng(NAME, i, META)
    positive, bilateral, distract = (rng.random() < p for p in (POSITIVE, BILATERAL, DISTRACTORS))
    if i == 1:  # every dataset holds at least one image with several mask rows
        positive = bilateral = True
    background = plan_for(
        ctx, NAME, i, difficulty=ctx.annotated, count=int(distract), exclude=("pneumothorax",)
    )
    if not positive:
        return background
    rng_plan = ctx.rng(NAME, i + 10**6, PLAN)
    ptx = sample_finding(rng_plan, "pneumothorax")
    sides = ("right", "left") if bilateral else (ptx.side,)
    found = tuple(Finding("pneumothorax", s, ptx.zone, ptx.severity) for s in sides)
    return StudyPlan(found + background.findings, ())


def write(root: Path, n: int, ctx: SynthContext) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    lines, entries, negatives, masks = ["ImageId, EncodedPixels"], [], 0, 0
    for i in range(n):
        plan = _plan(ctx, i)
        rendered = render_frontal(ctx.rng(NAME, i, RENDER), plan.findings, ctx.annotated, ctx.size)
        image_id = dicom_uid(ctx.seed, NAME, i, "sop")
        study, series = dicom_uid(ctx.seed, NAME, i, "study"), dicom_uid(ctx.seed, NAME, i, "series")
        rel = f"dicom-images-train/{study}/{series}/{image_id}.dcm"
        date, _ = study_date(ctx.seed, NAME, i)
        write_dicom(
            root / rel,
            to_uint8(rendered.image),
            patient_id=f"synth{i:06d}",
            sop_instance_uid=image_id,
            study_uid=study,
            series_uid=series,
            view_position="PA",
            extra={"StudyDate": date, "ContentDate": date, "StudyTime": "000000"},
        )
        rles = []
        for f, region in zip(plan.findings, rendered.regions):
            if f.kind == "pneumothorax" and region is not None:
                rles += [
                    rle_encode(part) for part in split_by_midline(region, rendered.anatomy.cx * ctx.size)
                ]
        if rles:
            lines += [f"{image_id}, {rle}" for rle in rles]
            masks += len(rles)
        else:
            lines.append(f"{image_id},{' -1' if negatives % 2 == 0 else '-1'}")
            negatives += 1
        entries.append(manifest_entry(image_id, rel, "train", plan, rendered, rle=rles))
    (root / "train-rle.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"images": n, "positive": n - negatives, "negative": negatives, "rle_rows": masks}, entries
