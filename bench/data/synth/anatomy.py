"""Patient anatomy: sampled parameters, the coordinate frame and the implicit lung shape.

Coordinates are normalised: u runs left to right across the image, v top to bottom, both in
[0, 1]. For one lung, w is the distance from the midline outwards, so both lungs share one
shape function. The patient's right lung is on the image's left (PA/AP convention).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from bench.data.synth.difficulty import Difficulty

SIGN = {"right": -1.0, "left": 1.0}  # u = cx + SIGN[side] * w
TEXTURES = 8


@dataclass(frozen=True)
class Anatomy:
    cx: float = 0.5  # midline
    tilt: float = 0.0  # rotation in radians
    apex: float = 0.14  # lung apex height
    base: tuple[float, float] = (0.70, 0.72)  # costophrenic level (right, left)
    width: tuple[float, float] = (0.30, 0.29)  # lateral extent from the medial border (right, left)
    medial: float = 0.055  # medial lung border from the midline
    dome: float = 0.07  # diaphragm dome height
    heart_dx: float = 0.06  # heart centre towards the patient's left
    heart_cy: float = 0.585
    heart_rx: float = 0.15
    heart_ry: float = 0.11
    heart_scale: float = 1.0  # > 1 for cardiomegaly
    medi_widen: float = 0.0  # extra upper-mediastinal half-width (enlarged cardiomediastinum)
    rib_spacing: float = 0.064
    rib_phase: float = 0.0
    rib_curve: float = 2.2
    body_width: float = 0.45
    soft: float = 0.55  # soft-tissue density
    air: float = 0.27  # lung lucency
    markings: float = 0.09  # vessel texture amplitude
    texture: int = 0  # vessel bank variant

    def side_params(self, side: str) -> tuple[float, float, float]:
        """(top, base, width) of one lung."""
        i = 0 if side == "right" else 1
        return self.apex, self.base[i], self.width[i]

    def hilum(self, side: str) -> tuple[float, float]:
        """(w, v) of the hilum of one lung."""
        top, base, _ = self.side_params(side)
        return self.medial + 0.06, top + 0.58 * (base - top)


def sample_anatomy(rng: np.random.Generator, diff: Difficulty, size: int) -> Anatomy:
    """One patient; ``diff.anatomy`` scales every spread (0 gives the template patient)."""
    a = diff.anatomy

    def jitter(sigma: float) -> float:
        return float(rng.normal(0.0, sigma * a))

    base = 0.71 + jitter(0.025)
    return Anatomy(
        cx=0.5 + jitter(0.015),
        tilt=jitter(0.03),
        apex=0.14 + jitter(0.015),
        base=(base - 0.012 + jitter(0.01), base + 0.012 + jitter(0.01)),
        width=(0.30 + jitter(0.02), 0.29 + jitter(0.02)),
        medial=0.055 + jitter(0.006),
        dome=0.07 + jitter(0.015),
        heart_dx=0.06 + jitter(0.012),
        heart_cy=0.585 + jitter(0.015),
        heart_rx=0.15 + jitter(0.01),
        heart_ry=0.11 + jitter(0.008),
        rib_spacing=0.064 + jitter(0.005),
        rib_phase=float(rng.random()),
        rib_curve=2.2 + jitter(0.3),
        body_width=0.45 + jitter(0.03),
        soft=0.55 + jitter(0.03),
        air=0.27 + jitter(0.025),
        markings=0.09 * math.exp(jitter(0.25)),
        texture=int(rng.integers(TEXTURES)),
    )


class Frame:
    """The rotated normalised coordinate grids of one image, and pixel windows into them."""

    def __init__(self, size: int, tilt: float) -> None:
        self.size = size
        self.c, self.s = math.cos(tilt), math.sin(tilt)
        x, y = _base_grid(size)
        self.u = 0.5 + self.c * (x - 0.5) + self.s * (y - 0.5)
        self.v = 0.5 - self.s * (x - 0.5) + self.c * (y - 0.5)

    def to_pixel(self, u: float, v: float) -> tuple[float, float]:
        """Frame coordinates to (column, row) pixel coordinates (continuous)."""
        x = 0.5 + self.c * (u - 0.5) - self.s * (v - 0.5)
        y = 0.5 + self.s * (u - 0.5) + self.c * (v - 0.5)
        return x * self.size - 0.5, y * self.size - 0.5

    def window(self, u: float, v: float, radius: float) -> tuple[slice, slice]:
        """Row and column slices covering a disc of ``radius`` around a frame point."""
        px, py = self.to_pixel(u, v)
        r = radius * self.size + 2
        y0, y1 = max(0, int(py - r)), min(self.size, int(py + r) + 2)
        x0, x1 = max(0, int(px - r)), min(self.size, int(px + r) + 2)
        return slice(y0, max(y0, y1)), slice(x0, max(x0, x1))

    def columns(self, u_lo: float, u_hi: float) -> tuple[slice, slice]:
        """All rows, and the columns that hold frame u in [u_lo, u_hi] somewhere on the image."""
        slack = abs(self.s) * 1.2 + 2.0 / self.size
        x0 = max(0, int((u_lo - slack) * self.size))
        x1 = min(self.size, int((u_hi + slack) * self.size) + 2)
        return slice(0, self.size), slice(x0, max(x0, x1))


def merge_windows(a: tuple[slice, slice], b: tuple[slice, slice]) -> tuple[slice, slice]:
    """The smallest window holding both."""
    return (
        slice(min(a[0].start, b[0].start), max(a[0].stop, b[0].stop)),
        slice(min(a[1].start, b[1].start), max(a[1].stop, b[1].stop)),
    )


@functools.lru_cache(maxsize=8)
def _base_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    c = (np.arange(size, dtype=np.float32) + 0.5) / size
    return np.broadcast_to(c[None, :], (size, size)).copy(), np.broadcast_to(c[:, None], (size, size)).copy()


def lung_sd(
    w: np.ndarray,
    v: np.ndarray,
    anat: Anatomy,
    side: str,
    medial: np.ndarray | float | None = None,
    scale: float = 1.0,
    centre: tuple[float, float] | None = None,
) -> np.ndarray:
    """Approximate signed distance to one lung's outline (positive inside), normalised units.

    ``scale`` < 1 shrinks the lung towards ``centre`` (a collapsed lung for pneumothorax).
    """
    top, base, width = anat.side_params(side)
    med = anat.medial if medial is None else medial
    if scale != 1.0:
        cw, cv = centre if centre is not None else (anat.medial + 0.3 * width, base)
        w, v = cw + (w - cw) / scale, cv + (v - cv) / scale
    height = base - top
    wc, a, b = anat.medial + 0.35 * width, 0.65 * width, height
    dw, dv = w - wc, v - base
    r = np.sqrt((dw / a) ** 2 + (dv / b) ** 2) + 1e-6
    grad = np.sqrt((dw / (a * a)) ** 2 + (dv / (b * b)) ** 2) / r + 1e-6
    d_outer = (1.0 - r) / grad
    t = (w - (anat.medial + 0.45 * width)) / (0.6 * width)
    d_dome = base - anat.dome * np.maximum(0.0, 1.0 - t * t) - v
    sd = np.minimum(np.minimum(d_outer, w - med), d_dome)
    return sd * scale if scale != 1.0 else sd


def smooth(x: np.ndarray) -> np.ndarray:
    """Smoothstep of x clipped to [0, 1]."""
    x = np.minimum(np.maximum(x, 0.0), 1.0)
    return x * x * (3.0 - 2.0 * x)


def _smooth_noise(rng: np.random.Generator, n: int, cutoff: float) -> np.ndarray:
    """Low-pass Gaussian noise of unit std on an n x n grid (``cutoff`` in cycles per pixel)."""
    fy = np.fft.fftfreq(n)[:, None]
    fx = np.fft.rfftfreq(n)[None, :]
    filt = np.exp(-(fx * fx + fy * fy) / (2 * cutoff * cutoff))
    out = np.fft.irfft2(np.fft.rfft2(rng.standard_normal((n, n))) * filt, s=(n, n))
    return out / (out.std() + 1e-9)


@functools.lru_cache(maxsize=4)
def vessel_bank(size: int) -> np.ndarray:
    """Pulmonary vessel textures centred on a hilum, [TEXTURES, 2 size, 2 size]; fixed seeds.

    Vessels radiate from the centre and branch (more, thinner, fainter branches further out).
    A patient's markings are a crop placed so that the centre falls on the hilum.
    """
    rng = np.random.default_rng(20261128)
    n = 2 * size
    c = (np.arange(n, dtype=np.float64) - size + 0.5) / size
    dx, dy = np.meshgrid(c, c)
    r = np.sqrt(dx * dx + dy * dy)
    theta = np.arctan2(dy, dx) / (2 * np.pi)
    bank = np.empty((TEXTURES, n, n), dtype=np.float32)
    layers = ((7, 0.24, 0.0, 1.0), (14, 0.17, 0.05, 0.75), (28, 0.12, 0.12, 0.55))
    for k in range(TEXTURES):
        tex = 0.5 * np.exp(-r * r / (2 * 0.03**2))
        for count, width, onset, amp in layers:
            warp = 0.35 * _smooth_noise(rng, n, 3.0 / size) + 0.25 * r * _smooth_noise(rng, n, 8.0 / size)
            s = np.abs(np.sin(np.pi * (theta * count + warp + rng.random())))
            line = smooth(1.0 - s / (width * (1.0 - 0.55 * smooth(r / 0.35))))
            tex += amp * line * smooth((r - onset) / 0.04) * np.exp(-r / 0.2)
        tex += 0.12 * _smooth_noise(rng, n, 40.0 / size)
        bank[k] = tex / np.percentile(tex, 99.5)
    return bank


@functools.lru_cache(maxsize=4)
def noise_bank(size: int) -> np.ndarray:
    """Unit Gaussian pixel noise, [4, 2 size, 2 size]; images take random crops (fixed seeds)."""
    rng = np.random.default_rng(20261129)
    return rng.standard_normal((4, 2 * size, 2 * size), dtype=np.float32)


def lung_windows(anat: Anatomy, frame: Frame) -> dict[str, tuple[slice, slice]]:
    """Pixel windows that hold each lung (for cheap per-lung work)."""
    out = {}
    for side in ("right", "left"):
        top, base, width = anat.side_params(side)
        wmid = anat.medial + 0.5 * width
        u = anat.cx + SIGN[side] * wmid
        out[side] = frame.window(u, 0.5 * (top + base), 0.5 * max(width + 0.06, base - top) + 0.05)
    return out
