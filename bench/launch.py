"""Fan a run matrix out as scheduler jobs with submitit: Slurm on a cluster, subprocesses locally.

``bench run --launcher slurm|local`` turns each pretraining and then each evaluation cell of the
matrix into one job (submitit's Slurm executor, or its local executor, which runs the same jobs
as subprocesses on this machine). Pretraining jobs run first; the parent waits for them, plans
the cells (their keys need the weights' digests) and submits one job per cell that is not done
yet, at most ``max_parallel`` at a time (a Slurm job array's parallelism limit; locally, the
parent submits the next job as one finishes). A job is the same :func:`bench.matrix.run_matrix`
restricted to its one pretraining or cell, so results land in the same folder, written
atomically under their keys: reruns skip, concurrent jobs never collide, and a failed job is
recorded like a failed cell. Job logs go to ``RESULTS/_launch/``.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Any

from bench.errors import UserError
from bench.matrix import RunSpec, Summary, run_matrix

log = logging.getLogger(__name__)
LAUNCHERS = ("local", "slurm")


@dataclasses.dataclass
class ClusterOptions:
    partition: str | None = None
    gpus_per_job: int = 0
    cpus_per_job: int = 2
    time_limit_min: int = 240
    mem_gb: int | None = None


def _executor(kind: str, folder: Path, options: ClusterOptions, max_parallel: int) -> Any:
    import submitit

    if kind not in LAUNCHERS:
        raise UserError(f"--launcher {kind}: expected one of {', '.join(LAUNCHERS)}")
    executor = submitit.AutoExecutor(folder=str(folder), cluster=kind)
    params: dict[str, Any] = {"timeout_min": options.time_limit_min, "cpus_per_task": options.cpus_per_job,
                              "gpus_per_node": options.gpus_per_job, "tasks_per_node": 1, "nodes": 1}
    if options.mem_gb:
        params["mem_gb"] = options.mem_gb
    if kind == "slurm":
        params["slurm_array_parallelism"] = max_parallel
        if options.partition:
            params["slurm_partition"] = options.partition
    executor.update_parameters(**params)
    return executor


def _job(spec: RunSpec, only_pretrain: bool, cell: str | None) -> Summary:
    """What one job runs: the matrix restricted to its pretrainings or to one cell key."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return run_matrix(spec, pretrain_only=only_pretrain, only_cells={cell} if cell else None)


def _submit_all(executor: Any, kind: str, calls: list[tuple], max_parallel: int) -> list[Summary]:
    """Submit ``calls`` (argument tuples of :func:`_job`), at most ``max_parallel`` running; their summaries."""
    if kind == "slurm":
        with executor.batch():
            jobs = [executor.submit(_job, *args) for args in calls]
        return [_outcome(job) for job in jobs]
    running: list[Any] = []
    outcomes: list[Summary] = []
    for args in calls:
        while len(running) >= max_parallel:
            finished = [j for j in running if j.done()]
            for job in finished:
                running.remove(job)
                outcomes.append(_outcome(job))
            if not finished:
                time.sleep(0.2)
        running.append(executor.submit(_job, *args))
    outcomes.extend(_outcome(job) for job in running)
    return outcomes


def _outcome(job: Any) -> Summary:
    try:
        return job.result()
    except Exception as exc:  # noqa: BLE001 - a job that died (killed, out of memory) is a failed cell
        summary = Summary()
        summary.failed.append((f"job {job.job_id}", f"{type(exc).__name__}: {str(exc)[-500:]}"))
        return summary


def _merge(parts: list[Summary]) -> Summary:
    out = Summary()
    for part in parts:
        out.done += part.done
        out.skipped += part.skipped
        out.failed += part.failed
        out.pretrainings += part.pretrainings
    return out


def launch(spec: RunSpec, kind: str, max_parallel: int = 4, options: ClusterOptions | None = None) -> Summary:
    """Run ``spec`` as jobs (see the module docstring); the merged summary."""
    from bench.matrix import plan_matrix

    if max_parallel < 1:
        raise UserError(f"--max-parallel {max_parallel}: expected at least 1")
    options = options or ClusterOptions()
    folder = Path(spec.request.results) / "_launch"
    executor = _executor(kind, folder / "%j", options, max_parallel)
    pretrain_parts: list[Summary] = []
    if not spec.checkpoint:
        jobs = [dataclasses.replace(spec, methods=[m], variants=[v], seeds=[s] if s is not None else [])
                for m in spec.methods for v in spec.variants for s in (spec.seeds or [None])]
        log.info("submitting %d pretraining job(s) to %s", len(jobs), kind)
        pretrain_parts = _submit_all(executor, kind, [(job, True, None) for job in jobs], max_parallel)
    parent = Summary()
    plan = plan_matrix(spec, parent)
    pending = [cell.key for _, _, cells in plan for cell in cells if not cell.done()]
    done = [cell.path for _, _, cells in plan for cell in cells if cell.done()]
    log.info("submitting %d evaluation job(s) to %s (%d cell(s) already there)", len(pending), kind, len(done))
    parts = _submit_all(executor, kind, [(spec, False, key) for key in pending], max_parallel)
    merged = _merge(parts)
    merged.skipped = done
    merged.failed = [*(f for part in pretrain_parts for f in part.failed), *parent.failed, *merged.failed]
    merged.pretrainings = [p for part in pretrain_parts for p in part.pretrainings]
    return merged
