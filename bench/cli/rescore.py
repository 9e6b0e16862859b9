"""``bench rescore RESULT [RESULT ...]``: recompute metrics from saved predictions, report differences.

Each RESULT is a result JSON or a folder of them. For every result, the predictions file it
names (``extra.predictions``) is read and checked (sha256, split hash), its task's ``rescore``
recomputes the metrics with the same metric functions ``evaluate`` used, and every metric is
compared with the stored one: equal when ``|stored - rescored| <= --tolerance`` (default 1e-9,
float rounding; NaN and null count as equal). Exit 1 on any mismatch; results that name no
predictions file are listed as skipped; exit 2 when nothing could be rescored.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from bench.errors import UserError

HELP = "recompute every metric of result JSONs from their saved predictions; exit 1 on a mismatch"
TOLERANCE = 1e-9


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", nargs="+", metavar="RESULT", help="result JSON files or folders of them")
    parser.add_argument("--tolerance", type=float, default=TOLERANCE, help=f"absolute tolerance (default {TOLERANCE:g})")


def collect_results(paths: Iterable[str | Path]) -> list[tuple[Path, Any]]:
    """(path, Result) for each file, and for each result under each folder; a bad path is a UserError."""
    from bench.results import ResultError, iter_results, load_result

    out = []
    for raw in paths:
        path = Path(raw)
        try:
            if path.is_dir():
                out.extend(iter_results(path))
            elif path.is_file():
                out.append((path, load_result(path)))
            else:
                raise UserError(f"{path}: no such result file or folder")
        except ResultError as exc:
            raise UserError(str(exc)) from None
    return out


def differences(stored: Mapping[str, float | None], rescored: Mapping[str, float], tolerance: float) -> list[str]:
    """One line per metric that is missing on either side or differs by more than ``tolerance``."""
    lines = []
    for name in sorted(set(stored) | set(rescored)):
        if name not in rescored or name not in stored:
            lines.append(f"{name}: {'not recomputed' if name not in rescored else 'not stored'}")
            continue
        a = math.nan if stored[name] is None else float(stored[name])
        b = float(rescored[name])
        same = (math.isnan(a) and math.isnan(b)) or abs(a - b) <= tolerance
        if not same:
            lines.append(f"{name}: stored {a!r}, rescored {b!r} (difference {b - a:+.3g})")
    return lines


def rescore_result(path: Path, result: Any) -> dict[str, float]:
    """The metrics of ``result`` recomputed from its predictions file by its task's ``rescore``."""
    from bench.predictions import load_for_result
    from bench.registry import TASKS

    pred = load_for_result(path, result.extra, result.split_hashes)
    task = TASKS.get(result.task)
    if not hasattr(task, "rescore"):
        raise UserError(f"{path}: task {result.task} has no rescore")
    return {k: float(v) for k, v in task.rescore(pred).items()}


def run(args: argparse.Namespace) -> int:
    from bench.predictions import ENTRY

    results = collect_results(args.results)
    checked = mismatched = skipped = 0
    for path, result in results:
        if not result.extra.get(ENTRY):
            print(f"skipped   {path} (names no predictions file)")
            skipped += 1
            continue
        lines = differences(result.metrics, rescore_result(path, result), args.tolerance)
        checked += 1
        if lines:
            mismatched += 1
            print(f"MISMATCH  {path}")
            for line in lines:
                print(f"          {line}")
        else:
            print(f"ok        {path} ({len(result.metrics)} metrics)")
    print(f"{checked} rescored, {mismatched} mismatched, {skipped} skipped (tolerance {args.tolerance:g})")
    if checked == 0:
        raise UserError(f"no result with saved predictions among {len(results)} result(s) in {', '.join(args.results)}")
    return 1 if mismatched else 0
