"""Match results to reference numbers and give each cell a verdict; one table for both gates.

A cell is one metric of one result. Its verdict against a reference value ``ref`` with
tolerance ``tol`` (``delta = ours - ref``, sign flipped for lower-is-better metrics):
``regressed`` when delta < -tol, ``improved`` when delta > tol, else ``pass``; ``unsure`` when the
reference may not gate (the delta is still shown, and the note says which way it would go);
``unmatched`` when there is no reference for the cell. Only ``regressed`` fails a check.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import pandas as pd

from bench.published import PublishedRow
from bench.results import Result, variant_name

VERDICTS = ("regressed", "improved", "pass", "unsure", "unmatched")
FAILING = ("regressed",)
COLUMNS = (
    "method",
    "task",
    "protocol",
    "dataset",
    "fraction",
    "seed",
    "metric",
    "ours",
    "reference",
    "delta",
    "tolerance",
    "verdict",
    "source",
    "note",
)
EMBEDDED = "embedded-default"
EPS = 1e-9  # float slack: a delta of exactly the tolerance (0.77 - 0.80 vs 0.03) is inside it


def data_source(result: Result) -> dict[str, Any]:
    """Where the result's data came from; a result that does not say ran on the embedded default."""
    source = getattr(result, "data_source", None) or result.extra.get("data_source")  # older results: extra
    return dict(source) if isinstance(source, dict) and source.get("kind") else {"kind": EMBEDDED}


def on_real_data(result: Result) -> bool:
    """True for a result on a user's copy of the dataset it names (never SynthCXR)."""
    source = data_source(result)
    return source["kind"] == "dataset" and source.get("name", result.dataset) == result.dataset


def method_label(result: Result) -> str:
    """``convirt``, ``convirt (random init)``, ``prior-no-local_alignment`` ..."""
    label = variant_name(result.method, result.ablation)
    return label + " (random init)" if result.checkpoint == "random" else label


def higher_is_better(result: Result, metric: str) -> bool:
    if metric in result.higher_is_better:
        return bool(result.higher_is_better[metric])
    from bench.registry import TASKS

    return bool(TASKS.get(result.task).METRICS.get(metric, True))


def verdict(ours: float | None, ref: float | None, tol: float, higher: bool) -> tuple[str, float | None]:
    """(verdict, delta) of one cell against one gating reference value."""
    if ref is None or not math.isfinite(ref):
        return ("pass", None) if ours is None else ("improved", None)
    if ours is None or not math.isfinite(ours):
        return "regressed", None
    delta = ours - ref
    signed = delta if higher else -delta
    slack = tol + EPS
    if signed < -slack:
        return "regressed", delta
    if signed > slack:
        return "improved", delta
    return "pass", delta


def cell_row(
    result: Result,
    metric: str,
    ref: float | None,
    tol: float | None,
    gating: bool,
    source: str,
    note: str = "",
) -> dict[str, Any]:
    ours = result.metrics.get(metric)
    row = {
        "method": method_label(result),
        "task": result.task,
        "protocol": result.protocol,
        "dataset": result.dataset,
        "fraction": result.fraction,
        "seed": result.seed,
        "metric": metric,
        "ours": ours,
        "reference": ref,
        "delta": None,
        "tolerance": tol,
        "verdict": "unmatched",
        "source": source,
        "note": note,
    }
    if tol is None:
        return row
    outcome, row["delta"] = verdict(ours, ref, tol, higher_is_better(result, metric))
    if gating:
        row["verdict"] = outcome
    else:
        row["verdict"] = "unsure"
        row["note"] = "; ".join(x for x in (f"not gating (would be {outcome})", note) if x)
    return row


def against_published(
    results: Iterable[Result], rows: list[PublishedRow], tolerance: float | None = None
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Real-data results against published rows; SynthCXR results are counted, never compared."""
    out, skipped = [], 0
    for result in results:
        if not on_real_data(result):
            skipped += 1
            continue
        full = result.checkpoint != "random" and not result.ablation
        for metric in sorted(result.metrics):
            refs = [
                r
                for r in rows
                if full
                and r.matches(
                    result.method, result.task, result.protocol, result.dataset, result.fraction, metric
                )
            ]
            if not refs:
                note = "" if full else "published rows are for the full pretrained method"
                out.append(cell_row(result, metric, None, None, False, "", note))
            for ref in refs:
                tol = ref.tolerance if tolerance is None else tolerance
                out.append(cell_row(result, metric, ref.value, tol, ref.gating, ref.source, ref.note))
    return table(out), {"skipped_not_real_data": skipped}


def table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    if frame.empty:
        return frame
    order = {v: i for i, v in enumerate(VERDICTS)}
    frame["_v"] = frame["verdict"].map(order)
    keys = ["_v", "method", "task", "dataset", "protocol", "fraction", "seed", "metric"]
    return frame.sort_values(keys, kind="stable").drop(columns="_v").reset_index(drop=True)


def summary(frame: pd.DataFrame) -> dict[str, int]:
    counts = frame["verdict"].value_counts().to_dict() if not frame.empty else {}
    return {v: int(counts.get(v, 0)) for v in VERDICTS}


def failed(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["verdict"].isin(FAILING)] if not frame.empty else frame


def describe(row: dict[str, Any] | pd.Series) -> str:
    """One cell in words: ``convirt classification linear-probe chexpert 1% seed 0 auroc``."""
    return (
        f"{row['method']} {row['task']} {row['protocol'] or '-'} {row['dataset']} "
        f"{row['fraction'] * 100:g}% seed {row['seed']} {row['metric']}"
    )
