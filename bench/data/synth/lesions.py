"""Parenchymal and cardiomediastinal findings: opacities, nodules, bands, haze, heart, mediastinum."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from bench.data.synth.anatomy import SIGN, Anatomy, smooth
from bench.data.synth.boxes import in_lung, opacity_boxes, place_box
from bench.data.synth.drawing import (
    add_in_lungs,
    blob_profile,
    place,
    register,
    severity_scale,
    sides_of,
    union,
)
from bench.data.synth.findings import Finding
from bench.data.synth.scene import Scene, heart_mask, lung_layers, ribs

HEART_SCALE = {"mild": 0.2, "moderate": 0.32, "severe": 0.45}
MEDI_WIDEN = {"mild": 0.02, "moderate": 0.032, "severe": 0.045}


def adjust_anatomy(anat: Anatomy, findings: tuple[Finding, ...]) -> Anatomy:
    """Cardiomegaly enlarges the heart, an enlarged cardiomediastinum widens the mediastinum."""
    for f in findings:
        if f.visibility <= 0:
            continue
        if f.kind == "cardiomegaly":
            anat = replace(anat, heart_scale=1.0 + HEART_SCALE[f.severity] * f.visibility)
        elif f.kind == "mediastinum":
            anat = replace(anat, medi_widen=MEDI_WIDEN[f.severity] * f.visibility)
    return anat


@register("cardiomegaly", "anatomy")
def _cardiomegaly(scene: Scene, f: Finding) -> np.ndarray | None:
    a = scene.anat
    normal = heart_mask(scene.frame, a.cx + a.heart_dx, a.heart_cy, a.heart_rx, a.heart_ry)
    lungs = scene.lung["right"] + scene.lung["left"]
    return ((scene.heart - normal) * lungs) > 0


@register("mediastinum", "anatomy")
def _mediastinum(scene: Scene, f: Finding) -> np.ndarray | None:
    """The lung and rib pixels that the widened mediastinum changed."""
    normal = replace(scene.anat, medi_widen=0.0)
    sd, lung = lung_layers(normal, scene.frame, scene.w)
    changed = ribs(normal, scene.frame, sd, scene.thorax) != scene.ribs
    for side in ("right", "left"):
        changed |= lung[side] != scene.lung[side]
    return changed


def _radius(scene: Scene, f: Finding, base: float) -> float:
    return base * scene.diff.size * severity_scale(f, 0.7, 1.0, 1.35)


def _blob_centres(
    scene: Scene, cu: float, cv: float, radius: float, n: int, spread: float, shrink: tuple[float, float]
) -> list[tuple[float, float, float, float]]:
    rng = scene.rng
    out = []
    for _ in range(n):
        du, dv = rng.normal(0.0, spread * radius, 2)
        out.append(
            (cu + float(du), cv + float(dv), radius * rng.uniform(*shrink), radius * rng.uniform(*shrink))
        )
    return out


def _draw_blobs(
    scene: Scene,
    f: Finding,
    base_radius: float,
    n: tuple[int, int],
    spread: float,
    shrink: tuple[float, float],
    gain: float,
    lateral: tuple[float, float] = (0.2, 0.85),
) -> np.ndarray | None:
    masks = []
    for side in sides_of(f):
        radius = _radius(scene, f, base_radius)
        cu, cv = place(scene, side, f.zone, margin=0.5 * radius, lateral=lateral)
        centres = _blob_centres(
            scene, cu, cv, radius, int(scene.rng.integers(n[0], n[1] + 1)), spread, shrink
        )
        sl = scene.frame.window(cu, cv, radius * (1.0 + 3 * spread) + 0.02)
        profile = blob_profile(scene.frame.u[sl], scene.frame.v[sl], centres)
        masks.append(add_in_lungs(scene, sl, profile, scene.amplitude(f, gain)))
    return union(masks)


def _draw_boxed(
    scene: Scene, f: Finding, core: float, n: tuple[int, int], shrink: tuple[float, float], gain: float
) -> np.ndarray | None:
    """An airspace opacity per lung filling a real RSNA-sized box (see :mod:`boxes`).

    A soft ellipse inscribed in the box (weight ``core``, the confluent part) joined by ``n``
    patches inside it (radii ``shrink`` x the half-extents): the drawn pixels never leave the box.
    """
    rng, masks = scene.rng, []
    for side in sides_of(f):
        for _ in range(20):  # a real box whose centre falls in this patient's lung
            cu, cv, hw, hh = place_box(opacity_boxes().draw(rng, side, f.zone), scene.anat, scene.diff.size)
            if in_lung(scene.anat, side, cu, cv):
                break
        sl = scene.frame.window(cu, cv, max(hw, hh) + 0.01)
        u, v = scene.frame.u[sl], scene.frame.v[sl]
        r2 = ((u - cu) / hw) ** 2 + ((v - cv) / hh) ** 2
        centres = []
        for _ in range(int(rng.integers(n[0], n[1] + 1))):
            rho, phi = 0.55 * np.sqrt(rng.random()), rng.uniform(0.0, 2 * np.pi)
            su, sv = rng.uniform(*shrink, 2)
            centres.append((cu + rho * hw * np.cos(phi), cv + rho * hh * np.sin(phi), su * hw, sv * hh))
        profile = np.maximum(core * smooth((1.0 - r2) * 1.6), blob_profile(u, v, centres))
        profile *= r2 < 1.0
        masks.append(add_in_lungs(scene, sl, profile, scene.amplitude(f, gain)))
    return union(masks)


@register("consolidation", "overlay")
def _consolidation(scene: Scene, f: Finding) -> np.ndarray | None:
    return _draw_boxed(scene, f, 0.85, (2, 4), (0.35, 0.6), 1.0)


@register("pneumonia", "overlay")
def _pneumonia(scene: Scene, f: Finding) -> np.ndarray | None:
    return _draw_boxed(scene, f, 0.5, (4, 7), (0.2, 0.4), 0.9)


@register("opacity", "overlay")
def _opacity(scene: Scene, f: Finding) -> np.ndarray | None:
    if f.variant == "peripheral":  # multifocal peripheral ground glass (COVID-19 pattern)
        return _draw_blobs(scene, f, 0.06, (3, 5), 0.5, (0.35, 0.6), 0.65, lateral=(0.6, 0.95))
    return _draw_boxed(scene, f, 0.75, (1, 2), (0.5, 0.8), 0.6)


@register("nodule", "overlay")
def _nodule(scene: Scene, f: Finding) -> np.ndarray | None:
    masks = []
    for side in sides_of(f):
        r = 0.02 * scene.diff.size * severity_scale(f, 0.7, 1.0, 1.4)
        cu, cv = place(scene, side, f.zone, margin=r + 0.01)
        sl = scene.frame.window(cu, cv, r + 0.01)
        d = np.sqrt((scene.frame.u[sl] - cu) ** 2 + (scene.frame.v[sl] - cv) ** 2)
        profile = smooth((r - d) * scene.size / 1.5 + 0.5)
        masks.append(add_in_lungs(scene, sl, profile, scene.amplitude(f, 1.5)))
    return union(masks)


@register("atelectasis", "overlay")
def _atelectasis(scene: Scene, f: Finding) -> np.ndarray | None:
    rng, masks = scene.rng, []
    for side in sides_of(f):
        cu, cv = place(scene, side, f.zone, margin=0.04, lateral=(0.3, 0.75))
        thick = 0.009 * scene.diff.size * severity_scale(f, 0.8, 1.0, 1.5)
        profile = None
        sl = scene.frame.window(cu, cv + 0.03, 0.12 * scene.diff.size + 0.08)
        u, v = scene.frame.u[sl], scene.frame.v[sl]
        for k in range(1 + int(f.severity != "mild") + int(f.severity == "severe")):
            length, angle = rng.uniform(0.07, 0.12) * scene.diff.size, rng.uniform(-0.35, 0.35)
            cvk = cv + 0.03 * k
            a = (cu - length * np.cos(angle), cvk - length * np.sin(angle))
            b = (cu + length * np.cos(angle), cvk + length * np.sin(angle))
            du, dv = b[0] - a[0], b[1] - a[1]
            t = np.clip(((u - a[0]) * du + (v - a[1]) * dv) / (du * du + dv * dv), 0.0, 1.0)
            d = np.sqrt((u - a[0] - t * du) ** 2 + (v - a[1] - t * dv) ** 2)
            band = smooth((1.0 - d / thick) * 1.5)
            profile = band if profile is None else np.maximum(profile, band)
        masks.append(add_in_lungs(scene, sl, profile, scene.amplitude(f, 1.3)))
    return union(masks)


@register("edema", "overlay")
def _edema(scene: Scene, f: Finding) -> np.ndarray | None:
    masks, amp = [], scene.amplitude(f, 0.9)
    grow = scene.diff.size * severity_scale(f, 0.8, 1.0, 1.3)
    for side in ("right", "left"):
        hw, hv = scene.anat.hilum(side)
        hu = scene.anat.cx + SIGN[side] * (hw + 0.03)
        rw, rv = 0.13 * grow, 0.17 * grow
        sl = scene.frame.window(hu, hv, max(rw, rv) + 0.01)
        u, v = scene.frame.u[sl], scene.frame.v[sl]
        g = np.exp(-0.5 * (((u - hu) / (0.45 * rw)) ** 2 + ((v - hv) / (0.45 * rv)) ** 2))
        profile = smooth((g - 0.08) / 0.7)
        scene.markings[sl] *= 1.0 + 0.4 * f.visibility * profile  # indistinct, engorged vessels
        masks.append(add_in_lungs(scene, sl, profile, amp))
    return union(masks)


@register("pleural_other", "overlay")
def _pleural_other(scene: Scene, f: Finding) -> np.ndarray | None:
    """Pleural thickening: a dense band along the inner lung edge, apical or basal."""
    side = f.side if f.side in SIGN else "right"
    anat = scene.anat
    top, base, width = anat.side_params(side)
    height = base - top
    v0, v1 = (top, top + 0.35 * height) if f.zone == "upper" else (base - 0.35 * height, base)
    sl = scene.frame.window(
        anat.cx + SIGN[side] * (anat.medial + 0.5 * width),
        0.5 * (v0 + v1),
        max(0.5 * (v1 - v0), 0.5 * width + 0.04) + 0.02,
    )
    sd, v, w = scene.sd[side][sl], scene.frame.v[sl], scene.w[side][sl]
    thick = 0.009 * severity_scale(f, 0.8, 1.0, 1.4)
    profile = smooth(1.0 - np.abs(sd - thick) / thick) * smooth((v - v0) / 0.03) * smooth((v1 - v) / 0.03)
    profile *= smooth((w - anat.medial - 0.3 * width) / 0.05)
    return add_in_lungs(scene, sl, profile, scene.amplitude(f, 1.2))
