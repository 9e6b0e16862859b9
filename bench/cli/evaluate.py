"""``bench evaluate``: one task on a checkpoint (or ``random``), one result JSON per run.

A run is one (dataset, label fraction, seed). Without ``--dataset`` every dataset the task declares
(its ``DATASETS``) is evaluated; without ``--fraction`` the task's ``FRACTIONS`` or
``eval.fractions``; without ``--seed`` ``eval.seeds``. Splits come from
:func:`bench.data.splits.make_splits` (seeded by ``eval.split_seed``, or the run's seed when it
is -1); a task's ``prepare`` hook may then build its own subset. Every run's splits are written
under ``RESULTS/_splits/<dataset>/<hash>/`` and their hashes recorded in the result; tasks that
need scratch space (the dense tasks' toolbox logs) get ``RESULTS/_work/<model>/``.

Config: for a checkpoint, its stored model/data/method settings, with the ``eval`` section of
``--preset`` (default: the checkpoint's preset) and then ``--set`` on top; for ``random``, the
preset resolved for the method, and the architecture built untrained with ``train.seed``.
Frozen features are cached per record under ``eval.cache_dir`` (see :mod:`bench.taskdata`).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import time
from pathlib import Path
from typing import Any

from bench.errors import UserError

HELP = "evaluate a checkpoint (or the random-init architecture) on a task; one result JSON per run"
log = logging.getLogger(__name__)


@dataclasses.dataclass
class Request:
    """What to evaluate besides the model: None means "every one the task and config allow"."""

    dataset: str | None = None
    fraction: float | None = None
    seed: int | None = None
    data: str | Path | None = None  # --data; None = the embedded default
    results: str | Path = "results/runs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", required=True, help="registered method (see `bench ls methods`)")
    parser.add_argument("--checkpoint", required=True, metavar="CKPT|random", help="checkpoint file, or random")
    parser.add_argument("--task", required=True, help="registered task (see `bench ls tasks`)")
    parser.add_argument("--dataset", default=None, help="one dataset (default: every dataset of the task)")
    parser.add_argument("--fraction", type=float, default=None, help="one label fraction, e.g. 0.01")
    parser.add_argument("--seed", type=int, default=None, help="one seed (default: eval.seeds)")
    parser.add_argument("--data", default=None, help="folder holding the datasets (default: embedded SynthCXR)")
    parser.add_argument("--results", default="results/runs", help="results folder (default results/runs)")
    parser.add_argument("--preset", default=None, help="tiny or default (default: the checkpoint's, else default)")
    parser.add_argument("--drop", nargs="+", action="extend", default=[], metavar="C", help="ablate (random only)")
    parser.add_argument("--set", nargs="+", action="extend", default=[], metavar="K=V", help="config overrides")


def _plan(task: Any, args: Request, cfg: Any) -> tuple[list[str], list[float], list[int]]:
    declared = tuple(getattr(task, "DATASETS", ()))
    if args.dataset is not None:
        if declared and args.dataset.lower() not in declared:
            raise UserError(f"--dataset {args.dataset}: task {task.NAME} runs on {', '.join(declared)}")
        datasets = [args.dataset.lower()]
    elif declared:
        datasets = _present(list(declared), args, cfg)
    else:
        raise UserError(f"task {task.NAME} declares no DATASETS; give --dataset")
    allowed = tuple(getattr(task, "FRACTIONS", ()) or cfg.eval.fractions)
    if args.fraction is not None:
        if hasattr(task, "FRACTIONS") and args.fraction not in task.FRACTIONS:
            raise UserError(f"--fraction {args.fraction:g}: task {task.NAME} runs at {', '.join(f'{f:g}' for f in allowed)}")
        if not 0.0 < args.fraction <= 1.0:
            raise UserError(f"--fraction {args.fraction:g}: expected a label fraction in (0, 1]")
        allowed = (args.fraction,)
    seeds = [args.seed] if args.seed is not None else list(cfg.eval.seeds)
    return datasets, list(allowed), seeds


def _present(datasets: list[str], args: Request, cfg: Any) -> list[str]:
    """Without --dataset, the task's datasets that the data folder holds (the others are skipped)."""
    base = _data_dir(args, cfg)
    present = [d for d in datasets if (base / d).is_dir()]
    if not present:
        raise UserError(f"{base} holds none of {', '.join(datasets)} (as subfolders); give --dataset or --data")
    for missing in sorted(set(datasets) - set(present)):
        log.warning("skipping %s: no %s folder under %s", missing, missing, base)
    return present


def _cache(cfg: Any) -> Any:
    from bench.data.synth.cache import cache_root
    from bench.taskdata import FeatureCache

    where = cfg.eval.cache_dir.strip()
    if where.lower() == "none":
        return FeatureCache(None)
    return FeatureCache(Path(where) if where else cache_root() / "features")


def _read_table(dataset: str, args: Request, cfg: Any) -> Any:
    from bench.data.resolve import dataset_root
    from bench.registry import DATASETS

    root = dataset_root(dataset, args.data, cfg)
    table = DATASETS.get(dataset).read(root)
    if not table.records:
        raise UserError(f"{dataset} at {root}: no usable records ({'; '.join(table.problems[:3]) or 'empty'})")
    return table


