"""``bench run --method M|all --task T|all``: the main job, a method x task matrix.

Pretrains each method once per (preset, config, seed) or takes ``--checkpoint``, evaluates every
task x dataset x fraction x seed that applies, beside the same architecture at random
initialisation (``--no-random`` leaves it out), and ends with the leaderboard of what it ran.
Cells whose result exists with the same key are skipped, so the same command after an
interruption continues where it stopped. Exit 1 when any cell failed (each is recorded under
``RESULTS/_failed/``). See :mod:`bench.matrix`.
"""

from __future__ import annotations

import argparse

HELP = "pretrain and evaluate methods x tasks (skips finished cells; ends with the leaderboard)"


def add_common(parser: argparse.ArgumentParser) -> None:
    """The options ``run`` and ``ablate`` share."""
    parser.add_argument("--task", nargs="+", action="extend", default=None, metavar="T",
                        help="task(s), or all (default: all)")
    parser.add_argument("--dataset", nargs="+", action="extend", default=[], metavar="D",
                        help="only these datasets (default: every dataset of each task that the data holds)")
    parser.add_argument("--fraction", nargs="+", action="extend", type=float, default=[], metavar="F",
                        help="only these label fractions (default: each task's, or eval.fractions)")
    parser.add_argument("--seeds", nargs="+", action="extend", type=int, default=[], metavar="S",
                        help="pretraining seeds (train.seed); default: the preset's (0)")
    parser.add_argument("--eval-seeds", nargs="+", action="extend", type=int, default=[], metavar="S",
                        help="evaluation split seeds (default: eval.seeds)")
    parser.add_argument("--preset", default=None, help="tiny or default (default: tiny without --data, else default)")
    parser.add_argument("--data", default=None, help="folder holding the datasets (default: embedded SynthCXR)")
    parser.add_argument("--results", default="results/runs", help="results folder (default results/runs)")
    parser.add_argument("--set", nargs="+", action="extend", default=[], metavar="K=V", help="config overrides")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", nargs="+", action="extend", required=True, metavar="M",
                        help="method(s), or all")
    add_common(parser)
    parser.add_argument("--checkpoint", default=None,
                        help="evaluate this checkpoint (e.g. from `bench import`) instead of pretraining")
    parser.add_argument("--no-random", action="store_true", help="leave out the random-init rows")


def request_of(args: argparse.Namespace) -> object:
    from bench.evaluate import Request

    return Request(tuple(args.dataset), tuple(args.fraction), tuple(args.eval_seeds), args.data, args.results)


def finish(summary: object, results: str, tasks: list[str]) -> int:
    """Print the summary line and the leaderboard of what ran; the exit code."""
    from bench.leaderboard import print_leaderboard

    print_leaderboard(summary.results, tasks)
    print(f"\n{summary.line()}; results under {results}")
    for what, error in summary.failed:
        print(f"  failed: {what}: {error}")
    return 1 if summary.failed else 0


def run(args: argparse.Namespace) -> int:
    from bench.errors import UserError
    from bench.matrix import RunSpec, expand, run_matrix
    from bench.registry import METHODS, TASKS

    methods = expand(args.method, METHODS)
    tasks = expand(args.task or ["all"], TASKS)
    if args.checkpoint and len(methods) != 1:
        raise UserError("--checkpoint evaluates one model: give one --method")
    spec = RunSpec(methods, tasks, [()], list(args.seeds), args.preset, tuple(args.set), args.checkpoint,
                   not args.no_random, request_of(args))
    return finish(run_matrix(spec), args.results, tasks)
