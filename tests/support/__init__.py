"""Test-only methods and data, shared by the test folders: ``from support import planted``.

``tests/`` holds the top ``conftest.py`` and is no package, so pytest puts it on ``sys.path``
(its ``rootdir``-relative import mode) and this package imports by name in every test module.
Subprocesses a test starts get it through ``PYTHONPATH`` (:data:`TESTS`).

The methods here never register themselves: :func:`registered` adds one to a registry for a
``with`` block, and the fixtures of ``tests/conftest.py`` use it, so the global registries hold
only the built-ins between test modules.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.registry import Registry

TESTS = Path(__file__).resolve().parent.parent
REPO = TESTS.parent


@contextlib.contextmanager
def registered(registry: Registry, name: str, target: Any, **meta: Any) -> Iterator[Any]:
    """``target`` under ``name`` in ``registry`` for the block; an existing entry is an error."""
    if name in registry:
        raise RuntimeError(f"{registry.kind} {name!r} is already registered; a test left it behind")
    with registry.temporarily(name, target, **meta):
        yield target


def subprocess_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` with the repository and ``tests/`` first on ``PYTHONPATH``."""
    import os

    paths = [str(REPO), str(TESTS), env.get("PYTHONPATH", "")]
    return {**env, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


def failing_task(name: str, error: BaseException, datasets: tuple[str, ...] = ("chexpert",)) -> Any:
    """A task module (not registered) whose ``evaluate`` raises ``error``: for the error paths."""
    import types

    module = types.ModuleType(f"{name}_task")
    module.NAME, module.VERSION, module.DATASETS, module.FRACTIONS = name, "1", datasets, (1.0,)
    module.METRICS = {"x": True}

    def evaluate(method: Any, data: Any, cfg: Any) -> dict[str, float]:
        raise error

    module.evaluate = evaluate
    return module


PUBLISHED_ROW = dict(
    source="Paper (2024) Table 1", method="convirt", task="classification", protocol="linear-probe",
    dataset="chexpert", split="test", fraction="0.01", metric="auroc", value="0.86", spread="0.01",
    tolerance="0.03", status="confirmed", note="",
)


def write_published(path: Path, *rows: dict[str, str], columns: Any = None) -> Path:
    """A published-numbers CSV: one line per ``rows`` entry, each :data:`PUBLISHED_ROW` updated by it."""
    import csv

    from bench.published import COLUMNS

    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns or COLUMNS), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({**PUBLISHED_ROW, **row})
    return path
