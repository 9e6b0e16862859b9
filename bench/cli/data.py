"""``bench data {synth,check,splits}``: generate the embedded default, validate a copy, write splits."""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from bench.registry import DATASETS

HELP = "generate SynthCXR, validate a local dataset copy, write deterministic splits, cache preprocessed images"
log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    p = sub.add_parser("synth", help="write the SynthCXR benchmark in the real dataset formats")
    p.add_argument("--out", required=True, type=Path, help="output folder (one sub-folder per dataset)")
    p.add_argument("--studies", type=int, default=1000, help="pretraining studies (other sets scale with it)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", type=int, default=224, help="image side in pixels")
    p.add_argument(
        "--difficulty", default="default", choices=("easy", "default", "hard"), help="finding contrast, noise, ..."
    )
    p.add_argument("--realism", action="store_true", help="draw label combinations from real CheXpert rows when installed")
    p.add_argument("--workers", type=int, default=1, help="write datasets in parallel processes (same bytes)")
    p.set_defaults(_action=_synth)

    p = sub.add_parser("check", help="validate a local copy before spending GPU time on it")
    p.add_argument("--dataset", required=True, help=f"one of: {', '.join(DATASETS.names())}")
    p.add_argument("--root", required=True, type=Path, help="the dataset's own folder")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--decode", action="store_true", help="decode every image (slow at full size); default: headers only"
    )
    p.add_argument("--workers", type=int, default=4, help="threads for headers, processes for --decode")
    p.set_defaults(_action=_check)

    p = sub.add_parser("splits", help="write train/val/test and 1/10/100%% label-fraction files")
    p.add_argument("--dataset", required=True)
    p.add_argument("--root", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(_action=_splits)

    p = sub.add_parser("cache", help="decode and resize every image once into a memory-mapped uint8 cache")
    p.add_argument("--dataset", required=True, help=f"one of: {', '.join(DATASETS.names())}")
    p.add_argument("--size", required=True, type=int, help="image side in pixels (the model's image_size)")
    p.add_argument("--root", type=Path, help="the dataset's own folder (default: the embedded default's)")
    p.add_argument("--workers", type=int, default=4, help="decoding processes")
    p.set_defaults(_action=_cache)


def run(args: argparse.Namespace) -> int:
    return args._action(args)


def _positive(value: int, flag: str) -> int:
    from bench.errors import UserError

    if value <= 0:
        raise UserError(f"{flag} must be a positive integer, got {value}")
    return value


def _synth(args: argparse.Namespace) -> int:
    _positive(args.studies, "--studies")
    _positive(args.size, "--size")
    from bench.data.synth.generate import generate

    start = time.perf_counter()
    _positive(args.workers, "--workers")
    summary = generate(
        args.out,
        studies=args.studies,
        seed=args.seed,
        size=args.size,
        difficulty=args.difficulty,
        realism=args.realism,
        workers=args.workers,
    )
    log.info("wrote SynthCXR to %s in %.1f s", args.out, time.perf_counter() - start)
    print(json.dumps(summary, indent=2, sort_keys=True, default=str))
    return 0


def _check(args: argparse.Namespace) -> int:
    DATASETS.get(args.dataset)  # unknown name -> exit 2 with the valid ones
    from bench.data.check import check

    if not args.root.is_dir():
        raise FileNotFoundError(f"--root {args.root}: no such folder")
    _positive(args.workers, "--workers")
    report = check(args.dataset, args.root, decode=args.decode, workers=args.workers)
    if args.json:
        print(json.dumps(report, sort_keys=True, default=str))
    else:
        _print_report(args.dataset, args.root, report)
    return 0


def _print_report(name: str, root: Path, report: dict) -> None:
    print(f"{name} at {root}")
    for key, value in report.items():
        if key == "labels":
            print("  labels (positive / negative / uncertain / blank):")
            for cls, counts in value.items():
                row = " / ".join(str(counts.get(k, 0)) for k in ("positive", "negative", "uncertain", "blank"))
                print(f"    {cls:<28} {row}")
        elif isinstance(value, list):
            print(f"  {key}: {len(value)}" + "".join(f"\n    {v}" for v in value[:10]))
        else:
            print(f"  {key}: {value}")


def _splits(args: argparse.Namespace) -> int:
    from bench.data.check import light_options
    from bench.data.splits import make_splits, write_splits

    reader = DATASETS.get(args.dataset)
    if not args.root.is_dir():
        raise FileNotFoundError(f"--root {args.root}: no such folder")
    table = reader.read(args.root, **light_options(args.dataset))  # no report sentences needed
    splits = make_splits(table, seed=args.seed)
    manifest = write_splits(splits, args.out)
    print(json.dumps(manifest, indent=2, sort_keys=True, default=str))
    return 0


def _cache(args: argparse.Namespace) -> int:
    from bench.config import resolve
    from bench.data.check import light_options
    from bench.data.image_cache import write
    from bench.data.resolve import dataset_root
    from bench.errors import UserError

    reader = DATASETS.get(args.dataset)
    _positive(args.size, "--size")
    _positive(args.workers, "--workers")
    if args.root is not None and not args.root.is_dir():
        raise UserError(f"--root {args.root}: no such folder")
    root = args.root if args.root is not None else dataset_root(args.dataset, None, resolve("tiny"))
    table = reader.read(root, **light_options(args.dataset))  # every image any command may read
    if not table.records:
        raise UserError(f"{args.dataset} at {root}: no images ({'; '.join(table.problems[:3]) or 'empty'})")
    summary = write(table.dataset, root, table.records, args.size, workers=args.workers)
    print(json.dumps(summary, indent=2, sort_keys=True))
    return 0
