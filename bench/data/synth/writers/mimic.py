"""MIMIC-CXR-JPG layout: JPEGs per study (frontal and lateral), report .txt files, three CSVs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.data.base import CHEXPERT_LABELS
from bench.data.synth.findings import StudyPlan
from bench.data.synth.ids import hex_id, number, permuted, study_date
from bench.data.synth.lateral import render_lateral
from bench.data.synth.render import Rendered, render_frontal
from bench.data.synth.reports import build_report
from bench.data.synth.writers.common import (
    FINISH,
    META,
    RENDER,
    REPORT,
    SynthContext,
    label_text,
    manifest_entry,
    plan_for,
    save_image,
    write_csv,
)

NAME = "mimic-cxr"
LABEL_COLUMNS = tuple(sorted(CHEXPERT_LABELS))  # the MIMIC chexpert csv orders labels alphabetically
META_COLUMNS = (
    "dicom_id",
    "subject_id",
    "study_id",
    "PerformedProcedureStepDescription",
    "ViewPosition",
    "Rows",
    "Columns",
    "StudyDate",
    "StudyTime",
    "ProcedureCodeSequence_CodeMeaning",
    "ViewCodeSequence_CodeMeaning",
    "PatientOrientationCodeSequence_CodeMeaning",
)
VIEW_WORDS = {
    "PA": ("postero-anterior", "Erect"),
    "AP": ("antero-posterior", "Recumbent"),
    "LATERAL": ("lateral", "Erect"),
    "LL": ("left lateral", "Erect"),
}
SECOND_FRONTAL, LATERAL = 0.05, 0.3


def _subjects(ctx: SynthContext, n: int) -> list[int]:
    """Subject index of each study: subjects hold 1-4 consecutive studies."""
    rng = ctx.rng(NAME, 10**9, META)
    out: list[int] = []
    k = 0
    while len(out) < n:
        out += [k] * min(4, int(rng.geometric(0.6)))
        k += 1
    return out[:n]


def _split(ctx: SynthContext, subject: int) -> str:
    u = number(ctx.seed, NAME, "split", subject, low=0, high=100)
    return "train" if u < 90 else ("validate" if u < 95 else "test")


def _images(
    ctx: SynthContext, i: int, plan: StudyPlan, view: str, rng_meta: np.random.Generator
) -> tuple[list[tuple[str, Any]], Rendered]:
    """[(view, image)] of one study (frontal first) and the first frontal's Rendered."""
    diff, size = ctx.difficulty, ctx.size
    rendered = render_frontal(ctx.rng(NAME, i, RENDER), plan.findings, diff, size)
    images = [(view, rendered.image)]
    if rng_meta.random() < SECOND_FRONTAL:
        again = render_frontal(
            ctx.rng(NAME, i, RENDER), plan.findings, diff, size, finish_rng=ctx.rng(NAME, i, FINISH)
        )
        images.append((view, again.image))
    if rng_meta.random() < LATERAL:
        lateral = "LATERAL" if rng_meta.random() < 0.85 else "LL"
        images.append((lateral, render_lateral(ctx.rng(NAME, i, FINISH + 1), rendered.anatomy, diff, size)))
    return images, rendered


@dataclass
class _Rows:
    split: list[list[Any]] = field(default_factory=list)
    labels: list[list[Any]] = field(default_factory=list)
    meta: list[list[Any]] = field(default_factory=list)
    entries: list[dict[str, Any]] = field(default_factory=list)


def _exam(images: list[tuple[str, Any]], view: str) -> str:
    if images[-1][0] in ("LATERAL", "LL"):
        return "CHEST (PA AND LAT)"
    return "CHEST (PA)" if view == "PA" else "CHEST (PORTABLE AP)"


def _study(root: Path, ctx: SynthContext, i: int, subject_index: int, rows: _Rows) -> None:
    """Images, report and CSV rows of study ``i``."""
    subject = permuted(subject_index, ctx.seed, 10_000_000, 10_000_000)
    study = permuted(i, ctx.seed + 1, 50_000_000, 10_000_000)
    split = _split(ctx, subject_index)
    folder = f"files/p{str(subject)[:2]}/p{subject}"
    plan = plan_for(ctx, NAME, i)
    rng_meta = ctx.rng(NAME, i, META)
    view = "PA" if rng_meta.random() < 0.65 else "AP"
    sex = "woman" if rng_meta.random() < 0.5 else "man"
    images, rendered = _images(ctx, i, plan, view, rng_meta)
    exam = _exam(images, view)
    report = build_report(plan, ctx.rng(NAME, i, REPORT), sex=sex, examination=exam)
    (root / folder).mkdir(parents=True, exist_ok=True)
    (root / folder / f"s{study}.txt").write_text(report.text, encoding="utf-8")
    date, time = study_date(ctx.seed, NAME, i)
    labels = plan.labels()
    rows.labels.append([subject, study, *(label_text(labels[c]) for c in LABEL_COLUMNS)])
    for j, (v, image) in enumerate(images):
        dicom_id = hex_id(ctx.seed, NAME, i, j, groups=(8,) * 5)
        rel = f"{folder}/s{study}/{dicom_id}.jpg"
        save_image(root / rel, image)
        rows.split.append([dicom_id, study, subject, split])
        words = VIEW_WORDS[v]
        rows.meta.append([dicom_id, subject, study, exam, v, ctx.size, ctx.size, date, time, exam, *words])
        drawn = rendered if v in ("PA", "AP") else None
        rows.entries.append(
            manifest_entry(
                dicom_id,
                rel,
                split,
                plan,
                drawn,
                view=v,
                study=str(study),
                subject=str(subject),
                sentences=len(report.sentences),
            )
        )


def write(root: Path, n: int, ctx: SynthContext) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``n`` studies under ``root``; returns (counts, manifest entries)."""
    subject_of = _subjects(ctx, n)
    rows = _Rows()
    for i in range(n):
        _study(root, ctx, i, subject_of[i], rows)
    write_csv(root / "mimic-cxr-2.0.0-split.csv", ("dicom_id", "study_id", "subject_id", "split"), rows.split)
    write_csv(root / "mimic-cxr-2.0.0-chexpert.csv", ("subject_id", "study_id", *LABEL_COLUMNS), rows.labels)
    write_csv(root / "mimic-cxr-2.0.0-metadata.csv", META_COLUMNS, rows.meta)
    frontal = sum(1 for e in rows.entries if e["view"] in ("PA", "AP"))
    counts = {
        "studies": n,
        "subjects": len(set(subject_of)),
        "images": len(rows.entries),
        "frontal": frontal,
        "lateral": len(rows.entries) - frontal,
    }
    return counts, rows.entries
