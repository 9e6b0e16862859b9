"""Metal: support devices (tubes, lines, pacemaker) and Object-CXR foreign objects.

Foreign objects are drawn in pixel coordinates with PIL (rectangle, ellipse, polygon), so the
annotation written for Object-CXR is exactly what was drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from bench.data.synth.anatomy import smooth
from bench.data.synth.drawing import register
from bench.data.synth.findings import Finding
from bench.data.synth.scene import Scene

OBJECT_TYPES = {0: "rectangle", 1: "ellipse", 2: "polygon"}


def _polyline(scene: Scene, points: list[tuple[float, float]], thick: float, amplitude: float) -> np.ndarray:
    """Add a bright line through frame points; returns the full-size changed mask."""
    mask = np.zeros((scene.size, scene.size), bool)
    for a, b in zip(points[:-1], points[1:]):
        mid = (0.5 * (a[0] + b[0]), 0.5 * (a[1] + b[1]))
        half = 0.5 * float(np.hypot(b[0] - a[0], b[1] - a[1])) + thick + 0.01
        sl = scene.frame.window(mid[0], mid[1], half)
        u, v = scene.frame.u[sl], scene.frame.v[sl]
        du, dv = b[0] - a[0], b[1] - a[1]
        t = np.clip(((u - a[0]) * du + (v - a[1]) * dv) / (du * du + dv * dv + 1e-12), 0.0, 1.0)
        d = np.sqrt((u - a[0] - t * du) ** 2 + (v - a[1] - t * dv) ** 2)
        line = smooth((thick - d) * scene.size / 1.2 + 0.5)
        current = scene.density[sl]
        scene.density[sl] = np.maximum(current, np.minimum(current + amplitude * line, 1.0))
        mask[sl] |= line > 0
    return mask


def _device_points(scene: Scene, f: Finding) -> list[list[tuple[float, float]]]:
    a, rng = scene.anat, scene.rng
    cx, base_l = a.cx, a.base[1]
    if f.variant == "ett":
        return [[(cx, 0.0), (cx + 0.003, 0.28 + rng.uniform(-0.03, 0.03))]]
    if f.variant == "ng_tube":
        return [
            [(cx + 0.005, 0.0), (cx + 0.012, 0.45), (cx + 0.06, base_l + 0.02), (cx + 0.14, base_l + 0.07)]
        ]
    if f.variant == "central_line":
        s = -1.0 if f.side == "right" else 1.0
        return [
            [
                (cx + s * 0.33, 0.1),
                (cx + s * 0.12, 0.2),
                (cx + s * 0.03, 0.28),
                (cx + s * 0.02, 0.33 + rng.uniform(0.0, 0.05)),
            ]
        ]
    gu, gv = cx + 0.27, 0.2  # pacemaker generator and lead
    box = [
        (gu - 0.035, gv - 0.02),
        (gu + 0.035, gv - 0.02),
        (gu + 0.035, gv + 0.02),
        (gu - 0.035, gv + 0.02),
        (gu - 0.035, gv - 0.02),
    ]
    return [box, [(gu - 0.03, gv + 0.01), (cx + 0.08, 0.3), (cx + 0.05, a.heart_cy + 0.02)]]


@register("device", "metal")
def _device(scene: Scene, f: Finding) -> np.ndarray | None:
    mask = np.zeros((scene.size, scene.size), bool)
    for k, points in enumerate(_device_points(scene, f)):
        thick = 0.012 if (f.variant == "pacemaker" and k == 0) else 0.0045
        mask |= _polyline(scene, points, thick, 0.3 + 0.1 * scene.rng.random())
    return mask


@dataclass(frozen=True)
class ForeignObject:
    type: int  # 0 rectangle, 1 ellipse (both by bounding coordinates), 2 polygon
    coords: tuple[int, ...]  # x1 y1 x2 y2 (types 0, 1) or x1 y1 x2 y2 x3 y3 ... (type 2), pixels
    density: float

    def annotation(self) -> str:
        return " ".join(str(c) for c in (self.type, *self.coords))


def sample_objects(rng: np.random.Generator, size: int, count: int) -> list[ForeignObject]:
    """``count`` foreign objects inside the chest, in pixel coordinates."""
    out = []
    for _ in range(count):
        kind = int(rng.choice(3, p=(0.35, 0.4, 0.25)))
        cx, cy = rng.uniform(0.18, 0.82) * size, rng.uniform(0.15, 0.82) * size
        if kind == 2:
            n = int(rng.integers(5, 9))
            radius = max(3.0, rng.uniform(0.015, 0.05) * size)
            angles = np.sort(rng.uniform(0.0, 2 * np.pi, n))
            radii = radius * rng.uniform(0.5, 1.0, n)
            xs = np.clip(np.round(cx + radii * np.cos(angles)), 0, size - 1).astype(int)
            ys = np.clip(np.round(cy + radii * np.sin(angles)), 0, size - 1).astype(int)
            coords = tuple(int(c) for xy in zip(xs, ys) for c in xy)
            if np.ptp(xs) < 2 or np.ptp(ys) < 2:  # too thin to annotate: draw its bounding box instead
                x0, y0 = min(int(xs.min()), size - 3), min(int(ys.min()), size - 3)
                kind, coords = 0, (x0, y0, x0 + 2, y0 + 2)
        else:
            hw, hh = rng.uniform(0.01, 0.035, 2) * size
            if kind == 1 and rng.random() < 0.6:
                hh = hw  # coins and buttons
            coords = (
                int(max(0, round(cx - hw))),
                int(max(0, round(cy - hh))),
                int(min(size - 1, round(cx + hw))),
                int(min(size - 1, round(cy + hh))),
            )
        out.append(ForeignObject(kind, coords, float(rng.uniform(0.25, 0.6))))
    return out


def object_mask(obj: ForeignObject, size: int) -> np.ndarray:
    """The pixels PIL fills for this object (bool, size x size)."""
    canvas = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(canvas)
    if obj.type == 0:
        draw.rectangle(obj.coords, fill=255)
    elif obj.type == 1:
        draw.ellipse(obj.coords, fill=255)
    else:
        draw.polygon(list(zip(obj.coords[0::2], obj.coords[1::2])), fill=255)
    return np.asarray(canvas) > 0


def object_drawer(obj: ForeignObject):
    """A metal-stage callable for :func:`render_frontal`'s ``extra``; returns the drawn mask."""

    def draw(scene: Scene) -> np.ndarray:
        mask = object_mask(obj, scene.size)
        scene.density[mask] = np.minimum(scene.density[mask] + obj.density, 1.0)
        return mask

    return draw
