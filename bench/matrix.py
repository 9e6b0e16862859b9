"""The run matrix behind ``bench run`` and ``bench ablate``: methods x variants x seeds x tasks.

Three phases, each resumable:

1. **Models.** Each (method, ablation, seed) is pretrained once per preset and config
   (:func:`bench.pretraining.ensure_pretrained`: a finished pretraining is reused, an interrupted
   one resumes), or ``--checkpoint`` is taken as given; the random-init architecture of each
   full method and seed is added beside it (the floor every pretrained number must beat).
2. **Plan.** Every cell of every model is planned (:class:`bench.evaluate.Planner`) with its key.
3. **Execute.** Cells whose result exists with the same key are skipped; the rest run one by one,
   one progress line each. A cell that fails is recorded under ``RESULTS/_failed/`` with its
   traceback and does not stop the others; the summary lists done / skipped / failed.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
import traceback
from pathlib import Path
from typing import Any

from bench.errors import UserError
from bench.evaluate import Cell, ModelRef, Planner, Request, execute
from bench.featurecache import cache_for
from bench.registry import DATASETS, METHODS, TASKS
from bench.train_utils import writable_dir

log = logging.getLogger(__name__)
FAILED_DIR = "_failed"


@dataclasses.dataclass
class RunSpec:
    methods: list[str]
    tasks: list[str]
    variants: list[tuple[str, ...]] = dataclasses.field(default_factory=lambda: [()])
    seeds: list[int] = dataclasses.field(default_factory=list)  # pretraining seeds; [] = train.seed
    preset: str | None = None
    overrides: tuple[str, ...] = ()
    checkpoint: str | None = None
    include_random: bool = True
    request: Request = dataclasses.field(default_factory=Request)


@dataclasses.dataclass
class Summary:
    done: list[Path] = dataclasses.field(default_factory=list)
    skipped: list[Path] = dataclasses.field(default_factory=list)
    failed: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (what, error)
    pretrainings: list[tuple[str, str, Path]] = dataclasses.field(default_factory=list)  # (variant, how, ckpt)

    @property
    def results(self) -> list[Path]:
        return [*self.skipped, *self.done]

    def line(self) -> str:
        return f"{len(self.done)} done, {len(self.skipped)} skipped (already there), {len(self.failed)} failed"


def expand(names: list[str], registry: Any) -> list[str]:
    """``all`` -> every registered name; otherwise the names, each checked (nearest suggested)."""
    out: list[str] = []
    for name in names:
        if name.lower() == "all":
            picked = registry.names()
        else:
            registry.get(name.lower())  # an unknown name fails here, listing the valid ones
            picked = [name.lower()]
        out.extend(item for item in picked if item not in out)
    return out


def check_request(methods: list[str], tasks: list[str], datasets: list[str], fractions: list[float],
                  seeds: list[int]) -> None:
    """The cheap checks, before any model is built or image encoded: names, ranges, applicability."""
    for name in methods:
        METHODS.get(name)
    modules = [TASKS.get(t) for t in tasks]
    for dataset in datasets:
        DATASETS.get(dataset.lower())
        if modules and not any(dataset.lower() in getattr(m, "DATASETS", ()) for m in modules):
            runs = "; ".join(f"{m.NAME} runs on {', '.join(getattr(m, 'DATASETS', ()))}" for m in modules)
            raise UserError(f"--dataset {dataset}: {runs}")
    for fraction in fractions:
        if not 0.0 < fraction <= 1.0:
            raise UserError(f"--fraction {fraction:g}: expected a label fraction in (0, 1]")
        fixed = [m for m in modules if getattr(m, "FRACTIONS", ())]
        if modules and len(fixed) == len(modules) and not any(fraction in m.FRACTIONS for m in fixed):
            runs = "; ".join(f"{m.NAME} runs at {', '.join(f'{f:g}' for f in m.FRACTIONS)}" for m in fixed)
            raise UserError(f"--fraction {fraction:g}: {runs}")
    for seed in seeds:
        if seed < 0:
            raise UserError(f"--seeds {seed}: expected a non-negative integer")


def _models(spec: RunSpec, summary: Summary) -> list[tuple[ModelRef, Any]]:
    """Phase 1: every model of the matrix with its evaluation config (pretraining as needed)."""
    from bench.checkpoint import read_checkpoint
    from bench.config import check_text_encoder
    from bench.models import RANDOM, checkpoint_id, default_preset, eval_config, random_id
    from bench.pretraining import Pretraining, ensure_pretrained, pretrain_config

    preset = spec.preset or default_preset(spec.request.data)
    seeds = spec.seeds or [None]
    models: list[tuple[ModelRef, Any]] = []
    jobs = [(m, v, s) for m in spec.methods for v in spec.variants for s in seeds]
    for i, (method, drop, seed) in enumerate(jobs, 1):
        over = (*spec.overrides, *((f"train.seed={seed}",) if seed is not None else ()))
        if spec.checkpoint:
            ckpt = spec.checkpoint
            drop = tuple(read_checkpoint(ckpt).get("drop", ()))
        else:
            job = Pretraining(method, drop, pretrain_config(method, preset, over), spec.request.data)
            check_text_encoder(job.cfg)
            start = time.perf_counter()
            log.info("[pretrain %d/%d] %s seed %d", i, len(jobs), job.variant, job.cfg.train.seed)
            try:
                final, how = ensure_pretrained(job, spec.request.results)
            except UserError:
                raise
            except Exception as exc:  # noqa: BLE001 - recorded; the other models still run
                summary.failed.append((f"pretraining {job.variant} seed {job.cfg.train.seed}", _describe(exc)))
                log.error("[pretrain %d/%d] %s failed: %s", i, len(jobs), job.variant, _describe(exc))
                continue
            log.info("[pretrain %d/%d] %s seed %d %s in %.1f s: %s", i, len(jobs), job.variant,
                     job.cfg.train.seed, how, time.perf_counter() - start, final)
            summary.pretrainings.append((job.variant, how, final))
            ckpt = str(final)
        cfg, eval_preset = eval_config(method, ckpt, spec.preset, (), spec.overrides)
        models.append((ModelRef(method, ckpt, checkpoint_id(ckpt), tuple(sorted(drop)), cfg.preset, eval_preset),
                       cfg))
        if spec.include_random and not drop:
            rcfg, rpreset = eval_config(method, RANDOM, preset, (), over)
            ref = ModelRef(method, RANDOM, random_id(method, rcfg, ()), (), rcfg.preset, rpreset)
            if all(ref != have for have, _ in models):
                models.append((ref, rcfg))
    return models


def plan_matrix(spec: RunSpec, summary: Summary) -> list[tuple[ModelRef, Any, list[Cell]]]:
    """Phases 1 and 2: the checks, every model (pretrained as needed) and every planned cell."""
    check_request(spec.methods, spec.tasks, list(spec.request.datasets), list(spec.request.fractions),
                  [*spec.seeds, *spec.request.seeds])
    writable_dir(Path(spec.request.results), "--results")
    planner = Planner(spec.request)
    return [(ref, cfg, [c for task in spec.tasks for c in planner.plan(task, ref, cfg)])
            for ref, cfg in _models(spec, summary)]


def run_matrix(spec: RunSpec, pretrain_only: bool = False, only_cells: set[str] | None = None) -> Summary:
    """Pretrain, plan and execute the whole matrix; see the module docstring.

    ``pretrain_only`` stops after phase 1; ``only_cells`` (cell keys) restricts phase 3 to those
    cells (what one job of :mod:`bench.launch` runs).
    """
    summary = Summary()
    if pretrain_only:
        check_request(spec.methods, spec.tasks, [], [], spec.seeds)
        _models(spec, summary)
        return summary
    plan = plan_matrix(spec, summary)
    if only_cells is not None:
        plan = [(ref, cfg, [c for c in cells if c.key in only_cells]) for ref, cfg, cells in plan]
        plan = [item for item in plan if item[2]]
    total = sum(len(cells) for _, _, cells in plan)
    todo = sum(1 for _, _, cells in plan for c in cells if not c.done())
    log.info("%d cell(s) over %d model(s): %d to run, %d already there", total, len(plan), todo, total - todo)
    count = 0
    for ref, cfg, cells in plan:
        count = _run_model(ref, cfg, cells, summary, count, total)
    return summary


def _run_model(ref: ModelRef, cfg: Any, cells: list[Cell], summary: Summary, count: int, total: int) -> int:
    from bench.models import build_model

    pending = [c for c in cells if not c.done()]
    for cell in cells:
        if cell not in pending:
            count += 1
            summary.skipped.append(cell.path)
            log.info("[%d/%d] %s: already there", count, total, cell.label)
    if not pending:
        return count
    model = build_model(ref.name, ref.checkpoint, ref.drop if ref.checkpoint == "random" else (), cfg,
                        ref.eval_preset)
    cache = cache_for(cfg)
    for cell in pending:
        count += 1
        start = time.perf_counter()
        try:
            path = execute(cell, model, cfg, cache)
        except Exception as exc:  # noqa: BLE001 - recorded with its traceback; the other cells still run
            summary.failed.append((cell.label, _describe(exc)))
            _record_failure(cell, exc)
            log.error("[%d/%d] %s FAILED in %.1f s: %s", count, total, cell.label, time.perf_counter() - start,
                      _describe(exc))
            continue
        _clear_failure(cell)
        summary.done.append(path)
        log.info("[%d/%d] %s in %.1f s", count, total, cell.label, time.perf_counter() - start)
    del model
    return count


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _failure_path(cell: Cell) -> Path:
    return cell.results / FAILED_DIR / f"{cell.path.stem}.json"


def _record_failure(cell: Cell, exc: BaseException) -> None:
    from bench.fileio import write_json_atomic

    write_json_atomic(_failure_path(cell), {
        "cell": cell.label, "cell_key": cell.key, "identity": cell.identity, "error": _describe(exc),
        "traceback": "".join(traceback.format_exception(exc)),
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    })


def _clear_failure(cell: Cell) -> None:
    _failure_path(cell).unlink(missing_ok=True)


def failures(results: Path) -> list[dict[str, Any]]:
    """The failure records under a results folder (for reports and tests)."""
    folder = Path(results) / FAILED_DIR
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []
