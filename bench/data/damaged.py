"""Damaged images in evaluation: found cheaply before a cell is planned, or when it encodes them.

Evaluation never decodes a whole dataset up front. When a cell is planned, the images it uses (its
final splits) have their headers read, as ``bench data check`` does by default
(:func:`bench.data.images.header_readable`; each image once per :class:`HeaderChecks`): missing,
empty and mislabelled files, and those cut at the start, leave the cell before its split hashes
are computed. An image whose header reads but whose pixels do not decode is found when a task
decodes it: the task raises :class:`UnreadableImages` (after encoding the others), and the engine
(:func:`bench.evaluate.execute`) drops those records from the cell's splits and runs it again.
Either way each image is named in the log and counted in the result's ``skipped_images``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable
from typing import Any

from bench.data.base import Record, Table

log = logging.getLogger(__name__)
EXAMPLES = 5


class UnreadableImages(Exception):
    """Records whose image did not decode while a task encoded them: key -> (path, reason).

    ``partial`` optionally carries what the task computed for the other records (the feature
    layer uses it to cache their features before the cell runs again).
    """

    def __init__(self, failures: dict[str, tuple[str, str]], partial: Any = None) -> None:
        shown = "; ".join(f"{path}: {why}" for path, why in list(failures.values())[:3])
        super().__init__(f"{len(failures)} image(s) did not decode: {shown}")
        self.failures = dict(failures)
        self.partial = partial


def decode_error(exc: BaseException) -> str:
    """The reason a decode failed, as the log and the result name it."""
    return f"{type(exc).__name__}: {exc}"


class HeaderChecks:
    """Header reads of images, remembered per image path for the life of the instance."""

    def __init__(self, workers: int = 4) -> None:
        self.workers = workers
        self._seen: dict[str, tuple[bool, str]] = {}

    def failures(self, records: Iterable[Record]) -> dict[str, tuple[str, str]]:
        """key -> (path, reason) of the ``records`` whose header does not read."""
        from bench.data.check import probe

        records = list(records)
        todo = list(dict.fromkeys(r.image_path for r in records if r.image_path not in self._seen))
        if todo:
            self._seen.update(zip(todo, probe(todo, workers=self.workers)))
        return {r.key: (r.image_path, self._seen[r.image_path][1]) for r in records if not self._seen[r.image_path][0]}


def without(splits: dict[str, list[str]], keys: Iterable[str]) -> dict[str, list[str]]:
    """``splits`` less ``keys`` (order kept)."""
    drop = set(keys)
    return {name: [k for k in members if k not in drop] for name, members in splits.items()} if drop else splits


def note_skipped(dataset: str, failures: dict[str, tuple[str, str]], table: Table | None = None) -> None:
    """Log each skipped image (and add it to ``table.problems``)."""
    for path, why in failures.values():
        log.warning("%s: skipping damaged image %s (%s)", dataset, path, why)
        if table is not None:
            table.problems.append(f"{path}: unreadable, skipped: {why}")


def note_missing(table: Table) -> None:
    """Log the images the reader found listed but missing (they are in ``table.missing``)."""
    if table.missing:
        shown = ", ".join(str(p) for p in table.missing[:EXAMPLES])
        log.warning("%s: %d image(s) listed but missing, skipped: %s%s", table.dataset, len(table.missing), shown,
                    " ..." if len(table.missing) > EXAMPLES else "")


def used_records(splits: dict[str, list[str]], record: Callable[[str], Record]) -> list[Record]:
    """The records ``splits`` name, once each (``record``: key -> record)."""
    return [record(k) for k in dict.fromkeys(k for members in splits.values() for k in members)]


def readable_splits(data: Any, checks: HeaderChecks) -> tuple[Any, dict[str, tuple[str, str]]]:
    """``data`` (a :class:`bench.taskdata.TaskData`) without the records of its splits whose image
    header does not read; the skipped ones, logged."""
    failures = checks.failures(used_records(data.splits, data.record))
    if not failures:
        return data, {}
    note_skipped(data.dataset, failures)
    return dataclasses.replace(data, splits=without(data.splits, failures)), failures


def evaluate_skipping(
    evaluate: Callable[[Any], dict[str, float]], data: Any, skipped: dict[str, tuple[str, str]],
    damaged: dict[str, tuple[str, str]], label: str,
) -> tuple[dict[str, float], Any, dict[str, tuple[str, str]]]:
    """``evaluate(data)``; the records whose image does not decode (it raises
    :class:`UnreadableImages`) are dropped from the splits and it runs again. ``damaged`` (shared
    by the cells of a dataset) carries what was found to the next cells. Returns the metrics, the
    data the task ran on and every image skipped (``skipped``, header failures, included)."""
    used = {k for members in data.splits.values() for k in members}
    skipped = {**skipped, **{k: v for k, v in damaged.items() if k in used}}
    while True:
        run = dataclasses.replace(data, splits=without(data.splits, skipped), extras=dict(data.extras))
        try:
            return evaluate(run), run, skipped
        except UnreadableImages as exc:
            new = {k: v for k, v in exc.failures.items() if k not in skipped}
            if not new:
                raise
            note_skipped(data.dataset, new)
            damaged.update(new)
            skipped = {**skipped, **new}
            log.warning("%s: %d image(s) did not decode; running it again without them", label, len(new))
