"""``bench evaluate``: one task on a checkpoint (or ``random``), one result JSON per cell.

Without ``--dataset`` every dataset the task declares that the data folder holds is evaluated;
without ``--fraction`` the task's fractions or ``eval.fractions``; without ``--seed``
``eval.seeds`` (see :mod:`bench.evaluate` for the dense tasks). Everything is planned and checked
before the model is built; every cell is re-run and its result file rewritten.

Config: for a checkpoint, its stored settings with the ``eval`` section of ``--preset`` (default:
the checkpoint's) and ``--set`` on top; for ``random``, ``--preset`` (default: ``tiny`` on the
embedded default, ``default`` with ``--data``) and ``--set``, the architecture built untrained
with ``train.seed``.
"""

from __future__ import annotations

import argparse

HELP = "evaluate a checkpoint (or the random-init architecture) on a task; one result JSON per cell"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", required=True, help="registered method (see `bench ls methods`)")
    parser.add_argument("--checkpoint", required=True, metavar="CKPT|random", help="checkpoint file, or random")
    parser.add_argument("--task", required=True, help="registered task (see `bench ls tasks`)")
    parser.add_argument("--dataset", default=None, help="one dataset (default: every dataset of the task)")
    parser.add_argument("--fraction", type=float, default=None, help="one label fraction, e.g. 0.01")
    parser.add_argument("--seed", type=int, default=None, help="one seed (default: eval.seeds)")
    parser.add_argument("--data", default=None, help="folder holding the datasets (default: embedded SynthCXR)")
    parser.add_argument("--results", default="results/runs", help="results folder (default results/runs)")
    parser.add_argument("--preset", default=None, help="tiny or default (default: the checkpoint's; tiny without --data)")
    parser.add_argument("--drop", nargs="+", action="extend", default=[], metavar="C", help="ablate (random only)")
    parser.add_argument("--set", nargs="+", action="extend", default=[], metavar="K=V", help="config overrides")


def run(args: argparse.Namespace) -> int:
    from bench.config import check_text_encoder
    from bench.evaluate import ModelRef, Planner, Request, run_cells
    from bench.matrix import check_request
    from bench.models import RANDOM, checkpoint_id, default_preset, eval_config, load_model, random_id

    name = args.method.lower()
    task = args.task.lower()
    check_request([name], [task], [args.dataset] if args.dataset else [],
                  [args.fraction] if args.fraction is not None else [], [args.seed] if args.seed is not None else [])
    drop = tuple(sorted(set(args.drop)))
    preset = args.preset or (default_preset(args.data) if args.checkpoint == RANDOM else None)
    cfg, eval_preset = eval_config(name, args.checkpoint, preset, drop, tuple(args.set))
    check_text_encoder(cfg)
    ident = random_id(name, cfg, drop) if args.checkpoint == RANDOM else checkpoint_id(args.checkpoint)
    ref = ModelRef(name, args.checkpoint, ident, drop, cfg.preset, eval_preset)
    request = Request(
        (args.dataset,) if args.dataset else (),
        (args.fraction,) if args.fraction is not None else (),
        (args.seed,) if args.seed is not None else (),
        args.data,
        args.results,
    )
    cells = Planner(request).plan(task, ref, cfg)
    model, cfg = load_model(name, args.checkpoint, preset, drop, tuple(args.set))
    run_cells(cells, model, cfg)
    return 0
