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

from bench.cli import add_matrix_options, request_of

HELP = "pretrain and evaluate methods x tasks (skips finished cells; ends with the leaderboard)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", nargs="+", action="extend", required=True, metavar="M",
                        help="method(s), or all")
    add_matrix_options(parser)
    parser.add_argument("--checkpoint", default=None,
                        help="evaluate this checkpoint (e.g. from `bench import`) instead of pretraining")
    parser.add_argument("--no-random", action="store_true", help="leave out the random-init rows")
    cluster = parser.add_argument_group("fan-out (submitit)")
    cluster.add_argument("--launcher", choices=("inline", "local", "slurm"), default="inline",
                         help="inline (this process, default), local (subprocess jobs) or slurm (cluster jobs)")
    cluster.add_argument("--max-parallel", type=int, default=4, help="jobs running at once (default 4)")
    cluster.add_argument("--partition", default=None, help="Slurm partition")
    cluster.add_argument("--gpus-per-job", type=int, default=0, help="GPUs per job (default 0)")
    cluster.add_argument("--cpus-per-job", type=int, default=2, help="CPUs per job (default 2)")
    cluster.add_argument("--time-limit", type=int, default=240, metavar="MIN", help="minutes per job (default 240)")


def print_leaderboard(paths: list, tasks: list[str]) -> None:
    """The leaderboard of the given result files, variants as columns (see :mod:`bench.leaderboard`)."""
    from bench.leaderboard import build, notes, render
    from bench.results import load_result

    df = build([load_result(p) for p in paths], tasks)
    if df.empty:
        return
    print()
    print(render(df, "md", transpose=len(df.columns) // 3 > len(df.index)))
    for note in notes(df):
        print(f"note: {note}")


def finish(summary: object, results: str, tasks: list[str]) -> int:
    """Print the leaderboard of what ran and the summary line; the exit code."""
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
    if args.launcher == "inline":
        return finish(run_matrix(spec), args.results, tasks)
    from bench.launch import ClusterOptions, launch

    options = ClusterOptions(args.partition, args.gpus_per_job, args.cpus_per_job, args.time_limit)
    return finish(launch(spec, args.launcher, args.max_parallel, options), args.results, tasks)
