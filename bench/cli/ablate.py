"""``bench ablate [--method prior] --drop C [--drop C ...]``: one-command ablations.

Each variant is pretrained with the full method's seed, schedule and budget (the full method is
pretrained too, or reused when its result keys exist), evaluated on the same cells, and the
command prints the ablation table (see :mod:`bench.ablation`). ``--drop a+b`` drops two
components together; ``--drop each`` runs every component one at a time.
"""

from __future__ import annotations

import argparse

from bench.cli import add_matrix_options, request_of

HELP = "pretrain a method without components and print each variant's delta against the full method"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", default="prior", help="the method to ablate (default prior)")
    parser.add_argument("--drop", action="append", required=True, metavar="C",
                        help="a component, a+b for several together, or each; repeat for more variants")
    add_matrix_options(parser)


def run(args: argparse.Namespace) -> int:
    from bench.ablation import render, table, variants
    from bench.matrix import RunSpec, expand, run_matrix
    from bench.registry import METHODS, TASKS
    from bench.results import load_result

    method = expand([args.method], METHODS)[0]
    wanted = variants(method, args.drop)
    tasks = expand(args.task or ["all"], TASKS)
    spec = RunSpec([method], tasks, wanted, list(args.seeds), args.preset, tuple(args.set), None, False,
                   request_of(args))
    summary = run_matrix(spec)
    df = table([load_result(p) for p in summary.results], method, wanted, paths=list(summary.results))
    print()
    print(render(df))
    print(f"\n{summary.line()}; results under {args.results}")
    for what, error in summary.failed:
        print(f"  failed: {what}: {error}")
    return 1 if summary.failed else 0
