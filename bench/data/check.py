"""``bench data check``: read a dataset in its real format and count what is usable.

Missing and corrupt files are counted, never fatal, unless nothing at all is usable. By default
each image's header is read (exists, non-empty, JPEG/PNG size through PIL without decoding, DICOM
without pixel data); ``decode=True`` also decodes every image, in a process pool. Keys, the same
for every dataset: ``listed`` (images the annotation files name), ``found`` (listed, present and
readable), ``missing`` (listed, not on disk), ``unreadable`` (present, header or pixels do not
read); ``images`` is an alias of ``listed`` and ``usable`` of ``found``.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tqdm import tqdm

from bench.data.base import DataFormatError, Record, Table, process_pool
from bench.data.dicom import dicom_shape
from bench.data.images import header_readable, readable
from bench.data.rle import record_mask
from bench.registry import DATASETS

log = logging.getLogger(__name__)

EXAMPLES = 5
PROBLEMS = 10
NO_REPORT_COUNTS = ("missing_report", "no_report_section", "dropped_few_sentences")


def _label_counts(records: list[Record], classes: tuple[str, ...]) -> dict[str, dict[str, int]]:
    names = list(classes) or sorted({name for r in records for name in r.labels})
    out = {name: {"positive": 0, "negative": 0, "uncertain": 0, "blank": 0} for name in names}
    shared = Counter(id(r.labels) for r in records)  # readers share equal label dicts: count each once
    dicts = {id(r.labels): r.labels for r in records}
    for ident, times in shared.items():
        labels = dicts[ident]
        for name in names:
            value = labels.get(name, math.nan)
            kind = (
                "blank"
                if math.isnan(value)
                else {1.0: "positive", 0.0: "negative", -1.0: "uncertain"}.get(value)
            )
            if kind is not None:
                out[name][kind] += times
    return out


def _reports(table: Table, usable: list[Record]) -> dict[str, Any]:
    return {
        "reports": len({r.study for r in usable}),
        "no_report": sum(table.counts.get(k, 0) for k in NO_REPORT_COUNTS),
    }


def _boxes(table: Table, usable: list[Record]) -> dict[str, Any]:
    return {
        "boxes": sum(len(r.boxes) for r in usable),
        "images_with_boxes": sum(1 for r in usable if r.boxes),
    }


def _masks(table: Table, usable: list[Record]) -> dict[str, Any]:
    pixels = 0
    for record in usable:
        if not record.rle:
            continue
        try:
            pixels += int(record_mask(record, *dicom_shape(record.image)).sum())
        except ValueError as exc:
            table.problems.append(f"mask not decodable: {exc}")
    return {"positive_masks": sum(1 for r in usable if r.rle), "mask_pixels": pixels}


# Extra tallies, by what the dataset annotates; each applies when the dataset is known to carry that
# annotation or when any record does.
SECTIONS: dict[str, tuple[Callable[[Record], bool], Callable[[Table, list[Record]], dict[str, Any]]]] = {
    "reports": (lambda r: r.report is not None, _reports),
    "boxes": (lambda r: bool(r.boxes), _boxes),
    "masks": (lambda r: bool(r.rle), _masks),
}
KNOWN_SECTIONS: dict[str, tuple[str, ...]] = {
    "mimic-cxr": ("reports",),
    "rsna": ("boxes",),
    "object-cxr": ("boxes",),
    "siim": ("masks",),
}


# Reader options for a check or a split: what needs no report sentences (see bench.data.mimic).
LIGHT_READ: dict[str, dict[str, Any]] = {"mimic-cxr": {"sentences": False}}
BAR_FROM = 2000  # images; a progress bar for more
POOL_FROM = 200  # images; decoded in a process pool from this many
HEADER_POOL_FROM = 20_000  # images; headers read in a process pool from this many
CHUNK = 1024  # images per task given to a thread or process


def light_options(name: str) -> dict[str, Any]:
    """Reader options for commands that need images and labels but no report sentences."""
    return dict(LIGHT_READ.get(name.lower(), {}))


def _chunk(check: Callable[[str], tuple[bool, str]], paths: list[str]) -> list[tuple[bool, str]]:
    return [check(p) for p in paths]


def probe(paths: list[str | Path], *, decode: bool = False, workers: int = 4) -> list[tuple[bool, str]]:
    """(ok, reason) per image: header reads, or full decodes, in ``workers`` processes from
    :data:`POOL_FROM` images (headers: :data:`HEADER_POOL_FROM`), else threads; in chunks, with a
    progress bar (images/s) on more than a few thousand and the rate in the log."""
    start = time.perf_counter()
    bar = tqdm(total=len(paths), unit="img", desc="decode" if decode else "headers", disable=len(paths) < BAR_FROM)
    workers = max(1, workers)
    check = readable if decode else header_readable
    texts = [str(p) for p in paths]
    step = max(1, min(CHUNK, -(-len(texts) // (workers * 4))))
    chunks = [texts[i : i + step] for i in range(0, len(texts), step)]
    processes = workers > 1 and len(texts) >= (POOL_FROM if decode else HEADER_POOL_FROM)
    results: list[tuple[bool, str]] = []
    with process_pool(workers) if processes else ThreadPoolExecutor(workers) as pool:
        for part in pool.map(_chunk, [check] * len(chunks), chunks):
            results.extend(part)
            bar.update(len(part))
    bar.close()
    seconds = time.perf_counter() - start
    log.info("%s %d images in %.1f s (%.0f images/s, %d %s)", "decoded" if decode else "read the headers of",
             len(paths), seconds, len(paths) / max(seconds, 1e-9), workers, "processes" if processes else "threads")
    return results


def _symlinked(root: Path, records: list[Record]) -> list[str]:
    """The folders inside ``root`` that are symbolic links and hold some of the images (allowed:
    ``files/`` on another disk is common), so the user sees where the data really lives. Each
    folder is looked at once (one lstat), from the images' folders up to ``root``."""
    top = os.fspath(root).rstrip(os.sep) or os.sep
    inside = top.rstrip(os.sep) + os.sep
    links: set[str] = set()
    seen: set[str] = set()
    for folder in {os.path.dirname(r.image_path) for r in records}:
        while folder != top and folder not in seen and folder.startswith(inside):
            seen.add(folder)
            if os.path.islink(folder):
                links.add(folder)
            folder = os.path.dirname(folder)
    return [f"{p} -> {Path(p).resolve()}" for p in sorted(links)]


