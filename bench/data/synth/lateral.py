"""Lateral views (MIMIC-CXR and CheXpert hold them; readers of frontal images must drop them).

A plain lateral chest: body outline, one lung field, the heart in front, the spine behind, the
diaphragm below. Findings are not drawn: nothing is annotated on laterals.
"""

from __future__ import annotations

import numpy as np

from bench.data.synth.anatomy import Anatomy, Frame, smooth
from bench.data.synth.difficulty import Difficulty
from bench.data.synth.scene import Scene, finish


def render_lateral(rng: np.random.Generator, anat: Anatomy, diff: Difficulty, size: int) -> np.ndarray:
    """float32 [size, size] in [0, 1] (anterior to the image's left)."""
    frame = Frame(size, anat.tilt)
    u, v = frame.u, frame.v
    body = smooth((0.36 - np.abs(u - 0.5)) / 0.03) * smooth((v - 0.03) / 0.08)
    lung_r = np.sqrt(((u - 0.52) / 0.25) ** 2 + ((v - 0.46) / (anat.base[0] - 0.14)) ** 2)
    lung = smooth((1.0 - lung_r) * 6.0) * smooth((anat.base[1] + 0.02 - v) * size / 3.0)
    heart = smooth((1.0 - np.sqrt(((u - 0.36) / 0.13) ** 2 + ((v - 0.6) / 0.12) ** 2)) * 5.0)
    spine = smooth((0.045 - np.abs(u - 0.76 - 0.1 * (v - 0.5) ** 2)) * size / 2.0)
    vertebrae = 0.5 + 0.5 * np.cos(2 * np.pi * v / 0.05)
    density = 0.03 + body * (anat.soft - 0.03) - anat.air * lung * (1.0 - 0.8 * heart)
    density += 0.1 * spine * vertebrae * body
    scene = Scene(anat, frame, diff, rng)
    return finish(scene, density)
