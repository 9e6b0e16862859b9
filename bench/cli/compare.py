"""``bench compare A B``: paired differences between two result sets on the same samples.

A and B are result JSONs or folders of them (two methods, or a method and its ablation). Results
pair up by (task, dataset, protocol, label fraction, seed); a pair whose split hashes differ is
refused: its test samples differ, so no paired statement can be made. For every metric of every
pair the table gives A, B, A - B with its paired percentile bootstrap interval (both sides
resampled with the same indices from their saved predictions), the two-sided bootstrap p-value,
DeLong's p-value for an AUROC of one class (or a binary AUROC), and both families of p-values
Holm-adjusted over the whole table.
"""

from __future__ import annotations

import argparse
import csv
import io
import logging
import math
from typing import Any

from bench.errors import UserError

HELP = "paired bootstrap intervals, p-values (DeLong for AUROC) and Holm-adjusted p-values of A - B"
log = logging.getLogger(__name__)
PAIR_KEY = ("task", "dataset", "protocol", "fraction", "seed")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("a", metavar="RESULTS_A", help="result JSON or folder (e.g. results/runs/prior)")
    parser.add_argument("b", metavar="RESULTS_B", help="result JSON or folder to compare against")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    parser.add_argument("--level", type=float, default=0.95, help="interval level (default 0.95)")
    parser.add_argument("--format", choices=("md", "csv"), default="md", help="table format (default md)")


def _index(results: list[tuple[Any, Any]], side: str) -> dict[tuple, tuple[Any, Any]]:
    out: dict[tuple, tuple[Any, Any]] = {}
    for path, result in results:
        key = tuple(getattr(result, k) for k in PAIR_KEY)
        if key in out:
            raise UserError(
                f"{side}: {out[key][0]} and {path} are both {dict(zip(PAIR_KEY, key))}; give one result set "
                "per side (e.g. results/runs/<method>)"
            )
        out[key] = (path, result)
    return out


def pairs(a: list[tuple[Any, Any]], b: list[tuple[Any, Any]]) -> list[tuple[tuple, Any, Any]]:
    """Matched (key, (path, result) of A, of B); refuses pairs on different splits, says why."""
    ia, ib = _index(a, "A"), _index(b, "B")
    matched = []
    for key in sorted(set(ia) & set(ib), key=str):
        (pa, ra), (pb, rb) = ia[key], ib[key]
        if ra.split_hashes != rb.split_hashes:
            differ = sorted(n for n in set(ra.split_hashes) | set(rb.split_hashes)
                            if ra.split_hashes.get(n) != rb.split_hashes.get(n))
            raise UserError(
                f"{pa} and {pb}: split hashes differ ({', '.join(differ)}): they were scored on different "
                "samples, so a paired comparison is meaningless; evaluate both on the same data and split seed"
            )
        matched.append((key, ia[key], ib[key]))
    for side, only in (("A", set(ia) - set(ib)), ("B", set(ib) - set(ia))):
        for key in sorted(only, key=str):
            log.warning("only in %s: %s", side, dict(zip(PAIR_KEY, key)))
    return matched


def _fmt(x: float, digits: int = 4) -> str:
    return "" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def _p(x: float) -> str:
    return "" if not math.isfinite(x) else (f"{x:.2g}" if x < 0.001 else f"{x:.3f}")


def table_rows(args: argparse.Namespace, matched: list) -> list[dict[str, str]]:
    from bench.predictions import load_for_result
    from bench.registry import TASKS
    from bench.stats.compare import adjust, compare_predictions
    from bench.stats.scorers import SCORERS

    rows, meta = [], []
    for key, (pa, ra), (pb, rb) in matched:
        preds = [load_for_result(p, r.extra, r.split_hashes) for p, r in ((pa, ra), (pb, rb))]
        rescore = None if preds[0].kind in SCORERS else TASKS.get(ra.task).rescore
        found = compare_predictions(*preds, ra.metrics, rb.metrics, rescore, args.resamples, args.seed, args.level)
        rows.extend(found)
        meta.extend([dict(zip(PAIR_KEY, key))] * len(found))
    out = []
    for m, r in zip(meta, adjust(rows)):
        d = r.paired
        out.append({
            "task": m["task"], "dataset": m["dataset"], "fraction": f"{m['fraction']:g}", "seed": str(m["seed"]),
            "metric": r.metric, "A": _fmt(d.a), "B": _fmt(d.b), "A-B": _fmt(d.difference),
            f"{d.level:.0%} CI": f"[{_fmt(d.low)}, {_fmt(d.high)}]" if math.isfinite(d.low) else "",
            "p": _p(d.p_value), "p Holm": _p(r.holm_p), "p DeLong": _p(r.delong_p), "DeLong Holm": _p(r.delong_holm_p),
        })
    return out


def run(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from bench.cli.rescore import collect_results

    matched = pairs(collect_results([args.a]), collect_results([args.b]))
    if not matched:
        raise UserError(f"{args.a} and {args.b} share no (task, dataset, protocol, fraction, seed); nothing to compare")
    rows = table_rows(args, matched)
    if args.format == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["metric"])
        writer.writeheader()
        writer.writerows(rows)
        print(buffer.getvalue(), end="")
    else:
        print(f"A = {args.a}, B = {args.b}; {len(matched)} paired result(s), {len(rows)} metrics; paired "
              f"percentile bootstrap, {args.resamples} resamples, seed {args.seed}; two-sided p-values, "
              "Holm-adjusted over the table")
        print(tabulate(rows, headers="keys", tablefmt="github", disable_numparse=True))
    return 0