def check(
    name: str, root: Path | str, *, decode: bool = False, workers: int = 4, full: bool | None = None,
    **options: Any
) -> dict[str, Any]:
    """Counts for dataset ``name`` at ``root`` (keys: images, missing, unreadable, usable, labels,
    counts, problems, problem_count, missing_examples, unreadable_examples, plus reports/no_report,
    boxes/images_with_boxes or positive_masks/mask_pixels where they apply; see the module for
    listed/found/missing/unreadable). ``decode`` (or its older name ``full``) decodes every image;
    otherwise only headers are read. ``reports`` counts studies with a usable report; ``no_report``
    the studies dropped for a missing report (MIMIC-CXR is checked without splitting sentences, so
    its reports are usable when present). ``options`` go to the reader."""
    reader = DATASETS.get(name)
    decode = decode if full is None else full
    table: Table = reader.read(Path(root), **{**light_options(name), **options})
    results = probe([r.image_path for r in table.records], decode=decode, workers=workers)
    usable = [r for r, (ok, _) in zip(table.records, results) if ok]
    bad = [(r, why) for r, (ok, why) in zip(table.records, results) if not ok]
    summary: dict[str, Any] = {
        "dataset": name,
        "root": str(root),
        "listed": len(table.records) + len(table.missing),
        "found": len(usable),
        "missing": len(table.missing),
        "unreadable": len(bad),
        "images": len(table.records) + len(table.missing),  # alias of listed
        "usable": len(usable),  # alias of found
        "labels": _label_counts(usable, table.classes),
        "counts": dict(table.counts),
        "missing_examples": [str(p) for p in table.missing[:EXAMPLES]],
        "unreadable_examples": [f"{r.image}: {why}" for r, why in bad[:EXAMPLES]],
        "symlinked_folders": _symlinked(Path(root), table.records),
    }
    wanted = set(KNOWN_SECTIONS.get(name.lower(), ()))
    wanted |= {
        section for section, (applies, _) in SECTIONS.items() if any(applies(r) for r in table.records)
    }
    for section in sorted(wanted):
        summary.update(SECTIONS[section][1](table, usable))
    summary["problem_count"] = len(table.problems)
    summary["problems"] = table.problems[:PROBLEMS]
    if not usable:
        raise DataFormatError(
            root,
            f"{name}: no usable image ({summary['images']} listed, {summary['missing']} missing, "
            f"{summary['unreadable']} unreadable); first problems: {summary['problems'][:3]}"
        )
    log.info("%s: %d usable of %d images", name, len(usable), summary["images"])
    return summary
