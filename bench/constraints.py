"""The kinds of constraint a setting can have; :data:`bench.config_values.CONSTRAINTS` is the table.

Each kind has ``problem(value) -> str | None``: None when the value is acceptable, else what was
expected (the caller adds the key and the value).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Range:
    """lo <= value (< or <=) hi; ``None`` is unbounded. ``above`` makes ``lo`` exclusive."""

    lo: float | None = None
    hi: float | None = None
    above: bool = False

    def problem(self, value: Any) -> str | None:
        if (self.lo is not None and (value <= self.lo if self.above else value < self.lo)) or (
            self.hi is not None and value > self.hi
        ):
            low = "-inf" if self.lo is None else f"{self.lo:g}"
            return f"expected {'(' if self.above else '['}{low}, {'inf' if self.hi is None else f'{self.hi:g}'}]"
        return None


@dataclass(frozen=True)
class Choice:
    values: tuple[str, ...]

    def problem(self, value: Any) -> str | None:
        return None if str(value).lower() in self.values else f"expected one of {', '.join(self.values)}"


@dataclass(frozen=True)
class Each:
    """A list whose every item meets ``rule``; non-empty unless ``empty`` (which then means "unset")."""

    rule: Range | Choice | Check
    empty: bool = False

    def problem(self, value: Any) -> str | None:
        if not value and not self.empty:
            return "expected at least one value"
        return next((f"{v!r}: {p}" for v in value if (p := self.rule.problem(v))), None)


@dataclass(frozen=True)
class Check:
    """A named predicate for values no range or list describes (e.g. ``cuda:1``)."""

    test: Callable[[Any], bool]
    expected: str

    def problem(self, value: Any) -> str | None:
        return None if self.test(value) else f"expected {self.expected}"
