"""``bench pretrain --method M``: pretrain one method on MIMIC-CXR-format pairs.

The data come from ``--data DIR`` (``DIR/mimic-cxr`` or DIR itself in that layout) or, without it,
from the embedded SynthCXR default; the preset defaults to ``tiny`` on the embedded default and to
the paper settings (``default``) with ``--data``. The output folder defaults to
``runs/pretrain/<method>[-no-<component>...]`` relative to the current directory; it receives
``config.yaml``, ``log.jsonl``, ``last.pt``, stage-start checkpoints and ``final.pt``, whose path
is printed on stdout. Under ``torchrun`` every rank runs this command; rank 0 writes and prints.
The work itself is :func:`bench.pretraining.pretrain`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.errors import UserError

HELP = "pretrain a method on image-report pairs (MIMIC-CXR layout; SynthCXR without --data)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", required=True, help="registered method (see `bench ls methods`)")
    parser.add_argument("--preset", default=None,
                        help="tiny (2-core CPU, minutes) or default (paper settings); default: tiny without --data")
    parser.add_argument("--data", default=None, help="folder holding mimic-cxr/ (or a MIMIC-CXR root)")
    parser.add_argument("--out", default=None, help="output folder (default runs/pretrain/<method>[-no-<drop>])")
    parser.add_argument("--drop", nargs="+", action="extend", default=[], metavar="C", help="components to ablate")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    parser.add_argument("--set", nargs="+", action="extend", default=[], metavar="K=V", help="config overrides")
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps (sets train.max_steps)")


def default_out(method: str, drop: tuple[str, ...]) -> Path:
    from bench.results import variant_name

    return Path("runs") / "pretrain" / variant_name(method, drop)


def run(args: argparse.Namespace) -> int:
    from bench import dist
    from bench.config import check_text_encoder, parse_overrides
    from bench.models import check_drop, default_preset
    from bench.pretraining import Pretraining, pretrain, pretrain_config
    from bench.registry import METHODS
    from bench.train import NonFiniteLossError

    name = args.method.lower()
    METHODS.get(name)
    drop = tuple(sorted(set(args.drop)))
    check_drop(name, drop)
    if args.steps is not None and args.steps < 1:
        raise UserError(f"--steps {args.steps}: expected a positive number of steps")
    overrides = parse_overrides(args.set)
    if args.steps is not None:
        overrides["train.max_steps"] = str(args.steps)
    cfg = pretrain_config(name, args.preset or default_preset(args.data), overrides)
    check_text_encoder(cfg)
    out = Path(args.out) if args.out else default_out(name, drop)
    try:
        final = pretrain(Pretraining(name, drop, cfg, args.data), out, resume=args.resume)
    except NonFiniteLossError as exc:
        print(f"bench pretrain: error: {exc}", file=sys.stderr)
        return 1
    if dist.is_main():
        print(final)
    return 0
