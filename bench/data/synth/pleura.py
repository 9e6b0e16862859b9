"""Pleural and bony findings: effusion (fluid stage), pneumothorax and rib fracture (lung stage)."""

from __future__ import annotations

import numpy as np

from bench.data.synth.anatomy import SIGN, lung_sd, lung_windows, smooth
from bench.data.synth.drawing import place, register, severity_scale, sides_of, union
from bench.data.synth.findings import Finding
from bench.data.synth.scene import Scene, rib_field, rib_phase


def _full(scene: Scene, sl: tuple[slice, slice], local: np.ndarray) -> np.ndarray:
    mask = np.zeros((scene.size, scene.size), bool)
    mask[sl] = local
    return mask


@register("effusion", "fluid")
def _effusion(scene: Scene, f: Finding) -> np.ndarray | None:
    """Fluid fills the lung base up to a meniscus that rises laterally, blunting the angle."""
    anat, masks = scene.anat, []
    windows = lung_windows(anat, scene.frame)
    for side in sides_of(f):
        top, base, width = anat.side_params(side)
        rise = severity_scale(f, 0.03, 0.1, 0.2) * scene.diff.size * (0.4 + 0.6 * f.visibility)
        sl = windows[side]
        w, v = scene.w[side][sl], scene.frame.v[sl]
        s = np.clip((w - anat.medial) / width, 0.0, 1.0)
        meniscus = base - rise - 0.05 * s * s
        m = smooth((v - meniscus) * scene.size / 2.0 + 0.5) * scene.lung[side][sl]
        alpha = min(1.0, scene.amplitude(f, 4.0) / 0.35)
        scene.density[sl] += alpha * m * (0.92 * anat.soft - scene.density[sl])
        masks.append(_full(scene, sl, m > 0))
    return union(masks)


@register("pneumothorax", "lung")
def _pneumothorax(scene: Scene, f: Finding) -> np.ndarray | None:
    """Air between chest wall and a collapsed lung: lucent, no markings, a thin pleural line."""
    anat, masks = scene.anat, []
    windows = lung_windows(anat, scene.frame)
    for side in sides_of(f):
        top, base, width = anat.side_params(side)
        collapse = severity_scale(f, 0.1, 0.2, 0.35) * scene.diff.size * (0.4 + 0.6 * f.visibility)
        scale = max(0.4, 1.0 - collapse)
        sl = windows[side]
        w, v, sd = scene.w[side][sl], scene.frame.v[sl], scene.sd[side][sl]
        sdc = lung_sd(w, v, anat, side, scale=scale, centre=(anat.medial, base))
        region = (sd > 0) & (sdc < 0)
        scene.markings[sl] = np.where(region, 0.0, scene.markings[sl])
        scene.lucency[sl] += scene.amplitude(f, 1.0) * region
        line = smooth(1.0 - np.abs(sdc * scene.size - 1.0)) * (sd * scene.size > 2.0)
        scene.delta[sl] += scene.amplitude(f, 1.2) * line
        masks.append(_full(scene, sl, region))
    return union(masks)


@register("fracture", "lung")
def _fracture(scene: Scene, f: Finding) -> np.ndarray | None:
    """A rib discontinuity: a gap, and the lateral fragment displaced (moderate and severe)."""
    anat = scene.anat
    side = f.side if f.side in SIGN else "right"
    cu, cv = place(scene, side, f.zone, margin=0.0, lateral=(0.5, 0.85))
    w_f = abs(cu - anat.cx)
    phase = float(rib_phase(anat, w_f, cv))
    k = round(phase)
    v_f = cv - (phase - k) * anat.rib_spacing
    gap_px = severity_scale(f, 1.2, 1.6, 2.2) * max(f.visibility, 0.3)
    shift = severity_scale(f, 0.0, 0.12, 0.2) * f.visibility
    sl = scene.frame.window(cu, v_f, 0.1)
    u, v = scene.frame.u[sl], scene.frame.v[sl]
    w = np.abs(u - anat.cx)
    in_rib = (np.abs(rib_phase(anat, w, v) - k) < 0.5) & (np.abs(w - w_f) < 0.09)
    along = (w - w_f) * scene.size
    fragment = smooth(along + 0.5) * smooth((w_f + 0.07 - w) / 0.025)
    sd = np.maximum(scene.sd["right"][sl], scene.sd["left"][sl])
    new = rib_field(anat, u, v, sd, phase_shift=shift * fragment * in_rib)
    new *= np.where(in_rib, smooth(np.abs(along) / gap_px), 1.0)
    old = scene.ribs[sl]
    changed = np.abs(new - old) > 1e-4
    scene.ribs[sl] = new
    return _full(scene, sl, changed)
