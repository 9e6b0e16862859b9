"""Object-CXR layout: train.csv / dev.csv (image_name,annotation) and JPEGs in train/ and dev/.

Half of the images hold 1-3 foreign objects (rectangles, ellipses, polygons) drawn exactly where
their annotation says; the other half have an empty annotation. Background findings (no support
devices) appear as in any chest radiograph. The last fifth of the images form dev.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.data.synth.devices import object_drawer, sample_objects
from bench.data.synth.render import render_frontal
from bench.data.synth.scene import bbox
from bench.data.synth.writers.common import (
    META,
    RENDER,
    SynthContext,
    manifest_entry,
    plan_for,
    save_image,
    write_csv,
)

NAME = "object-cxr"
WITH_OBJECTS, DEV_FRACTION = 0.5, 0.2


def write(root: Path, n: int, ctx: SynthContext) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    rows: dict[str, list[list[str]]] = {"train": [], "dev": []}
    entries, objects_total = [], 0
    n_dev = max(1, int(round(n * DEV_FRACTION))) if n > 1 else 0
    for i in range(n):
        split = "dev" if i >= n - n_dev else "train"
        rng_meta = ctx.rng(NAME, i, META)
        count = int(rng_meta.integers(1, 4)) if rng_meta.random() < WITH_OBJECTS else 0
        objects = sample_objects(rng_meta, ctx.size, count)
        plan = plan_for(ctx, NAME, i, exclude=("device",))
        rendered = render_frontal(
            ctx.rng(NAME, i, RENDER),
            plan.findings,
            ctx.difficulty,
            ctx.size,
            extra=tuple(object_drawer(o) for o in objects),
        )
        name = f"{i + 1:05d}.jpg"
        save_image(root / split / name, rendered.image)
        rows[split].append([name, ";".join(o.annotation() for o in objects)])
        drawn = rendered.regions[len(plan.findings) :]
        objects_total += count
        entries.append(
            manifest_entry(
                name,
                f"{split}/{name}",
                split,
                plan,
                rendered,
                objects=[
                    {"annotation": o.annotation(), "box": list(bbox(m) or ())} for o, m in zip(objects, drawn)
                ],
            )
        )
    for split, table in rows.items():
        write_csv(root / f"{split}.csv", ("image_name", "annotation"), table)
    return {
        "images": n,
        "train": len(rows["train"]),
        "dev": len(rows["dev"]),
        "objects": objects_total,
    }, entries
