"""Make MMEngine 0.10's checkpoints load under torch >= 2.6 without turning weights-only off.

torch >= 2.6 loads with ``weights_only=True`` by default, and MMEngine's runner writes numpy
arrays, numpy scalars and its own ``HistoryBuffer`` (whose pickled state holds
``getattr(HistoryBuffer, "min")`` and friends) into every checkpoint's ``message_hub``. Loading
such a checkpoint (``load_from``, ``resume``, ``load_checkpoint``) then fails with "Weights only
load failed". Instead of ``weights_only=False`` (arbitrary code from a stranger's file), this
module allows exactly those types: the numpy array/scalar/dtype reconstructors, the ``HistoryBuffer``
class, and in place of the builtin ``getattr`` a function that resolves only
``HistoryBuffer``'s statistics methods and refuses everything else.

:func:`install` is idempotent and runs when ``tasks.mm`` modules that load checkpoints are imported.
"""

from __future__ import annotations

import logging
import pickle
from typing import Any

import numpy as np
import torch

log = logging.getLogger(__name__)
_INSTALLED = False
HISTORY_STATISTICS = ("min", "max", "mean", "current")


def _numpy_globals() -> list[Any]:
    core = getattr(np, "_core", None) or np.core  # numpy 2 renamed core -> _core
    multiarray = core.multiarray
    items: list[Any] = [np.ndarray, np.dtype, multiarray._reconstruct, multiarray.scalar]
    # Checkpoints written under numpy 1.x name the same callables numpy.core.multiarray.*
    items += [
        (multiarray._reconstruct, "numpy.core.multiarray._reconstruct"),
        (multiarray.scalar, "numpy.core.multiarray.scalar"),
    ]
    dtypes = getattr(np, "dtypes", None)  # numpy >= 1.25 pickles dtypes as numpy.dtypes.<X>DType
    if dtypes is not None:
        items += [getattr(dtypes, n) for n in dir(dtypes) if n.endswith("DType")]
    return items


def history_getattr(obj: Any, name: str) -> Any:
    """``getattr`` restricted to MMEngine ``HistoryBuffer`` statistics (what its pickles need)."""
    from mmengine.logging.history_buffer import HistoryBuffer

    is_buffer = obj is HistoryBuffer or isinstance(obj, HistoryBuffer)
    if not is_buffer or name not in HISTORY_STATISTICS:
        raise pickle.UnpicklingError(
            f"refusing getattr({type(obj).__name__}, {name!r}) in a weights-only load; only "
            f"HistoryBuffer.{{{', '.join(HISTORY_STATISTICS)}}} are allowed"
        )
    return getattr(obj, name)


def install() -> None:
    """Allow MMEngine's checkpoint metadata in weights-only loads (once per process)."""
    global _INSTALLED
    if _INSTALLED:
        return
    from mmengine.logging.history_buffer import HistoryBuffer

    safe: list[Any] = _numpy_globals()
    safe += [HistoryBuffer, (history_getattr, "builtins.getattr")]
    torch.serialization.add_safe_globals(safe)
    _INSTALLED = True
    log.debug("allowed numpy and mmengine HistoryBuffer globals for weights-only checkpoint loads")
