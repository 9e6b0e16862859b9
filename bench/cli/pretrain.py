"""``bench pretrain --method M``: pretrain one method on MIMIC-CXR-format pairs.

The data come from ``--data DIR`` (``DIR/mimic-cxr`` or DIR itself in that layout) or, without it,
from the embedded SynthCXR default. The output folder defaults to
``runs/pretrain/<method>[-no-<component>...]`` relative to the current directory; it receives
``config.yaml``, ``log.jsonl``, ``last.pt``, stage-start checkpoints and ``final.pt``, whose path
is printed on stdout. Under ``torchrun`` every rank runs this command; rank 0 writes and prints.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from bench.errors import UserError

HELP = "pretrain a method on image-report pairs (MIMIC-CXR layout; SynthCXR without --data)"
log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", required=True, help="registered method (see `bench ls methods`)")
    parser.add_argument("--preset", default="default", help="tiny (2-core CPU, minutes) or default (paper settings)")
    parser.add_argument("--data", default=None, help="folder holding mimic-cxr/ (or a MIMIC-CXR root)")
    parser.add_argument("--out", default=None, help="output folder (default runs/pretrain/<method>[-no-<drop>])")
    parser.add_argument("--drop", nargs="+", action="extend", default=[], metavar="C", help="components to ablate")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    parser.add_argument("--set", nargs="+", action="extend", default=[], metavar="K=V", help="config overrides")
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps (sets train.max_steps)")


def default_out(method: str, drop: tuple[str, ...]) -> Path:
    suffix = "".join(f"-no-{c}" for c in sorted(drop))
    return Path("runs") / "pretrain" / f"{method}{suffix}"


def check_drop(method: str, cls: type, drop: tuple[str, ...]) -> None:
    """UserError naming the valid components when ``drop`` names others."""
    from bench.registry import METHODS

    valid = tuple(METHODS.meta(method).get("components", ())) or tuple(getattr(cls, "components", ()))
    unknown = sorted(set(drop) - set(valid))
    if unknown:
        raise UserError(
            f"--drop {' '.join(unknown)}: {method} has no such component; valid: {', '.join(valid) or '(none)'}"
        )


def run(args: argparse.Namespace) -> int:
    from bench import dist
    from bench.checkpoint import seed_everything
    from bench.config import parse_overrides, resolve
    from bench.data.pretrain import PretrainDataset
    from bench.data.resolve import dataset_root
    from bench.registry import DATASETS, METHODS
    from bench.train import NonFiniteLossError, Trainer

    name = args.method.lower()
    cls = METHODS.get(name)
    drop = tuple(sorted(set(args.drop)))
    check_drop(name, cls, drop)
    if args.steps is not None and args.steps < 1:
        raise UserError(f"--steps {args.steps}: expected a positive number of steps")
    overrides = parse_overrides(args.set)
    if args.steps is not None:
        overrides["train.max_steps"] = str(args.steps)
    cfg = resolve(args.preset, name, overrides, getattr(cls, "Config", None))
    try:
        dist.init_distributed(cfg.train.device)
        main = dist.is_main()
        if not main:  # one voice: the other ranks log warnings and errors only
            logging.getLogger().setLevel(logging.WARNING)
        seed_everything(cfg.train.seed)  # the same initial weights on every rank
        root = dataset_root("mimic-cxr", args.data, cfg)
        table = DATASETS.get("mimic-cxr").read(root, min_sentences=cfg.data.min_sentences)
        dataset = PretrainDataset(table, cfg)
        method = cls.from_config(cfg, drop=drop)
        out = Path(args.out) if args.out else default_out(name, drop)
        trainer = Trainer(method, dataset, cfg, out)
        final = trainer.run(resume=args.resume)
    except NonFiniteLossError as exc:
        print(f"bench pretrain: error: {exc}", file=sys.stderr)
        return 1
    finally:
        dist.cleanup()
    if main:
        summary = trainer.summary
        log.info("%d steps in %.1f s, %.1f images/s; checkpoint %s",
                 summary["steps"], summary["wall_s"], summary["images_per_s"], final)
        print(final)
    return 0
