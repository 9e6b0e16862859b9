"""What the engine adds to a result from the predictions its task left: the saved file and the intervals.

``result.extra["predictions"]``: ``{"file", "sha256", "kind", "split", "split_hash"}``, the
file beside the result JSON (:func:`bench.predictions.save_for_result`).
``result.extra["ci"]``: ``{"method": "percentile bootstrap", "level", "n_resamples", "seed",
"metrics": {name: [low, high]}, "undefined": {name: count}}`` (:func:`bench.stats.scorers.ci_record`),
one interval per metric of the result, null where the metric is undefined; ``{"skipped": why}``
for a kind that is not resampled (:data:`bench.stats.scorers.NOT_RESAMPLED`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.predictions import ENTRY, Predictions, save_for_result
from bench.stats.resample import DEFAULT_LEVEL, DEFAULT_RESAMPLES, DEFAULT_SEED
from bench.stats.scorers import NOT_RESAMPLED, SCORERS, Rescore, bootstrap_intervals, ci_record

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
