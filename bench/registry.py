"""One small generic registry; instances for methods, tasks, datasets, checkpoint formats and presets.

Built-ins are registered lazily as ``"module:attr"`` strings (or ``"module"`` for a whole module)
so that ``bench ls`` and ``--help`` import neither torch nor the mm toolboxes. Third-party
plugins arrive through the entry-point groups ``bench.methods``, ``bench.tasks``,
``bench.datasets`` and ``bench.formats`` and are loaded on first use too.

A checkpoint format (``bench import --format NAME``) is a module or object with ``METHOD`` (the
registry name of the method its weights fit), ``convert_official(state_dict) -> (mapped,
unmatched keys)`` and optionally ``DROPPED`` (prefixes of source keys that are unused by design).
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import importlib.util
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any, Generic, TypeVar

from bench.errors import UserError

T = TypeVar("T")


class UnknownNameError(UserError, KeyError):
    """An unknown registry name; the message lists valid names and the nearest one."""

    def __str__(self) -> str:  # KeyError quotes its message; this one reads as prose
        return str(self.args[0])


@dataclass
class Entry:
    name: str
    target: Any  # the object, a "module:attr" string, or an EntryPoint
    meta: dict[str, Any] = field(default_factory=dict)


class Registry(Generic[T]):
    """Name -> object, with lazy targets, aliases, suggestions and plugin discovery."""

    def __init__(self, kind: str, group: str | None = None) -> None:
        self.kind = kind
        self.group = group
        self._entries: dict[str, Entry] = {}
        self._loaded: dict[str, T] = {}
        self._plugins_scanned = group is None
        self._lock = threading.Lock()

    # -- registration --------------------------------------------------------------------------
    def register(self, name: str, target: Any = None, **meta: Any) -> Any:
        """Register ``target`` under ``name``; without a target, work as a decorator."""
        if target is None:

            def decorator(obj: Any) -> Any:
                self.register(name, obj, **meta)
                return obj

            return decorator
        key = name.lower()
        existing = self._entries.get(key)
        if existing is not None and existing.target is not target:
            raise ValueError(f"{self.kind} {name!r} is already registered ({existing.target!r})")
        self._entries[key] = Entry(key, target, dict(meta))
        self._loaded.pop(key, None)
        return target

    def unregister(self, name: str) -> None:
        """Remove ``name`` (UnknownNameError when it is not registered)."""
        entry = self._entry(name)
        del self._entries[entry.name]
        self._loaded.pop(entry.name, None)

    @contextlib.contextmanager
    def temporarily(self, name: str, target: Any, **meta: Any) -> Iterator[Any]:
        """Register ``target`` under ``name`` for the ``with`` block only (tests, one-off runs)."""
        self.register(name, target, **meta)
        try:
            yield target
        finally:
            self.unregister(name)

    def _scan_plugins(self) -> None:
        if self._plugins_scanned:
            return
        self._plugins_scanned = True
        for ep in entry_points(group=self.group):
            if ep.name.lower() not in self._entries:
                self._entries[ep.name.lower()] = Entry(ep.name.lower(), ep, {"plugin": ep.value})

    # -- lookup --------------------------------------------------------------------------------
    def names(self) -> list[str]:
        self._scan_plugins()
        return sorted(self._entries)

    def available(self) -> list[str]:
        """Names whose code is present (a lazy built-in's module can be found), without importing it."""
        out = []
        for name in self.names():
            target = self._entries[name].target
            if isinstance(target, str) and "/" not in target:  # "module[:attr]", not a file path
                module = target.partition(":")[0]
                try:
                    if importlib.util.find_spec(module) is None:
                        continue
                except ModuleNotFoundError:
                    continue
            out.append(name)
        return out

    def meta(self, name: str) -> dict[str, Any]:
        return self._entry(name).meta

    def __contains__(self, name: object) -> bool:
        self._scan_plugins()
        return isinstance(name, str) and name.lower() in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def _entry(self, name: str) -> Entry:
        self._scan_plugins()
        key = name.lower()
        if key not in self._entries:
            raise UnknownNameError(self.error_message(name))
        return self._entries[key]

    def error_message(self, name: str) -> str:
        valid = self.names()
        near = difflib.get_close_matches(name.lower(), valid, n=1, cutoff=0.5)
        hint = f" Did you mean {near[0]!r}?" if near else ""
        return f"unknown {self.kind} {name!r}.{hint} Valid {self.kind}s: {', '.join(valid) or '(none)'}"

    def get(self, name: str) -> T:
        entry = self._entry(name)
        with self._lock:
            if entry.name not in self._loaded:
                self._loaded[entry.name] = _load(entry.target)
            return self._loaded[entry.name]

    def _clear(self) -> None:
        """Forget everything (tests only)."""
        self._entries.clear()
        self._loaded.clear()


def _load(target: Any) -> Any:
    if isinstance(target, EntryPoint):
        return target.load()
    if isinstance(target, str):
        module_name, _, attr = target.partition(":")
        module = importlib.import_module(module_name)
        return getattr(module, attr) if attr else module
    return target


METHODS: Registry[Any] = Registry("method", group="bench.methods")
TASKS: Registry[Any] = Registry("task", group="bench.tasks")
DATASETS: Registry[Any] = Registry("dataset", group="bench.datasets")
FORMATS: Registry[Any] = Registry("format", group="bench.formats")
PRESETS: Registry[Any] = Registry("preset")


def _register_builtins() -> None:
    # Methods: the class; meta lets `bench ls` show components without importing torch.
    METHODS.register(
        "convirt", "methods.convirt:ConVIRT", components=(), paper="Zhang et al., MLHC 2022"
    )
    METHODS.register(
        "gloria", "methods.gloria:GLoRIA", components=("local_alignment",), paper="Huang et al., ICCV 2021"
    )
    METHODS.register(
        "prior",
        "methods.prior:PRIOR",
        components=("local_alignment", "prototype_bank", "image_reconstruction", "sentence_generation"),
        paper="Cheng et al., ICCV 2023",
    )
    # Tasks: modules following bench.api.Task.
    for name in ("classification", "zero_shot", "retrieval", "segmentation", "detection"):
        TASKS.register(name, f"tasks.{name}")
    # Datasets: reader modules with read(root) -> Table.
    for name, module in (
        ("mimic-cxr", "mimic"),
        ("chexpert", "chexpert"),
        ("rsna", "rsna"),
        ("siim", "siim"),
        ("covidx", "covidx"),
        ("object-cxr", "object_cxr"),
    ):
        DATASETS.register(name, f"bench.data.{module}")
    # Checkpoint formats for `bench import`: converter modules (see the module docstring).
    for name, module in (("prior", "prior"), ("gloria", "gloria"), ("benchx-convirt", "convirt")):
        FORMATS.register(name, f"methods.{module}.convert")
    for name in ("tiny", "default"):
        PRESETS.register(name, Path(__file__).parent / "presets" / f"{name}.yaml")


_register_builtins()
