"""``bench check``: the regression gate, against published numbers or this project's pinned baselines.

Exit status: 0 when no gating cell regressed, 1 when one did (a failed check, not a user error),
2 for a user error (no results, unreadable files, unknown names). See :mod:`bench.gate`.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from bench.errors import UserError

HELP = "regression gate: compare results with published numbers or with the pinned baselines"
log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from bench.published import DEFAULT_PATH, RESULTS_DIR

    parser.add_argument(
        "--against", required=True, choices=("published", "baselines"), help="what to compare with"
    )
    parser.add_argument(
        "--results",
        nargs="+",
        default=["results/runs"],
        metavar="DIR",
        help="results folder(s) (default results/runs); one per pretraining seed for --update",
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=None,
        metavar="X",
        help="one tolerance for every cell instead of each reference's own",
    )
    parser.add_argument("--format", default="md", choices=("md", "json"), help="table format (default md)")
    parser.add_argument(
        "--published", default=str(DEFAULT_PATH), help="published numbers (default results/published.csv)"
    )
    parser.add_argument(
        "--baselines",
        default=str(RESULTS_DIR / "baselines"),
        help="baseline folder (default results/baselines)",
    )
    parser.add_argument(
        "--update",
        action="store_true",
        help="with --against baselines: re-pin them from --results and print what changed",
    )
    parser.add_argument(
        "--pin-seed",
        type=int,
        default=None,
        metavar="S",
        help="with --update: the pretraining seed whose values are pinned (default the smallest)",
    )


def load_results(folders: list[str | Path]) -> list[Any]:
    """Every result under ``folders``; a user error when there is none or one does not parse."""
    from bench.registry import DATASETS, METHODS, TASKS
    from bench.results import iter_results

    found, errors = [], []
    for folder in map(Path, folders):
        if not folder.is_dir():
            raise UserError(f"--results {folder}: no such folder")
        found += list(iter_results(folder, errors))
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise UserError(errors[0] + more)
    if not found:
        where = " ".join(map(str, folders))
        raise UserError(
            f"--results {where}: no result files (write some with `bench run` or `bench evaluate`)"
        )
    for path, result in found:
        for registry, name in ((METHODS, result.method), (TASKS, result.task), (DATASETS, result.dataset)):
            if name not in registry:
                raise UserError(f"{path}: {registry.error_message(name)}")
    return [result for _, result in found]


def _update(args: argparse.Namespace, results: list[Any]) -> int:
    import pandas as pd

    from bench.gate import baselines

    new = baselines.build(results, args.pin_seed)
    if not new:
        raise UserError(f"--results {' '.join(args.results)}: no results on the embedded default to pin")
    old = {m: d for m, d in baselines.load_baselines(args.baselines).items() if m in new}
    changes = baselines.diff(old, new)
    for method, doc in new.items():
        if len(doc["pretrain_seeds"]) < baselines.MIN_SEEDS:
            log.warning(
                "%s: %d pretraining seed(s) %s; tolerances fall back to the floor %g (need %d to measure)",
                method,
                len(doc["pretrain_seeds"]),
                doc["pretrain_seeds"],
                baselines.FLOOR,
                baselines.MIN_SEEDS,
            )
    baselines.write(new, args.baselines)
    if changes:
        print(pd.DataFrame(changes).to_markdown(index=False, floatfmt=".4f"))
    print(f"{len(changes)} cell(s) changed in {', '.join(f'{m}.json' for m in new)} under {args.baselines}")
    return 0


def run(args: argparse.Namespace) -> int:
    from bench.gate import compare, report

    if args.update and args.against != "baselines":
        raise UserError("--update re-pins baselines; use it with --against baselines")
    if args.tolerance is not None and args.tolerance < 0:
        raise UserError(f"--tolerance {args.tolerance}: expected a number >= 0")
    results = load_results(args.results)
    if args.against == "baselines":
        from bench.gate import baselines

        if args.update:
            return _update(args, results)
        pinned = baselines.load_baselines(args.baselines)
        if not pinned:
            raise UserError(f"--baselines {args.baselines}: no baseline files; pin them with --update")
        frame, extra = baselines.against_baselines(results, pinned, args.tolerance)
        empty = "no results on the embedded default (baselines are pinned for SynthCXR runs only)"
    else:
        from bench.published import load_published

        frame, extra = compare.against_published(results, load_published(args.published), args.tolerance)
        empty = (
            f"no results on real data ({extra['skipped_not_real_data']} on SynthCXR or on other data than"
            " the dataset they name were not compared: published numbers gate only runs on the dataset"
            " they name; use `bench run ... --data DIR`)"
        )
    if frame.empty:
        raise UserError(f"--results {' '.join(args.results)}: {empty}")
    print(report.render(frame, args.against, extra, args.format))
    failing = compare.failed(frame)
    if len(failing):
        log.error("%d gating cell(s) regressed against %s", len(failing), args.against)
    return 1 if len(failing) else 0
