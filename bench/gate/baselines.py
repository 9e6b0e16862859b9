"""Pinned baselines: what this project's own runs score on the embedded default, one file per method.

``results/baselines/<method>.json`` holds every cell (init, ablation, task, protocol, dataset,
fraction, evaluation seed, metric) of ``bench run --task all`` on the embedded default, the
random-init cells included, with the git commit and config hash that produced them.

Tolerance, from measurement: the same cells are run after pretraining with several seeds
(``train.seed``); a cell's tolerance is ``max(K x std, FLOOR)``, the std (ddof 1) over those
pretraining seeds. The pinned ``value`` is the run of the pinned seed (the smallest, unless
chosen), which is what a CI run with the same config reproduces; ``mean``, ``std`` and ``n`` are
kept beside it (a cell the pinned seed lacks pins the mean). ``bench run --seeds 0 1 2`` writes
the three pretraining seeds' cells side by side; ``--update`` reads one or several results
folders. With fewer than :data:`MIN_SEEDS` seeds the spread is not measured and the
tolerance falls back to the floor (the update says so).
"""

from __future__ import annotations

import json
import logging
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bench.errors import UserError
from bench.fileio import write_json_atomic
from bench.gate.compare import EMBEDDED, cell_row, data_source, table
from bench.published import RESULTS_DIR
from bench.results import Result, config_hash, variant_name

log = logging.getLogger(__name__)
DEFAULT_DIR = RESULTS_DIR / "baselines"
SCHEMA = 1
K = 3.0
FLOOR = 0.01
MIN_SEEDS = 3
RULE = (
    f"tolerance = max({K:g} x std over pretraining seeds (ddof 1), {FLOOR:g}); "
    f"the floor alone below {MIN_SEEDS} seeds"
)
KEY_FIELDS = ("init", "ablation", "task", "protocol", "dataset", "fraction", "seed", "metric")


class BaselineError(UserError):
    """A baseline file that does not parse."""


def init_of(result: Result) -> str:
    return "random" if result.checkpoint == "random" else "pretrained"


def cell_key(method: str, cell: dict[str, Any]) -> tuple:
    return (method, *(tuple(cell[f]) if f == "ablation" else cell[f] for f in KEY_FIELDS))


def result_key(result: Result, metric: str) -> tuple:
    return (
        result.method,
        init_of(result),
        tuple(result.ablation),
        result.task,
        result.protocol,
        result.dataset,
        float(result.fraction),
        int(result.seed),
        metric,
    )


def load_baselines(folder: Path | str = DEFAULT_DIR) -> dict[str, dict[str, Any]]:
    """method -> its baseline document; an empty dict when the folder holds none."""
    out = {}
    for path in sorted(Path(folder).glob("*.json")):
        try:
            doc = json.loads(path.read_text())
            if doc.get("schema") != SCHEMA or not isinstance(doc.get("cells"), list):
                raise ValueError(f"expected schema {SCHEMA} with a list of cells")
            for cell in doc["cells"]:
                cell_key(doc["method"], cell)
        except (ValueError, KeyError, TypeError) as exc:
            raise BaselineError(f"{path}: not a baseline file ({exc})") from None
        doc["path"] = str(path)
        out[doc["method"]] = doc
    return out


def against_baselines(
    results: Iterable[Result], baselines: dict[str, dict[str, Any]], tolerance: float | None = None
) -> tuple[Any, dict[str, int]]:
    """Embedded-default results against the pinned cells; others (real data, --data SynthCXR) are counted."""
    index = {cell_key(m, c): (doc, c) for m, doc in baselines.items() for c in doc["cells"]}
    rows, skipped, seen = [], 0, set()
    for result in results:
        if data_source(result)["kind"] != EMBEDDED:
            skipped += 1
            continue
        for metric in sorted(result.metrics):
            key = result_key(result, metric)
            if key not in index:
                rows.append(cell_row(result, metric, None, None, False, "", "no pinned cell"))
                continue
            seen.add(key)
            doc, cell = index[key]
            tol = cell["tolerance"] if tolerance is None else tolerance
            notes = _differences(result, doc)
            source = f"{Path(doc['path']).name} @ {(doc.get('git_commit') or '?')[:10]}"
            rows.append(cell_row(result, metric, cell["value"], tol, True, source, notes))
    return table(rows), {
        "skipped_not_embedded_default": skipped,
        "pinned_without_result": len(set(index) - seen),
    }


def _differences(result: Result, doc: dict[str, Any]) -> str:
    notes = []
    if result.config and config_hash(result.config) not in doc.get("config_hashes", []):
        notes.append("config differs from the pinned one")
    pinned = doc.get("data_source") or {}
    ours = _generator(result)
    if pinned and len(ours) > 1 and any(ours.get(k) != v for k, v in pinned.items()):
        notes.append("embedded default differs from the pinned one")
    return "; ".join(notes)


