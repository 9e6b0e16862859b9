"""The evaluation engine: plan cells, then execute them; one result JSON per cell.

A cell is one (task, dataset, label fraction, seed) for one model. :func:`plan` builds every cell
a request asks for without touching the model: it reads each dataset once, makes the splits
(seeded by ``eval.split_seed``, or the cell's seed when it is -1), runs the task's ``prepare``
hook, and computes the cell's identity (:func:`bench.results.cell_key`) and result path, so a
caller can skip what exists. :func:`execute` runs one cell on a loaded model and writes its
result atomically, with the splits under ``RESULTS/_splits/<dataset>/<hash>/`` and scratch space
for the dense tasks under ``RESULTS/_work/<model>/``.

Which cells: every dataset the task declares (``DATASETS``) that the data folder holds, unless
the request names some; the task's ``FRACTIONS`` or ``eval.fractions``; ``eval.seeds``. Tasks
marked ``DENSE`` (segmentation, detection: minutes per cell) take ``eval.dense_datasets``,
``eval.dense_fractions`` and ``eval.dense_seeds`` instead where those are set.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Any

from bench.config import BenchConfig
from bench.data.damaged import HeaderChecks, evaluate_skipping, note_missing, readable_splits
from bench.errors import UserError
from bench.results import Result, cell_key, config_hash, result_path, variant_name

log = logging.getLogger(__name__)


@dataclasses.dataclass
class Request:
    """What to evaluate besides the model; empty means "every one the task and config allow"."""

    datasets: tuple[str, ...] = ()
    fractions: tuple[float, ...] = ()
    seeds: tuple[int, ...] = ()
    data: str | Path | None = None  # --data; None = the embedded default
    results: str | Path = "results/runs"


@dataclasses.dataclass(frozen=True)
class ModelRef:
    """A model's identity, known before it is loaded (see :mod:`bench.models`)."""

    name: str
    checkpoint: str  # a path or "random"
    model_id: str
    drop: tuple[str, ...]
    preset: str
    eval_preset: str


@dataclasses.dataclass
class Cell:
    task: Any  # the task module
    data: Any  # TaskData without model id and cache (filled in by execute)
    model: ModelRef
    identity: dict[str, Any]
    key: str
    path: Path
    data_source: dict[str, Any]
    results: Path
    skipped: dict[str, tuple[str, str]] = dataclasses.field(default_factory=dict)  # key -> (path, why)
    damaged: dict[str, tuple[str, str]] = dataclasses.field(default_factory=dict)  # found decoding, per dataset

    @property
    def label(self) -> str:
        which = "random" if self.model.checkpoint == "random" else "pretrained"
        return (f"{variant_name(self.model.name, self.model.drop)} ({which}) {self.task.NAME} {self.data.dataset} "
                f"{self.data.fraction:g} seed {self.data.seed}")

    def done(self) -> bool:
        """True when a readable result with this cell's key exists."""
        from bench.results import ResultError, load_result

        if not self.path.is_file():
            return False
        try:
            return load_result(self.path).cell_key == self.key
        except ResultError:
            return False


