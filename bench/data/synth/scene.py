"""The layers of one frontal radiograph while its findings are drawn, and their composition.

The image is built as densities (bright = dense): body soft tissue, lucent lungs partly hidden by
the heart, mediastinum, spine, ribs, clavicles, vessel markings. Drawers (``lesions``, ``pleura``,
``devices``) change those layers through the :class:`Scene`; ``compose`` and ``finish`` turn them
into pixels (exposure and noise). ``render`` drives the stages; this module imports no drawer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bench.data.synth.anatomy import (
    SIGN,
    Anatomy,
    Frame,
    lung_sd,
    lung_windows,
    merge_windows,
    noise_bank,
    smooth,
    vessel_bank,
)
from bench.data.synth.difficulty import Difficulty
from bench.data.synth.findings import Finding

Box = tuple[int, int, int, int]  # x1, y1, x2, y2 pixel edges: the region is [x1, x2) x [y1, y2)


@dataclass
class Scene:
    """Layers of one image while findings are being drawn."""

    anat: Anatomy
    frame: Frame
    diff: Difficulty
    rng: np.random.Generator
    sd: dict[str, np.ndarray] = field(default_factory=dict)  # signed distance per lung
    lung: dict[str, np.ndarray] = field(default_factory=dict)  # soft mask per lung
    w: dict[str, np.ndarray] = field(default_factory=dict)  # lateral coordinate per side
    heart: np.ndarray | None = None
    thorax: tuple[slice, slice] | None = None  # window holding both lungs
    ribs: np.ndarray | None = None
    markings: np.ndarray | None = None
    lucency: np.ndarray | None = None  # extra air (pneumothorax), subtracted
    delta: np.ndarray | None = None  # additive density of findings
    density: np.ndarray | None = None

    @property
    def size(self) -> int:
        return self.frame.size

    def amplitude(self, f: Finding, gain: float = 1.0) -> float:
        """Peak density change of a finding: contrast x kind gain x severity x visibility x jitter."""
        sev = {"mild": 0.7, "moderate": 1.0, "severe": 1.35}[f.severity]
        jitter = float(np.exp(self.rng.normal(0.0, self.diff.contrast_spread)))
        return self.diff.contrast * gain * sev * f.visibility * jitter

    def lungs(self) -> np.ndarray:
        return (self.lung["right"] + self.lung["left"]) * (1.0 - 0.85 * self.heart)


def bbox(mask: np.ndarray | None) -> Box | None:
    """Bounding box [x1, x2) x [y1, y2) of a bool mask, or None when empty."""
    if mask is None or not mask.any():
        return None
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def _segment_distance(
    u: np.ndarray, v: np.ndarray, a: tuple[float, float], b: tuple[float, float]
) -> np.ndarray:
    du, dv = b[0] - a[0], b[1] - a[1]
    t = np.clip(((u - a[0]) * du + (v - a[1]) * dv) / (du * du + dv * dv + 1e-12), 0.0, 1.0)
    return np.sqrt((u - a[0] - t * du) ** 2 + (v - a[1] - t * dv) ** 2)


def build_scene(anat: Anatomy, diff: Difficulty, size: int, rng: np.random.Generator) -> Scene:
    """Anatomy layers before any finding of the lung stage is drawn."""
    frame = Frame(size, anat.tilt)
    scene = Scene(anat, frame, diff, rng)
    scene.w = {side: SIGN[side] * (frame.u - anat.cx) for side in ("right", "left")}
    scene.sd, scene.lung = lung_layers(anat, frame, scene.w)
    hx, hy = anat.cx + anat.heart_dx, anat.heart_cy
    rx, ry = anat.heart_rx * anat.heart_scale, anat.heart_ry * np.sqrt(anat.heart_scale)
    scene.heart = heart_mask(frame, hx, hy, rx, ry)
    scene.thorax = merge_windows(*lung_windows(anat, frame).values())
    scene.ribs = ribs(anat, frame, scene.sd, scene.thorax)
    scene.markings = _markings(anat, frame) * anat.markings
    scene.lucency = np.zeros((size, size), np.float32)
    scene.delta = np.zeros((size, size), np.float32)
    return scene


def _markings(anat: Anatomy, frame: Frame) -> np.ndarray:
    """Vessel texture: one bank crop per lung, centred on its hilum (left lung mirrored)."""
    bank, size = vessel_bank(frame.size), frame.size
    out = []
    for side in ("right", "left"):
        hw, hv = anat.hilum(side)
        k = (anat.texture + (0 if side == "right" else 3)) % bank.shape[0]
        tex = bank[k] if side == "right" else bank[k][:, ::-1]
        px, py = frame.to_pixel(anat.cx + SIGN[side] * hw, hv)
        x0 = int(np.clip(round(size - px), 0, size))
        y0 = int(np.clip(round(size - py), 0, size))
        out.append(tex[y0 : y0 + size, x0 : x0 + size])
    return np.where(frame.u < anat.cx, out[0], out[1])


def lung_layers(anat: Anatomy, frame: Frame, w: dict[str, np.ndarray]) -> tuple[dict, dict]:
    """Signed distance and soft mask of each lung (medial border widened by the mediastinum)."""
    size, v = frame.size, frame.v
    sds, lungs = {}, {}
    for side, sl in lung_windows(anat, frame).items():
        vs = v[sl]
        medial = anat.medial + anat.medi_widen * np.exp(-(((vs - 0.3) / 0.09) ** 2))
        if side == "left":  # aortic knob
            medial = medial + 0.02 * np.exp(-(((vs - 0.28) / 0.035) ** 2))
        sd = np.full((size, size), -1.0, np.float32)
        sd[sl] = lung_sd(w[side][sl], vs, anat, side, medial=medial)
        lung = np.zeros((size, size), np.float32)
        lung[sl] = smooth(sd[sl] * size / 3.0 + 0.5)
        sds[side], lungs[side] = sd, lung
    return sds, lungs


def ribs(anat: Anatomy, frame: Frame, sd: dict[str, np.ndarray], thorax: tuple[slice, slice]) -> np.ndarray:
    out = np.zeros((frame.size, frame.size), np.float32)
    out[thorax] = rib_field(
        anat, frame.u[thorax], frame.v[thorax], np.maximum(sd["right"][thorax], sd["left"][thorax])
    )
    return out


def heart_mask(frame: Frame, hx: float, hy: float, rx: float, ry: float) -> np.ndarray:
    """Soft ellipse of the heart (computed in its window)."""
    out = np.zeros((frame.size, frame.size), np.float32)
    sl = frame.window(hx, hy, max(rx, ry) + 0.01)
    r = np.sqrt(((frame.u[sl] - hx) / rx) ** 2 + ((frame.v[sl] - hy) / ry) ** 2)
    out[sl] = smooth((1.0 - r) * min(rx, ry) * frame.size / 3.0 + 0.5)
    return out


def rib_field(
    anat: Anatomy, u: np.ndarray, v: np.ndarray, sd_max: np.ndarray, phase_shift: np.ndarray | float = 0.0
) -> np.ndarray:
    """Posterior ribs (arcs curving down laterally) and faint anterior ribs, over the thorax."""
    w = np.abs(u - anat.cx)
    phase = rib_phase(anat, w, v) + phase_shift
    post = smooth((np.cos(2 * np.pi * phase) - 0.2) * 2.5)
    ant_phase = (v + 0.55 * w) / (anat.rib_spacing * 1.15) + anat.rib_phase * 0.7
    ant = smooth((np.cos(2 * np.pi * ant_phase) - 0.35) * 2.5) * smooth((w - 0.12) / 0.1)
    return (post + 0.35 * ant) * smooth((sd_max + 0.03) / 0.03)


def rib_phase(anat: Anatomy, w: np.ndarray | float, v: np.ndarray | float) -> np.ndarray | float:
    """Posterior rib phase: integers at rib centres."""
    return (v + 0.35 * w - anat.rib_curve * w * w) / anat.rib_spacing + anat.rib_phase


def compose(scene: Scene) -> np.ndarray:
    """Density image from the layers (findings of the overlay stage included)."""
    anat, u, v, size = scene.anat, scene.frame.u, scene.frame.v, scene.size
    du = u - anat.cx
    v_row = v[:, size // 2 : size // 2 + 1]  # row-wise profiles (the tilt is small)
    bw = 0.12 + (anat.body_width - 0.12) * smooth((v_row - 0.02) / 0.12)
    body = smooth((bw - np.abs(du)) / 0.02)
    lungs = scene.lungs()
    density = 0.03 + body * (anat.soft * (0.8 + 0.2 * np.maximum(1.0 - (du / bw) ** 2, 0.0)) - 0.03)
    sl = scene.frame.columns(anat.cx - 0.04, anat.cx + 0.04)
    adu, vs = np.abs(du[sl]), v[sl]
    density[sl] += 0.05 * smooth((0.035 - adu) * size / 2.0) * (1.0 + 0.25 * np.cos(2 * np.pi * vs / 0.045))
    density[sl] -= 0.12 * smooth((0.012 - adu) * size / 2.0) * smooth((0.36 - vs) / 0.02)
    density += 0.075 * scene.ribs * (0.4 + 0.6 * lungs)
    density -= anat.air * lungs * (0.85 + 0.15 * smooth((v_row - anat.apex) / 0.2))
    density += (scene.markings - scene.lucency) * lungs + scene.delta
    for sgn in (-1.0, 1.0):
        sl = scene.frame.window(anat.cx + sgn * 0.16, 0.165, 0.15)
        dist = _segment_distance(u[sl], v[sl], (anat.cx + sgn * 0.035, 0.2), (anat.cx + sgn * 0.28, 0.125))
        density[sl] += 0.12 * smooth((0.014 - dist) * size / 2.0)
        sl = scene.frame.window(anat.cx + sgn * 0.44, 0.16, 0.12)
        density[sl] += 0.15 * np.exp(
            -((u[sl] - anat.cx - sgn * 0.44) ** 2 + (v[sl] - 0.16) ** 2) / (2 * 0.045**2)
        )
    sl = scene.frame.window(anat.cx + 0.15, anat.base[1] + 0.06, 0.06)
    r = np.sqrt(((u[sl] - anat.cx - 0.15) / 0.05) ** 2 + ((v[sl] - anat.base[1] - 0.06) / 0.03) ** 2)
    density[sl] -= 0.12 * smooth((1.0 - r) * 3.0)
    return density


def finish(scene: Scene, density: np.ndarray) -> np.ndarray:
    """Exposure (gain, offset, gamma, gradient) and noise; float32 in [0, 1]."""
    rng, e, v = scene.rng, scene.diff.exposure, scene.frame.v
    gain = float(np.exp(rng.normal(0.0, e)))
    offset = float(rng.normal(0.0, 0.5 * e))
    slope = float(rng.normal(0.0, 0.3 * e))
    gamma = float(np.exp(rng.normal(0.0, e)))
    img = np.clip((density - 0.45) * gain + 0.45 + offset + slope * (v - 0.5), 0.0, 1.0) ** gamma
    bank, size = noise_bank(scene.size), scene.size
    k, y0, x0 = (int(x) for x in rng.integers(0, (4, size, size)))
    noise = bank[k, y0 : y0 + size, x0 : x0 + size]
    img += scene.diff.noise * (noise.T if rng.random() < 0.5 else noise)
    return np.clip(img, 0.0, 1.0).astype(np.float32, copy=False)
