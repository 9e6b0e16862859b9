"""The check's output: a markdown table (pandas + tabulate) or JSON, with a summary."""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

from bench.gate.compare import describe, failed, summary

NUMBERS = ("ours", "reference", "delta", "tolerance")
NOTE_WIDTH = 70


def _number(value: Any) -> Any:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return float(value)


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for row in frame.to_dict(orient="records"):
        for column in NUMBERS:
            row[column] = _number(row[column])
        row["fraction"] = float(row["fraction"])
        row["seed"] = int(row["seed"])
        out.append(row)
    return out


def to_json(frame: pd.DataFrame, against: str, extra: dict[str, int]) -> str:
    counts = summary(frame)
    doc = {
        "against": against,
        "passed": counts["regressed"] == 0,
        "summary": {**counts, **extra},
        "cells": records(frame),
    }
    return json.dumps(doc, indent=2, allow_nan=False)


def _short(text: str) -> str:
    return text if len(text) <= NOTE_WIDTH else text[: NOTE_WIDTH - 1] + "…"


def to_markdown(frame: pd.DataFrame, against: str, extra: dict[str, int]) -> str:
    shown = frame.copy()
    shown["fraction"] = shown["fraction"].map(lambda f: f"{f * 100:g}%")
    for column in NUMBERS:
        pattern = "{:+.4f}" if column == "delta" else "{:.4f}"
        shown[column] = shown[column].map(lambda v, p=pattern: "" if _number(v) is None else p.format(v))
    shown["note"] = shown["note"].fillna("").map(_short)
    for column in ("source", "note", "method"):
        shown[column] = shown[column].fillna("").str.replace("|", "\\|", regex=False)
    shown["protocol"] = shown["protocol"].replace("", "-")
    counts = summary(frame)
    lines = [
        shown.to_markdown(index=False, disable_numparse=True),
        "",
        f"against {against}: " + ", ".join(f"{n} {v}" for v, n in counts.items() if n),
    ]
    lines += [f"{n} {k.replace('_', ' ')}" for k, n in extra.items() if n]
    lines += [f"regressed: {describe(row)}: {_values(row)}" for _, row in failed(frame).iterrows()]
    return "\n".join(lines)


def _values(row: pd.Series) -> str:
    ours = "no value" if _number(row["ours"]) is None else f"{row['ours']:.4f}"
    return f"{ours} vs {row['reference']:.4f} (tolerance {row['tolerance']:g})"


def render(frame: pd.DataFrame, against: str, extra: dict[str, int], fmt: str) -> str:
    return to_json(frame, against, extra) if fmt == "json" else to_markdown(frame, against, extra)
