"""Per-sample predictions of the label tasks (classification, zero-shot), and reading them back.

A task builds a :class:`bench.predictions.Predictions` with :func:`label_predictions` and leaves
it on ``data.predictions``; its ``rescore`` turns the saved arrays back into tensors with
:func:`tensors` and calls the very metric function ``evaluate`` used.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from bench.predictions import Predictions
from tasks.common.metrics import slug


def label_predictions(
    task: str,
    dataset: str,
    kind: str,
    keys: Sequence[str],
    arrays: dict[str, torch.Tensor],
    classes: Sequence[str],
    split: str,
    threshold: float = 0.5,
) -> Predictions:
    """``arrays`` (``scores``, ``targets``, ...) as the metric saw them, one row per key."""
    for name, value in arrays.items():
        if len(value) != len(keys):
            raise ValueError(f"{task} predictions: {len(value)} rows of {name!r} for {len(keys)} keys")
    return Predictions(
        task,
        dataset,
        kind,
        list(keys),
        {name: value.detach().cpu().numpy() for name, value in arrays.items()},
        split=split,
        meta={"classes": list(classes), "labels": [slug(c) for c in classes], "threshold": threshold},
    )


def tensors(pred: Predictions, names: Sequence[str], rows: Sequence[int] | np.ndarray | None = None) -> list[torch.Tensor]:
    """The arrays ``names`` as tensors, restricted to (and repeated as) ``rows`` when given."""
    out = []
    for name in names:
        value = pred.arrays[name]
        out.append(torch.from_numpy(np.ascontiguousarray(value if rows is None else value[np.asarray(rows)])))
    return out
