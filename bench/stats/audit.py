"""What the engine adds to a result from the predictions its task left: the saved file and the intervals.

``result.extra["predictions"]``: ``{"file", "sha256", "kind", "split", "split_hash"}``, the
file beside the result JSON (:func:`bench.predictions.save_for_result`).
``result.extra["ci"]``: ``{"method": "percentile bootstrap", "level", "n_resamples", "seed",
"metrics": {name: [low, high]}, "undefined": {name: count}}`` (:func:`bench.stats.scorers.ci_record`),
one interval per metric of the result, null where the metric is undefined; ``{"skipped": why}``
for a kind that is not resampled (:data:`bench.stats.scorers.NOT_RESAMPLED`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import UserError
from bench.predictions import ENTRY, Predictions, load_for_result, save_for_result
from bench.stats.compare import MetricComparison, adjust, check_paired, compare_predictions
from bench.stats.paired import PairedDifference, paired_difference
from bench.stats.resample import DEFAULT_LEVEL, DEFAULT_RESAMPLES, DEFAULT_SEED
from bench.stats.scorers import (
    NOT_RESAMPLED,
    SCORERS,
    Rescore,
    bootstrap_intervals,
    ci_record,
    resampled_metrics,
)

log = logging.getLogger(__name__)
CI = "ci"  # the key of a result's ``extra`` that holds its bootstrap intervals


def audit_entries(
    pred: Predictions | None,
    result_path: Path | str,
    metrics: Mapping[str, float | None],
    split_hashes: dict[str, str],
    rescore: Rescore | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    level: float = DEFAULT_LEVEL,
) -> dict[str, Any]:
    """Save ``pred`` beside ``result_path`` and bootstrap ``metrics``; the entries for ``result.extra``.

    ``rescore`` (the task's) is needed only for a kind without a vectorised scorer. With no
    predictions (a task that saves none) there is nothing to add.
    """
    if pred is None:
        return {}
    entry = save_for_result(pred, result_path, split_hashes)
    if pred.kind in NOT_RESAMPLED:
        return {ENTRY: entry, CI: {"skipped": NOT_RESAMPLED[pred.kind]}}
    generic = None if pred.kind in SCORERS else rescore
    intervals = bootstrap_intervals(pred, metrics, generic, n_resamples, seed, level)
    return {ENTRY: entry, CI: ci_record(intervals)}


def interval_of(extra: Mapping[str, Any], metric: str) -> tuple[float, float] | None:
    """(low, high) of ``metric`` from a result's ``extra`` (``bench leaderboard --ci``); None without one."""
    bounds = (extra.get(CI) or {}).get("metrics", {}).get(metric)
    if not bounds or bounds[0] is None or bounds[1] is None:
        return None
    return float(bounds[0]), float(bounds[1])


PAIR_KEY = ("task", "dataset", "protocol", "fraction", "seed", "pretrain_seed")  # what two compared results share
INITS = ("pretrained", "random")  # which of a folder's models a side of ``bench compare`` takes


def select_init(results: list[tuple[Path, Any]], init: str) -> list[tuple[Path, Any]]:
    """The random-init rows (``init="random"``) or the pretrained ones of a result set.

    ``bench run`` writes both into a method's folder, so a side given as ``results/runs/<method>``
    holds both; a comparison takes one of them per side.
    """
    if init not in INITS:
        raise UserError(f"init {init!r}: expected one of {', '.join(INITS)}")
    return [(p, r) for p, r in results if r.is_random_init == (init == "random")]


def _index(results: list[tuple[Path, Any]], side: str) -> dict[tuple, tuple[Path, Any]]:
    out: dict[tuple, tuple[Path, Any]] = {}
    for path, result in results:
        key = tuple(getattr(result, k) for k in PAIR_KEY)
        if key in out:
            raise UserError(
                f"{side}: {out[key][0]} and {path} are both {dict(zip(PAIR_KEY, key))}; give one result set "
                "per side (e.g. results/runs/<method>)"
            )
        out[key] = (path, result)
    return out


def pair_results(a: list[tuple[Path, Any]], b: list[tuple[Path, Any]]) -> list[tuple[dict, tuple, tuple]]:
    """(shared fields, (path, result) of A, of B) for results that share :data:`PAIR_KEY`.

    Refuses (UserError) a pair whose split hashes differ: its samples differ, so no paired
    statement can be made. Results without a counterpart are logged and left out.
    """
    ia, ib = _index(a, "A"), _index(b, "B")
    matched = []
    for key in sorted(set(ia) & set(ib), key=str):
        (pa, ra), (pb, rb) = ia[key], ib[key]
        if ra.split_hashes != rb.split_hashes:
            differ = sorted(n for n in set(ra.split_hashes) | set(rb.split_hashes)
                            if ra.split_hashes.get(n) != rb.split_hashes.get(n))
            raise UserError(
                f"{pa} and {pb}: split hashes differ ({', '.join(differ)}): they were scored on different "
                "samples, so a paired comparison is meaningless; evaluate both on the same data and split seed"
            )
        matched.append((dict(zip(PAIR_KEY, key)), ia[key], ib[key]))
    for side, only in (("A", set(ia) - set(ib)), ("B", set(ib) - set(ia))):
        for key in sorted(only, key=str):
            log.warning("only in %s: %s", side, dict(zip(PAIR_KEY, key)))
    return matched


def paired_table(
    matched: list[tuple[dict, tuple, tuple]],
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    level: float = DEFAULT_LEVEL,
) -> list[tuple[dict, MetricComparison]]:
    """Every metric of every matched pair, Holm-adjusted over the whole table (``bench compare``,
    and the ablation table's deltas)."""
    from bench.registry import TASKS

    rows: list[MetricComparison] = []
    shared: list[dict] = []
    for fields, (pa, ra), (pb, rb) in matched:
        preds = [load_for_result(p, r.extra, r.split_hashes) for p, r in ((pa, ra), (pb, rb))]
        rescore = None if preds[0].kind in SCORERS else getattr(TASKS.get(ra.task), "rescore", None)
        found = compare_predictions(*preds, ra.metrics, rb.metrics, rescore, n_resamples, seed, level)
        rows.extend(found)
        shared.extend([fields] * len(found))
    return list(zip(shared, adjust(rows)))


def mean_paired_delta(
    pairs: list[tuple[Path, Path]],
    metric: str,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    level: float = DEFAULT_LEVEL,
) -> PairedDifference | None:
    """``variant - full`` of ``metric`` averaged over (full, variant) result files, with its paired bootstrap.

    Each pair's test samples are resampled with the same indices on both sides; a resample's delta
    is the mean over pairs of variant minus full. None when a result names no predictions file.
    """
    from bench.registry import TASKS
    from bench.results import load_result

    values_v, values_f, samples_v, samples_f = [], [], [], []
    for full_path, variant_path in pairs:
        results = [load_result(p) for p in (full_path, variant_path)]
        if any(ENTRY not in r.extra for r in results):
            return None
        pf, pv = (load_for_result(p, r.extra, r.split_hashes) for p, r in zip((full_path, variant_path), results))
        check_paired(pv, pf)
        rescore = None if pv.kind in SCORERS else getattr(TASKS.get(pv.task), "rescore", None)
        samples_v.append(resampled_metrics(pv, rescore, n_resamples, seed)[metric])
        samples_f.append(resampled_metrics(pf, rescore, n_resamples, seed)[metric])
        values_f.append(results[0].metrics.get(metric))
        values_v.append(results[1].metrics.get(metric))
    if not pairs or any(v is None for v in values_v + values_f):
        return None
    return paired_difference(float(np.mean(values_v)), float(np.mean(values_f)), np.mean(samples_v, axis=0),
                             np.mean(samples_f, axis=0), level)
