"""The one entry point of SynthCXR: write every dataset in its real layout under ``out``.

``out/<dataset>`` for mimic-cxr, chexpert, rsna, siim, covidx and object-cxr, plus
``out/synth-manifest.json``: per image, the findings (kind, side, zone, severity, how the report
mentions them, how visible they are) with the bounding box of the pixels each one changed, and the
labels. Same arguments, same bytes: every study draws from its own seeded streams, identifiers
derive from the seed, and no file holds a clock value.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.data.base import process_pool
from bench.data.synth.boxes import opacity_boxes
from bench.data.synth.difficulty import Difficulty, resolve_difficulty
from bench.data.synth.writers import WRITERS, count_for
from bench.data.synth.writers.common import SynthContext

log = logging.getLogger(__name__)

GENERATOR_VERSION = "2"  # bump on any change to what is generated: cached copies are then rebuilt
MANIFEST = "synth-manifest.json"
DATASETS = tuple(WRITERS)


def generate(
    out: Path | str,
    studies: int = 1000,
    seed: int = 0,
    size: int = 224,
    difficulty: Difficulty | str | dict[str, Any] | None = "default",
    *,
    realism: bool = False,
    datasets: tuple[str, ...] | None = None,
    workers: int = 1,
) -> dict[str, Any]:
    """Generate SynthCXR into ``out``; returns a summary (counts per dataset, settings, seconds).

    ``studies`` sizes every dataset: mimic-cxr and chexpert train get ``studies`` studies (chexpert
    valid 20 % more), rsna, siim, covidx and object-cxr ``studies / 2`` images each (at least 8).
    ``realism`` draws label co-occurrence from the CheXpert labels shipped with torchxrayvision
    when it is installed (else the built-in frequencies); it changes the output, so it is opt-in.
    ``workers`` > 1 writes datasets in parallel processes; the files are the same either way.
    """
    if not isinstance(studies, int) or studies < 1:
        raise ValueError(f"studies={studies!r}: expected a positive integer")
    if not isinstance(size, int) or not 64 <= size <= 2048:
        raise ValueError(f"size={size!r}: expected an integer number of pixels in [64, 2048]")
    wanted = DATASETS if datasets is None else tuple(datasets)
    unknown = [d for d in wanted if d not in WRITERS]
    if unknown:
        raise ValueError(f"datasets {unknown}: expected some of {list(DATASETS)}")
    diff = resolve_difficulty(difficulty)
    ctx = SynthContext(seed=int(seed), size=size, difficulty=diff, realism=_realism(realism))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    manifest: dict[str, Any] = {
        "generator_version": GENERATOR_VERSION,
        "seed": ctx.seed,
        "studies": studies,
        "size": size,
        "difficulty": asdict(diff),
        "realism": ctx.realism is not None,
        "opacity_boxes": opacity_boxes().source,
        "datasets": {},
    }
    summary: dict[str, Any] = {k: v for k, v in manifest.items() if k != "datasets"}
    summary["out"], summary["datasets"] = str(out), {}
    jobs = [(name, out / name, count_for(name, studies), ctx) for name in wanted]
    if workers > 1 and len(jobs) > 1:
        with process_pool(min(workers, len(jobs))) as pool:
            results = list(pool.map(_write_dataset, jobs))
    else:
        results = [_write_dataset(job) for job in jobs]
    for name, (counts, entries) in zip(wanted, results):
        manifest["datasets"][name] = entries
        summary["datasets"][name] = counts
    text = json.dumps(manifest, sort_keys=True, separators=(",", ":"))
    (out / MANIFEST).write_text(text + "\n", encoding="utf-8")
    summary["images"] = sum(c.get("images", 0) for c in summary["datasets"].values())
    summary["seconds"] = round(time.perf_counter() - started, 2)
    return summary


def _write_dataset(job: tuple[str, Path, int, SynthContext]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    name, root, n, ctx = job
    tick = time.perf_counter()
    counts, entries = WRITERS[name][0](root, n, ctx)
    log.info("SynthCXR %s: %s in %.1f s", name, counts, time.perf_counter() - tick)
    return counts, entries


def _realism(enabled: bool):
    if not enabled:
        return None
    from bench.data.synth.realism import Realism

    return Realism.load()
