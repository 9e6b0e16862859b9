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
