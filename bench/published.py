"""Published numbers with provenance: read and validate ``results/published.csv``.

One row per published number. Columns (:data:`COLUMNS`):

- ``source``: paper (or repository), table and where it was transcribed from;
- ``method``, ``task``, ``dataset``: names the registries know (``bench ls``), or a name this
  harness does not have, written as the source spells it after the marker ``ext:``
  (``ext:MGCA-R50``, ``ext:NIH ChestX-ray14``);
- ``protocol``: the name a task records in its results (``linear-probe``, ``finetune``,
  ``unet-frozen``, ``upernet``...), ``ext:<name>`` for one this harness does not run (BenchX's
  YOLOv3 heads, MIMIC 5x200 retrieval), or ``*`` when the source does not say (unsure rows only);
- ``split``: the split the source scored (``test``, ``5x200``), empty when not stated;
- ``fraction``: the label fraction in (0, 1], ``*`` when not stated (unsure rows only), empty when
  the number is not for one fraction (an average over fractions);
- ``metric``: one of the task's ``METRICS`` (on the harness's scale: AUROC, Dice and precision in
  [0, 1], so a paper's 87.3 % is 0.873), or ``ext:<name>``;
- ``value``, ``spread`` (the std the source gives, same scale; empty if none) and ``tolerance``
  (seeded as max(3 x spread, 0.02): a reproduction on another pipeline within 2 points passes);
- ``status``: ``confirmed``, or ``unsure`` (shown next to results, never gating);
- ``note``: the row as the source reports it, and why it is unsure.

A row's identity (:meth:`PublishedRow.key`) is every column but the numbers and the note; two
rows with the same identity are an error.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bench.errors import UserError

RESULTS_DIR = Path(__file__).resolve().parent.parent / "results"  # published.csv and baselines/
DEFAULT_PATH = RESULTS_DIR / "published.csv"
COLUMNS = (
    "source",
    "method",
    "task",
    "protocol",
    "dataset",
    "split",
    "fraction",
    "metric",
    "value",
    "spread",
    "tolerance",
    "status",
    "note",
)
EXTERNAL = "ext:"  # a name this harness does not implement, kept as the source spells it
ANY = "*"  # not stated by the source (unsure rows only): matches any value
STATUSES = ("confirmed", "unsure")


class PublishedError(UserError):
    """A published-numbers file that does not parse or names something unknown."""


@dataclass(frozen=True)
class PublishedRow:
    source: str
    method: str
    task: str
    protocol: str
    dataset: str
    split: str
    fraction: float | str  # a float in (0, 1], ANY, or "" (not one fraction)
    metric: str
    value: float
    spread: float | None
    tolerance: float
    status: str
    note: str = ""
    line: int = 0  # line in the file (1 = header), for messages

    def key(self) -> tuple:
        return (
            self.source,
            self.method,
            self.task,
            self.protocol,
            self.dataset,
            self.split,
            self.fraction,
            self.metric,
        )

    @property
    def gating(self) -> bool:
        return self.status == "confirmed"

    def matches(
        self, method: str, task: str, protocol: str, dataset: str, fraction: float, metric: str
    ) -> bool:
        """Same method, task, protocol, dataset, label fraction and metric (``*`` matches any)."""
        if (self.method, self.task, self.dataset, self.metric) != (method, task, dataset, metric):
            return False
        if self.protocol not in (ANY, protocol):
            return False
        if self.fraction == ANY:
            return True
        return isinstance(self.fraction, float) and math.isclose(self.fraction, fraction, rel_tol=1e-9)


def is_external(name: str) -> bool:
    return name.startswith(EXTERNAL) and len(name) > len(EXTERNAL)


def load_published(path: Path | str = DEFAULT_PATH, check_names: bool = True) -> list[PublishedRow]:
    """Every row of ``path``, parsed; raises :class:`PublishedError` naming the first bad line.

    With ``check_names`` the method, task, dataset and metric names are checked against the
    registries (which imports the task modules for their ``METRICS``).
    """
    path = Path(path)
    if not path.is_file():
        raise PublishedError(f"{path}: no such published-numbers file")
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise PublishedError(
                f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}"
            )
        rows = [_parse(raw, f"{path} line {reader.line_num}", reader.line_num) for raw in reader]
    problems = _duplicates(rows, path)
    if check_names:
        problems += [p for row in rows for p in name_problems(row, f"{path} line {row.line}")]
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise PublishedError(problems[0] + more)
    return rows


def _number(raw: dict, column: str, where: str, optional: bool = False) -> float | None:
    text = (raw.get(column) or "").strip()
    if not text and optional:
        return None
    try:
        value = float(text)
    except ValueError:
        raise PublishedError(f"{where}: {column} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise PublishedError(f"{where}: {column} {text!r} is not finite")
    return value


def _parse(raw: dict, where: str, line: int) -> PublishedRow:
    text = {c: (raw.get(c) or "").strip() for c in COLUMNS}
    for column in ("source", "method", "task", "protocol", "dataset", "metric"):
        if not text[column]:
            raise PublishedError(f"{where}: empty {column}")
    status = text["status"]
    if status not in STATUSES:
        raise PublishedError(f"{where}: status {status!r}; expected one of {', '.join(STATUSES)}")
    fraction: float | str = text["fraction"]
    if fraction not in ("", ANY):
        fraction = _number(raw, "fraction", where)
        if not 0.0 < fraction <= 1.0:
            raise PublishedError(f"{where}: fraction {text['fraction']} is not a label fraction in (0, 1]")
    if status != "unsure" and ANY in (fraction, text["protocol"]):
        raise PublishedError(f"{where}: {ANY!r} (not stated) is allowed on unsure rows only")
    spread = _number(raw, "spread", where, optional=True)
    tolerance = _number(raw, "tolerance", where)
    for column, value in (("spread", spread), ("tolerance", tolerance)):
        if value is not None and value < 0:
            raise PublishedError(f"{where}: {column} {value} is negative")
    return PublishedRow(
        text["source"],
        text["method"],
        text["task"],
        text["protocol"],
        text["dataset"],
        text["split"],
        fraction,
        text["metric"],
        _number(raw, "value", where),
        spread,
        tolerance,
        status,
        text["note"],
        line,
    )


def _duplicates(rows: Iterable[PublishedRow], path: Path) -> list[str]:
    seen: dict[tuple, int] = {}
    out = []
    for row in rows:
        if row.key() in seen:
            out.append(
                f"{path} line {row.line}: same source, method, task, protocol, dataset, split, fraction "
                f"and metric as line {seen[row.key()]}"
            )
        seen.setdefault(row.key(), row.line)
    return out


def name_problems(row: PublishedRow, where: str) -> list[str]:
    """What in ``row`` the registries do not know (and is not marked ``ext:``)."""
    from bench.registry import DATASETS, METHODS, TASKS

    out = []
    for column, registry in (("method", METHODS), ("task", TASKS), ("dataset", DATASETS)):
        name = getattr(row, column)
        if not is_external(name) and name not in registry:
            out.append(f"{where}: {registry.error_message(name)} (or mark it {EXTERNAL}{name})")
    if is_external(row.task) or row.task not in TASKS:
        if not is_external(row.metric):
            out.append(
                f"{where}: metric {row.metric!r} of a task this harness lacks must be marked {EXTERNAL}"
            )
        return out
    metrics = TASKS.get(row.task).METRICS
    if not is_external(row.metric) and row.metric not in metrics:
        out.append(
            f"{where}: task {row.task} has no metric {row.metric!r}; its metrics: "
            f"{', '.join(metrics)} (or mark it {EXTERNAL}{row.metric})"
        )
    return out