def _write_splits(splits: dict[str, list[str]], results: Path, meta: dict[str, Any]) -> tuple[dict[str, str], Path]:
    from bench.data.splits import split_hash, write_splits
    from bench.taskdata import keys_hash

    hashes = {name: split_hash(keys) for name, keys in sorted(splits.items())}
    folder = results / "_splits" / meta["dataset"] / keys_hash([f"{n}:{h}" for n, h in hashes.items()])[:16]
    if not (folder / "splits.json").is_file():
        write_splits(splits, folder, meta)
    return hashes, folder


def _jsonable(extras: dict[str, Any]) -> dict[str, Any]:
    import json

    out = {}
    for key, value in extras.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            continue
        out[key] = value
    return out


def _run_data(task: Any, base: Any, cfg: Any, all_splits: dict[str, list[str]], fraction: float) -> Any:
    from bench.taskdata import fraction_splits

    data = dataclasses.replace(base, splits=fraction_splits(all_splits, fraction), fraction=fraction)
    if hasattr(task, "prepare"):
        try:
            data = task.prepare(data, cfg)
        except ValueError as exc:
            raise UserError(f"{task.NAME} on {data.dataset}: {exc}") from exc
    return data


def _evaluate_one(task: Any, model: Any, data: Any, cfg: Any, args: Request) -> Path:
    from bench import dist
    from bench.results import Result, write_result

    results = Path(args.results)
    hashes, folder = _write_splits(
        data.splits, results, {"dataset": data.dataset, "task": task.NAME, "fraction": data.fraction, "seed": data.seed}
    )
    start = time.perf_counter()
    try:
        metrics = task.evaluate(model.method, data, cfg)
    except ValueError as exc:
        raise UserError(f"{task.NAME} on {data.dataset} (fraction {data.fraction:g}, seed {data.seed}): {exc}") from exc
    wall = time.perf_counter() - start
    result = Result(
        method=model.name,
        task=task.NAME,
        task_version=str(task.VERSION),
        dataset=data.dataset,
        metrics={k: float(v) for k, v in metrics.items()},
        higher_is_better={k: bool(task.METRICS[k]) for k in metrics if k in task.METRICS},
        checkpoint=model.checkpoint,
        checkpoint_sha256=model.sha256,
        fraction=data.fraction,
        seed=data.seed,
        ablation=tuple(model.drop),
        protocol=task.protocol(cfg) if hasattr(task, "protocol") else "",
        preset=cfg.preset,
        config=cfg.to_dict(),
        split_hashes=hashes,
        world_size=dist.get_world_size(),
        wall_time_s=wall,
        extra={
            "model_id": data.model_id,
            "splits_dir": str(folder),
            "split_sizes": {n: len(k) for n, k in data.splits.items()},
            **_jsonable(data.extras),
        },
    )
    return write_result(result, results)


def evaluate_task(task_name: str, model: Any, cfg: Any, request: Request, cache: Any = None) -> list[Path]:
    """Every run of ``task_name`` that ``request`` asks for; the written result files.

    ``model`` is a :class:`bench.cli._model.LoadedModel`; ``cache`` a
    :class:`bench.taskdata.FeatureCache` to share between tasks (default: from ``eval.cache_dir``).
    """
    from bench.api import check_task_module
    from bench.registry import TASKS

    task = check_task_module(TASKS.get(task_name))
    datasets, fractions, seeds = _plan(task, request, cfg)
    cache = cache if cache is not None else _cache(cfg)
    written: list[Path] = []
    total = len(datasets) * len(fractions) * len(seeds)
    for dataset in datasets:
        table = _read_table(dataset, request, cfg)
        for seed in seeds:
            for data in _runs(task, table, seed, fractions, model, cfg, request, cache):
                start = time.perf_counter()
                written.append(_evaluate_one(task, model, data, cfg, request))
                log.info("[%d/%d] %s %s %s fraction %g seed %d in %.1f s -> %s", len(written), total, model.name,
                         task.NAME, dataset, data.fraction, seed, time.perf_counter() - start, written[-1])
    log.info("%d result(s) under %s; %d image(s) encoded", len(written), request.results, cache.computed)
    return written


def _runs(task: Any, table: Any, seed: int, fractions: list[float], model: Any, cfg: Any, request: Request,
          cache: Any) -> Any:
    """The TaskData of each fraction for one (dataset, seed), splits from one make_splits call."""
    from bench.data.splits import make_splits
    from bench.taskdata import TaskData

    split_seed = seed if cfg.eval.split_seed < 0 else cfg.eval.split_seed
    try:
        all_splits = make_splits(table, seed=split_seed, fractions=sorted(set(fractions) | {1.0}))
    except ValueError as exc:
        raise UserError(f"splitting {table.dataset}: {exc}") from exc
    base = TaskData(
        table.dataset, table.root, table, {}, 1.0, seed, model.model_id, cache,
        data_dir=_data_dir(request, cfg), work_dir=Path(request.results).resolve() / "_work" / model.tag,
    )
    for fraction in fractions:
        yield _run_data(task, base, cfg, all_splits, fraction)


def run(args: argparse.Namespace) -> int:
    from bench.api import check_task_module
    from bench.cli._model import load_model
    from bench.registry import TASKS

    check_task_module(TASKS.get(args.task))  # a wrong task name fails before the model loads
    model, cfg = load_model(args.method, args.checkpoint, args.preset, tuple(args.drop), tuple(args.set))
    request = Request(args.dataset, args.fraction, args.seed, args.data, args.results)
    evaluate_task(args.task, model, cfg, request)
    return 0


def _data_dir(args: Request, cfg: Any) -> Path:
    from bench.data.resolve import data_dir

    return data_dir(args.data, cfg)
