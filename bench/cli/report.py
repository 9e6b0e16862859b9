"""``bench report``: the results folder as one static HTML page (see :mod:`bench.report`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.errors import UserError

HELP = "write a static HTML report: leaderboard, curves, ablations, confusion matrices, attention maps"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", default="results/runs", help="results folder (default results/runs)")
    parser.add_argument("--out", required=True, help="folder for index.html and its images")
    parser.add_argument(
        "--checkpoint", nargs="+", action="extend", default=None, metavar="C",
        help="checkpoints for the attention maps: files, or random:<method> (untrained, at the results' preset); "
        "default: the newest checkpoint of each method the results name",
    )
    parser.add_argument("--data", default=None, help="the data folder of the runs (default: embedded SynthCXR)")
    parser.add_argument("--images", type=int, default=3, help="test images with attention maps (default 3)")


def run(args: argparse.Namespace) -> int:
    from bench.report import write_report

    if not Path(args.results).is_dir():
        raise UserError(f"--results {args.results}: no such folder")
    if args.images < 1:
        raise UserError(f"--images {args.images}: expected at least 1")
    print(write_report(args.results, args.out, args.checkpoint, args.data, args.images))
    return 0
