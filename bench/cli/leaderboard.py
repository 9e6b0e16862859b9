"""``bench leaderboard``: the results folder as one table (see :mod:`bench.leaderboard`).

The table goes to stdout; what was skipped or kept apart (unreadable files, results that are not
comparable) goes to stderr, one line each.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from bench.errors import UserError

HELP = "the results as one table: mean +/- std over seeds per method variant and task column"
log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", default="results/runs", help="results folder (default results/runs)")
    parser.add_argument("--format", default="md", choices=("md", "csv", "latex", "html"), help="output format")
    parser.add_argument("--task", nargs="+", action="extend", default=None, metavar="T", help="only these tasks")
    parser.add_argument("--all-metrics", action="store_true", help="every metric, not only each task's headline")
    parser.add_argument("--digits", type=int, default=3, help="decimals shown (md, latex, html)")
    parser.add_argument("--ci", action="store_true",
                        help="each number with its test-set bootstrap interval [low, high], the spread over "
                             "pretraining seeds beside it, and which of the two is larger")


def table(results: str | Path, tasks: list[str] | None = None, all_metrics: bool = False):
    """Load, check the request against what is there, build: the wide table (notes in attrs)."""
    from bench import leaderboard

    root = Path(results)
    if not root.is_dir():
        raise UserError(f"--results {root}: no such folder")
    loaded = leaderboard.load(root)
    present = sorted({r.task for r in loaded.results})
    unknown = sorted(set(tasks or ()) - set(present))
    if unknown:
        raise UserError(f"--task {', '.join(unknown)}: no results under {root}; tasks with results: "
                        f"{', '.join(present) or '(none)'}")
    df = leaderboard.build(loaded.results, tasks, all_metrics)
    df.attrs["notes"] = loaded.notes + leaderboard.notes(df)
    return df


def run(args: argparse.Namespace) -> int:
    from bench import leaderboard

    df = table(args.results, args.task, args.all_metrics)
    for note in leaderboard.notes(df):
        print(f"bench leaderboard: {note}", file=sys.stderr)
    if df.empty:
        print(f"bench leaderboard: no readable results under {args.results}", file=sys.stderr)
        return 0
    if args.ci:
        from bench import leaderboard_ci

        long = leaderboard.summarise(leaderboard.load(args.results).results, args.task, args.all_metrics)
        for note in leaderboard_ci.notes(long):
            print(f"bench leaderboard: {note}", file=sys.stderr)
        print(leaderboard_ci.render(long, args.format, args.digits))
        return 0
    print(leaderboard.render(df, args.format, args.digits))
    return 0