class Planner:
    """Plans cells; reads each dataset and makes each (dataset, seed) split once per instance."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self._tables: dict[tuple[str, str], Any] = {}
        self._splits: dict[tuple[str, str, int, tuple[float, ...]], dict[str, list[str]]] = {}
        self._sources: dict[tuple[str, str], dict[str, Any]] = {}
        self._damaged: dict[tuple[str, str], dict[str, tuple[str, str]]] = {}
        self._headers = HeaderChecks()  # each image's header read once, for every cell that uses it

    def plan(self, task_name: str, model: ModelRef, cfg: BenchConfig) -> list[Cell]:
        from bench.api import check_task_module
        from bench.registry import TASKS

        task = check_task_module(TASKS.get(task_name))
        datasets, fractions, seeds = self.choose(task, cfg)
        cells = []
        for dataset in datasets:
            table, root = self._table(dataset, cfg)
            for seed in seeds:
                all_splits = self._all_splits(table, root, seed, fractions, cfg)
                for fraction in fractions:
                    cells.append(self._cell(task, table, all_splits, fraction, seed, model, cfg))
        return cells

    def choose(self, task: Any, cfg: BenchConfig) -> tuple[list[str], list[float], list[int]]:
        """(datasets, fractions, seeds) of ``task`` under this request and config."""
        req, dense = self.request, bool(getattr(task, "DENSE", False))
        declared = tuple(getattr(task, "DATASETS", ()))
        if not declared:
            raise UserError(f"task {task.NAME} declares no DATASETS")
        if req.datasets:
            datasets = [d.lower() for d in req.datasets if d.lower() in declared]
        else:
            wanted = _dense_datasets(task.NAME, cfg) if dense and cfg.eval.dense_datasets else declared
            datasets = self._present([d for d in declared if d in wanted], cfg)
        allowed = tuple(getattr(task, "FRACTIONS", ()))
        default = tuple(cfg.eval.dense_fractions) if dense and cfg.eval.dense_fractions else tuple(cfg.eval.fractions)
        fractions = [f for f in req.fractions if not allowed or f in allowed] if req.fractions else list(allowed or default)
        seeds = list(req.seeds or (cfg.eval.dense_seeds if dense and cfg.eval.dense_seeds else cfg.eval.seeds))
        return datasets, fractions, seeds

    def _present(self, datasets: list[str], cfg: BenchConfig) -> list[str]:
        from bench.data.resolve import data_dir

        base = data_dir(self.request.data, cfg)
        present = [d for d in datasets if (base / d).is_dir()]
        for missing in sorted(set(datasets) - set(present)):
            log.warning("skipping %s: no %s folder under %s", missing, missing, base)
        return present

    def _table(self, dataset: str, cfg: BenchConfig) -> tuple[Any, Path]:
        from bench.data.resolve import data_source, dataset_root
        from bench.registry import DATASETS

        root = dataset_root(dataset, self.request.data, cfg)
        memo = (dataset, str(root))
        if memo not in self._tables:
            table = DATASETS.get(dataset).read(root)
            note_missing(table)
            if not table.records:
                raise UserError(f"{dataset} at {root}: no usable records ({'; '.join(table.problems[:3]) or 'empty'})")
            self._tables[memo] = table
            self._sources[memo] = data_source(dataset, self.request.data, cfg)
        return self._tables[memo], root

    def _all_splits(self, table: Any, root: Path, seed: int, fractions: list[float],
                    cfg: BenchConfig) -> dict[str, list[str]]:
        from bench.data.splits import make_splits

        split_seed = seed if cfg.eval.split_seed < 0 else cfg.eval.split_seed
        wanted = tuple(sorted(set(fractions) | {1.0}))
        memo = (table.dataset, str(root), split_seed, wanted)
        if memo not in self._splits:
            self._splits[memo] = make_splits(table, seed=split_seed, fractions=wanted)
        return self._splits[memo]

    def _cell(self, task: Any, table: Any, all_splits: dict[str, list[str]], fraction: float, seed: int,
              model: ModelRef, cfg: BenchConfig) -> Cell:
        from bench.data.resolve import data_dir
        from bench.data.splits import split_hash
        from bench.taskdata import TaskData, fraction_splits

        data = TaskData(table.dataset, table.root, table, fraction_splits(all_splits, fraction), fraction, seed,
                        data_dir=data_dir(self.request.data, cfg))
        if hasattr(task, "prepare"):
            data = task.prepare(data, cfg)
        data, skipped = readable_splits(data, self._headers)
        hashes = {name: split_hash(keys) for name, keys in sorted(data.splits.items())}
        protocol = task.protocol(cfg) if hasattr(task, "protocol") else ""
        identity = {
            "method": model.name, "ablation": sorted(model.drop), "checkpoint_id": model.model_id,
            "preset": model.preset, "eval_preset": model.eval_preset, "config_hash": config_hash(cfg.to_dict()),
            "task": task.NAME, "task_version": str(task.VERSION), "protocol": protocol, "dataset": table.dataset,
            "fraction": float(fraction), "seed": int(seed), "split_hashes": hashes,
        }
        key = cell_key(**identity)
        skeleton = Result(model.name, task.NAME, str(task.VERSION), table.dataset, {}, checkpoint=model.checkpoint,
                          checkpoint_id=model.model_id, fraction=fraction, seed=seed, ablation=tuple(model.drop),
                          protocol=protocol, cell_key=key)
        source = self._sources[(table.dataset, str(table.root))]
        results = Path(self.request.results)
        damaged = self._damaged.setdefault((table.dataset, str(table.root)), {})
        return Cell(task, data, model, identity, key, result_path(skeleton, results), source, results, skipped, damaged)


def execute(cell: Cell, model: Any, cfg: BenchConfig, cache: Any = None) -> Path:
    """Run one planned cell on ``model`` (a :class:`bench.models.LoadedModel`); the written result."""
    from bench import dist
    from bench.data.image_cache import open_for
    from bench.results import write_result

    if model.model_id != cell.model.model_id:
        raise RuntimeError(f"cell planned for {cell.model.model_id} but given {model.model_id}")
    results = cell.results
    data = dataclasses.replace(cell.data, model_id=model.model_id, cache=cache, extras=dict(cell.data.extras),
                               work_dir=results.resolve() / "_work" / model.tag,
                               images=open_for(cfg, cell.data.dataset, cell.data.root))
    folder = _write_splits(data.splits, results, cell)
    start = time.perf_counter()
    metrics, data, skipped = evaluate_skipping(lambda d: cell.task.evaluate(model.method, d, cfg), data,
                                               cell.skipped, cell.damaged, cell.label)
    wall = time.perf_counter() - start
    ident = cell.identity
    result = Result(
        method=model.name, task=cell.task.NAME, task_version=ident["task_version"], dataset=data.dataset,
        metrics={k: float(v) for k, v in metrics.items()},
        higher_is_better={k: bool(cell.task.METRICS[k]) for k in metrics if k in cell.task.METRICS},
        checkpoint=model.checkpoint, checkpoint_sha256=model.sha256, checkpoint_id=model.model_id,
        fraction=data.fraction, seed=data.seed, ablation=tuple(model.drop), protocol=ident["protocol"],
        preset=ident["preset"], eval_preset=ident["eval_preset"], config=cfg.to_dict(),
        split_hashes=ident["split_hashes"], cell_key=cell.key, data_source=cell.data_source,
        world_size=dist.get_world_size(), wall_time_s=wall,
        extra={"splits_dir": str(folder), "split_sizes": {n: len(k) for n, k in data.splits.items()},
               "skipped_images": len(skipped), "skipped_examples": [p for p, _ in list(skipped.values())[:5]],
               "missing_images": len(data.table.missing),
               "image_cache": str(data.images.folder) if data.images is not None else None,
               "config_hash": ident["config_hash"], **_jsonable(data.extras)},
    )
    from bench.stats.audit import audit_entries  # the predictions file (and sha256) and the intervals

    result.extra.update(audit_entries(data.predictions, cell.path, result.metrics, result.split_hashes,
                                      getattr(cell.task, "rescore", None)))
    path = write_result(result, results)
    if path != cell.path:
        raise RuntimeError(f"result written to {path}, planned at {cell.path}")
    return path


def model_ref(model: Any, cfg: BenchConfig) -> ModelRef:
    """The :class:`ModelRef` of a loaded model."""
    return ModelRef(model.name, model.checkpoint, model.model_id, tuple(model.drop), cfg.preset, model.eval_preset)


def evaluate_task(task_name: str, model: Any, cfg: BenchConfig, request: Request, cache: Any = None,
                  skip_done: bool = False) -> list[Path]:
    """Every cell of ``task_name`` that ``request`` asks for, run on ``model``; the result files."""
    return run_cells(Planner(request).plan(task_name, model_ref(model, cfg), cfg), model, cfg, cache, skip_done)


def run_cells(cells: list[Cell], model: Any, cfg: BenchConfig, cache: Any = None,
              skip_done: bool = False) -> list[Path]:
    """Execute planned cells of one model in order, logging one line each; the result files."""
    from bench.featurecache import cache_for

    cache = cache if cache is not None else cache_for(cfg)
    written: list[Path] = []
    for i, cell in enumerate(cells, 1):
        if skip_done and cell.done():
            log.info("[%d/%d] %s: done already (%s)", i, len(cells), cell.label, cell.path)
            written.append(cell.path)
            continue
        start = time.perf_counter()
        written.append(execute(cell, model, cfg, cache))
        log.info("[%d/%d] %s in %.1f s -> %s", i, len(cells), cell.label, time.perf_counter() - start, written[-1])
    log.info("%d result(s); %d image(s) encoded", len(written), cache.computed)
    return written


def _dense_datasets(task: str, cfg: BenchConfig) -> tuple[str, ...]:
    """``eval.dense_datasets`` for ``task``: entries ``dataset`` (any dense task) or ``task:dataset``."""
    out = []
    for entry in cfg.eval.dense_datasets:
        scope, _, name = entry.rpartition(":")
        if not scope or scope == task:
            out.append(name)
    return tuple(out)


def _write_splits(splits: dict[str, list[str]], results: Path, cell: Cell) -> Path:
    from bench.data.splits import write_splits
    from bench.hashing import keys_hash

    hashes = cell.identity["split_hashes"]
    folder = results / "_splits" / cell.data.dataset / keys_hash([f"{n}:{h}" for n, h in hashes.items()])[:16]
    if not (folder / "splits.json").is_file():
        meta = {"dataset": cell.data.dataset, "task": cell.task.NAME, "fraction": cell.data.fraction,
                "seed": cell.data.seed}
        write_splits(splits, folder, meta)
    return folder


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