def _generator(result: Result) -> dict[str, Any]:
    """The embedded default's settings (generator version, seed, studies, size, difficulty)."""
    return {k: v for k, v in data_source(result).items() if k not in ("name", "root")}


def build(results: Iterable[Result], pin_seed: int | None = None) -> dict[str, dict[str, Any]]:
    """New baseline documents (method -> document) from embedded-default results."""
    by_method: dict[str, list[Result]] = defaultdict(list)
    for result in results:
        if data_source(result)["kind"] == EMBEDDED:
            by_method[result.method].append(result)
    return {method: _document(method, found, pin_seed) for method, found in sorted(by_method.items())}


def _document(method: str, found: list[Result], pin_seed: int | None) -> dict[str, Any]:
    seeds = sorted({_seed(r) for r in found})
    pinned_seed = seeds[0] if pin_seed is None else pin_seed
    if pinned_seed not in seeds:
        raise UserError(f"--pin-seed {pinned_seed}: {method} results have pretraining seeds {seeds}")
    values: dict[tuple, dict[int, float | None]] = defaultdict(dict)
    for r in found:
        for metric, value in r.metrics.items():
            values[result_key(r, metric)][_seed(r)] = value
    pinned = [r for r in found if _seed(r) == pinned_seed]
    cells = [
        _cell(key, per_seed, pinned_seed)
        for key, per_seed in sorted(values.items(), key=lambda kv: str(kv[0]))
    ]
    commits = Counter(r.git_commit for r in pinned if r.git_commit)
    return {
        "schema": SCHEMA,
        "method": method,
        "preset": Counter(r.preset for r in pinned).most_common(1)[0][0],
        "git_commit": commits.most_common(1)[0][0] if commits else None,
        "config_hashes": sorted({config_hash(r.config) for r in pinned if r.config}),
        "data_source": _generator(pinned[0]),
        "pretrain_seeds": seeds,
        "pinned_seed": pinned_seed,
        "tolerance_rule": RULE,
        "cells": cells,
    }


def _seed(result: Result) -> int:
    seed = result.pretrain_seed
    return 0 if seed is None else seed


def _cell(key: tuple, per_seed: dict[int, float | None], pinned_seed: int) -> dict[str, Any]:
    cell = dict(zip(KEY_FIELDS, key[1:]))
    cell["ablation"] = list(cell["ablation"])
    finite = [v for v in per_seed.values() if v is not None]
    std = statistics.stdev(finite) if len(finite) >= 2 else None
    measured = std is not None and len(finite) >= MIN_SEEDS
    value = (
        per_seed[pinned_seed] if pinned_seed in per_seed else (statistics.fmean(finite) if finite else None)
    )
    cell.update(
        value=value,
        mean=statistics.fmean(finite) if finite else None,
        std=std,
        n=len(finite),
        tolerance=max(K * std, FLOOR) if measured else FLOOR,
    )
    return cell


def diff(old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """What an update changes: one row per added, removed or changed cell."""
    before = {cell_key(m, c): c for m, d in old.items() for c in d["cells"]}
    after = {cell_key(m, c): c for m, d in new.items() for c in d["cells"]}
    rows = []
    for key in sorted(set(before) | set(after), key=str):
        a, b = before.get(key), after.get(key)
        if a is not None and b is not None and (a["value"], a["tolerance"]) == (b["value"], b["tolerance"]):
            continue
        change = "added" if a is None else "removed" if b is None else "changed"
        rows.append(
            {
                "change": change,
                "cell": _text(key),
                "old": a and a["value"],
                "new": b and b["value"],
                "old_tolerance": a and a["tolerance"],
                "new_tolerance": b and b["tolerance"],
            }
        )
    return rows


def _text(key: tuple) -> str:
    """``convirt (random init) classification linear-probe chexpert 1% seed 0 auroc``."""
    method, init, ablation, task, protocol, dataset, fraction, seed, metric = key
    name = variant_name(method, ablation) + (" (random init)" if init == "random" else "")
    return f"{name} {task} {protocol or '-'} {dataset} {fraction * 100:g}% seed {seed} {metric}"


def write(docs: dict[str, dict[str, Any]], folder: Path | str = DEFAULT_DIR) -> list[Path]:
    paths = []
    for method, doc in docs.items():
        doc = {k: v for k, v in doc.items() if k != "path"}
        paths.append(write_json_atomic(Path(folder) / f"{method}.json", doc))
    log.info("wrote %d baseline file(s) under %s", len(paths), folder)
    return paths
