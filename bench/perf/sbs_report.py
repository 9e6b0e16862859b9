"""The side-by-side step timings as a table: medians per side, official/project ratios, peak RSS.

A row (one text tower and stage) holds per side ``wall_s`` and ``cpu_s`` (one value per timed
step), ``warmup_terms`` (the warm-up step's loss terms) and ``peak_rss_mib`` (None when not
measured). :func:`summarise` adds the medians and ratios; :func:`markdown_table` prints them;
:func:`peak_rss_mib` and :func:`environment` are what a run records about its process and machine.
"""

from __future__ import annotations

import platform
import resource
import statistics
from pathlib import Path
from typing import Any

from bench.perf.official_prior import checkout_commit

SIDES = ("official", "project")
COLUMNS = (
    "text tower", "stage", "official s/step", "project s/step", "ratio official/project (wall)",
    "ratio (CPU time)", "peak RSS official / project",
)


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row with ``median_wall_s`` / ``median_cpu_s`` per side and ``ratio_wall`` /
    ``ratio_cpu`` (official over project: above 1 means the project's step is faster)."""
    out = []
    for row in rows:
        row = {**row, **{side: dict(row[side]) for side in SIDES}}
        for side in SIDES:
            for key in ("wall_s", "cpu_s"):
                values = row[side].get(key) or []
                row[side][f"median_{key}"] = statistics.median(values) if values else None
        row["ratio_wall"] = _ratio(row["official"]["median_wall_s"], row["project"]["median_wall_s"])
        row["ratio_cpu"] = _ratio(row["official"]["median_cpu_s"], row["project"]["median_cpu_s"])
        out.append(row)
    return out


def _num(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _rss(row: dict[str, Any]) -> str:
    a, b = (row[side].get("peak_rss_mib") for side in SIDES)
    if a is None and b is None:
        return "not measured"
    return f"{_num(a, 0)} / {_num(b, 0)} MiB"


def markdown_table(rows: list[dict[str, Any]], steps: int | None = None) -> str:
    """The summarised rows as a markdown table (medians over the timed steps)."""
    import pandas as pd

    frame = pd.DataFrame(
        [
            (
                row["text"], row["stage"], _num(row["official"]["median_wall_s"], 3),
                _num(row["project"]["median_wall_s"], 3), _num(row["ratio_wall"], 2),
                _num(row["ratio_cpu"], 2), _rss(row),
            )
            for row in rows
        ],
        columns=list(COLUMNS),
    )
    note = f"medians over {steps} timed steps per side" if steps else "medians over the timed steps"
    return frame.to_markdown(index=False, disable_numparse=True) + f"\n\n({note}; ratio > 1: the project is faster)"


def peak_rss_mib() -> float:
    """This process's peak RSS: ``VmHWM`` (its own address space; ``ru_maxrss`` would count the
    parent's size at fork, which Linux carries across exec), else ``ru_maxrss``."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def environment(official: str) -> dict[str, Any]:
    """Versions, threads, the CPU model (/proc/cpuinfo) and the official checkout's commit."""
    import torch
    import transformers

    cpu = "unknown"
    try:
        cpu = next(
            line.partition(":")[2].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        cpu = platform.processor() or cpu
    return {"torch": torch.__version__, "transformers": transformers.__version__, "python": platform.python_version(),
            "threads": torch.get_num_threads(), "cpu": cpu, "official_commit": checkout_commit(official)}
