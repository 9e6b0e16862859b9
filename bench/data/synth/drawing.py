"""The registry of finding drawers and the helpers they share (placement, compact blobs).

A drawer belongs to a stage: ``anatomy`` (the finding changed the patient's parameters before
rendering; the drawer only reports the region), ``lung`` (edits lung layers: markings, lucency,
ribs), ``overlay`` (adds density before composition), ``fluid`` (blends the composed density) and
``metal`` (adds bright objects last). A drawer returns the bool mask of the pixels it changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bench.data.synth.anatomy import SIGN, lung_sd, smooth
from bench.data.synth.findings import ZONES, Finding
from bench.data.synth.scene import Scene

DrawFn = Callable[[Scene, Finding], "np.ndarray | None"]
STAGES = ("anatomy", "lung", "overlay", "fluid", "metal")


@dataclass(frozen=True)
class Drawer:
    stage: str
    draw: DrawFn


DRAWERS: dict[str, Drawer] = {}


def register(kind: str, stage: str) -> Callable[[DrawFn], DrawFn]:
    if stage not in STAGES:
        raise ValueError(f"drawer stage {stage!r}: expected one of {STAGES}")

    def deco(fn: DrawFn) -> DrawFn:
        if kind in DRAWERS:
            raise ValueError(f"a drawer for {kind!r} is already registered")
        DRAWERS[kind] = Drawer(stage, fn)
        return fn

    return deco


def sides_of(f: Finding) -> tuple[str, ...]:
    return ("right", "left") if f.side in ("bilateral", "none") else (f.side,)


def place(
    scene: Scene, side: str, zone: str, margin: float = 0.03, lateral: tuple[float, float] = (0.2, 0.85)
) -> tuple[float, float]:
    """A frame point (u, v) inside one lung's zone, at least ``margin`` inside the outline."""
    anat, rng = scene.anat, scene.rng
    top, base, width = anat.side_params(side)
    z = ZONES.index(zone) if zone in ZONES else 1
    height = base - top
    w, v = anat.medial + 0.5 * width, top + height * (z + 0.5) / 3
    for attempt in range(60):
        v_try = top + height * (z + rng.uniform(0.1, 0.9)) / 3
        w_try = anat.medial + width * rng.uniform(*lateral)
        need = margin if attempt < 40 else margin * 0.3
        if float(lung_sd(w_try, v_try, anat, side)) > need:
            w, v = w_try, v_try
            break
    return anat.cx + SIGN[side] * w, v


def severity_scale(f: Finding, mild: float, moderate: float, severe: float) -> float:
    return {"mild": mild, "moderate": moderate, "severe": severe}[f.severity]


def blob_profile(
    u: np.ndarray, v: np.ndarray, centres: list[tuple[float, float, float, float]]
) -> np.ndarray:
    """Union of compact soft ellipses (cu, cv, ru, rv): 1 inside, 0 beyond each outline."""
    out = np.zeros(u.shape, np.float32)
    for cu, cv, ru, rv in centres:
        r2 = ((u - cu) / ru) ** 2 + ((v - cv) / rv) ** 2
        np.maximum(out, smooth((1.0 - r2) * 1.6), out=out)
    return out


def add_in_lungs(scene: Scene, sl: tuple[slice, slice], profile: np.ndarray, amplitude: float) -> np.ndarray:
    """Add ``amplitude * profile`` inside the lungs of a window; returns the full-size drawn mask."""
    lungs = scene.lung["right"][sl] + scene.lung["left"][sl]
    change = amplitude * profile * np.minimum(lungs, 1.0)
    scene.delta[sl] += change
    mask = np.zeros((scene.size, scene.size), bool)
    mask[sl] = change > 0
    return mask


def union(masks: list[np.ndarray | None]) -> np.ndarray | None:
    kept = [m for m in masks if m is not None]
    if not kept:
        return None
    out = kept[0].copy()
    for m in kept[1:]:
        out |= m
    return out
