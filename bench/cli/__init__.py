"""The command line: one small module per subcommand, imported only when it runs.

A subcommand module exposes ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``. Heavy imports (torch, mm*) happen inside ``run`` so that ``bench ls``
and ``--help`` stay fast. User errors exit with code 2 and one clear message, no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import sys
from typing import Any

from bench import __version__
from bench.errors import USER_ERRORS, UserError

# name -> module under bench.cli; a subcommand appears only when its module exists.
SUBCOMMANDS: dict[str, str] = {
    "ls": "ls",
    "data": "data",
    "pretrain": "pretrain",
    "import": "import_",
    "evaluate": "evaluate",
    "run": "run",
    "ablate": "ablate",
    "leaderboard": "leaderboard",
    "check": "check",
    "compare": "compare",
    "rescore": "rescore",
    "report": "report",
}


def _available() -> dict[str, str]:
    return {
        name: f"bench.cli.{mod}"
        for name, mod in SUBCOMMANDS.items()
        if importlib.util.find_spec(f"bench.cli.{mod}") is not None
    }


def add_matrix_options(parser: argparse.ArgumentParser) -> None:
    """The options ``run`` and ``ablate`` share (their matrix: tasks, datasets, fractions, seeds)."""
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


def request_of(args: argparse.Namespace) -> Any:
    from bench.evaluate import Request

    return Request(tuple(args.dataset), tuple(args.fraction), tuple(args.eval_seeds), args.data, args.results)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench",
        description="medvlp-bench: pretrain medical vision-language methods and benchmark them.",
    )
    parser.add_argument("--version", action="version", version=f"medvlp-bench {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in _available().items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except USER_ERRORS as exc:
        print(f"bench {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"bench {args.command}: interrupted; files already written are kept", file=sys.stderr)
        return 130


__all__ = ["main", "build_parser", "UserError"]
