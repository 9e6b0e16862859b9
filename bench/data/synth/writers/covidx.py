"""COVIDx layout (3 classes, as MGCA uses it): train.txt / test.txt and PNGs in train/ and test/.

normal: no finding; pneumonia: lobar consolidation or patchy pneumonia, mostly one lung;
COVID-19: bilateral peripheral ground-glass opacities in the lower (sometimes middle) zones.
Patients are split 80 / 20 into train and test; some patients have two images.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.data.synth.findings import Finding, StudyPlan, sample_finding
from bench.data.synth.ids import hex_id, number
from bench.data.synth.render import render_frontal
from bench.data.synth.writers.common import META, PLAN, RENDER, SynthContext, manifest_entry, save_image

NAME = "covidx"
CLASSES = ("normal", "pneumonia", "COVID-19")
CLASS_WEIGHTS = (0.4, 0.3, 0.3)


def _plan(ctx: SynthContext, i: int, klass: str) -> StudyPlan:
    rng = ctx.rng(NAME, i, PLAN)
    if klass == "normal":
        return StudyPlan(facts={"class": klass})
    severity = "moderate" if rng.random() < 0.6 else "severe"
    if klass == "pneumonia":
        kind = "consolidation" if rng.random() < 0.6 else "pneumonia"
        f = sample_finding(rng, kind, severity=severity)
        if f.side == "bilateral" and rng.random() < 0.7:
            f = Finding(f.kind, "right" if rng.random() < 0.5 else "left", f.zone, f.severity)
        return StudyPlan((f,), facts={"class": klass})
    zones = ("lower",) if rng.random() < 0.6 else ("lower", "middle")
    found = tuple(Finding("opacity", "bilateral", z, severity, variant="peripheral") for z in zones)
    return StudyPlan(found, facts={"class": klass})


def write(root: Path, n: int, ctx: SynthContext) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    lines: dict[str, list[str]] = {"train": [], "test": []}
    entries, counts = [], {c: 0 for c in CLASSES}
    patient, previous = 0, None
    for i in range(n):
        rng_meta = ctx.rng(NAME, i, META)
        if previous is not None and rng_meta.random() < 0.15:  # a second image of the same patient
            klass = previous
        else:
            patient += 1
            klass = CLASSES[int(rng_meta.choice(3, p=CLASS_WEIGHTS))]
        previous = klass
        split = "test" if number(ctx.seed, NAME, "split", patient, low=0, high=100) < 20 else "train"
        plan = _plan(ctx, i, klass)
        rendered = render_frontal(ctx.rng(NAME, i, RENDER), plan.findings, ctx.annotated, ctx.size)
        filename = f"{hex_id(ctx.seed, NAME, i, groups=(16,))}.png"
        save_image(root / split / filename, rendered.image)
        lines[split].append(f"{patient} {filename} {klass} synthcxr")
        counts[klass] += 1
        entries.append(
            manifest_entry(
                filename, f"{split}/{filename}", split, plan, rendered, klass=klass, patient=str(patient)
            )
        )
    for split, rows in lines.items():
        (root / f"{split}.txt").write_text("".join(r + "\n" for r in rows), encoding="utf-8")
    return {"images": n, "train": len(lines["train"]), "test": len(lines["test"]), **counts}, entries
