"""Render one frontal chest radiograph (numpy, vectorised) with its findings drawn.

The driver of the stages (anatomy, lung, overlay, compose, fluid, metal): it imports the drawers
(so they register) and the :mod:`scene` they draw on; drawers never import this module. Every
drawn finding reports the exact pixel region it changed, from which boxes and masks are derived.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.data.synth import devices, lesions, pleura  # noqa: F401  (they register their drawers)
from bench.data.synth.anatomy import Anatomy, sample_anatomy
from bench.data.synth.difficulty import Difficulty
from bench.data.synth.drawing import DRAWERS
from bench.data.synth.findings import Finding
from bench.data.synth.lesions import adjust_anatomy
from bench.data.synth.scene import build_scene, compose, finish


@dataclass
class Rendered:
    image: np.ndarray  # float32 [size, size] in [0, 1]
    regions: list[np.ndarray | None]  # per finding: bool mask of the drawn region (None: not drawn)
    anatomy: Anatomy


def render_frontal(
    rng: np.random.Generator,
    findings: tuple[Finding, ...],
    diff: Difficulty,
    size: int,
    anat: Anatomy | None = None,
    extra: tuple = (),
    finish_rng: np.random.Generator | None = None,
) -> Rendered:
    """Render a frontal image of a (sampled or given) patient with ``findings`` drawn.

    ``extra`` holds metal-stage drawers (foreign objects) as callables ``scene -> mask``; their
    regions follow the findings' in ``Rendered.regions``. ``finish_rng`` (default ``rng``) draws
    exposure and noise only, so a second image of the same study can differ in just those.
    """
    if anat is None:
        anat = sample_anatomy(rng, diff, size)
    anat = adjust_anatomy(anat, findings)
    scene = build_scene(anat, diff, size, rng)
    regions: list[np.ndarray | None] = [None] * len(findings)
    for stage in ("anatomy", "lung", "overlay", "compose", "fluid", "metal"):
        if stage == "compose":
            scene.density = compose(scene)
            continue
        for i, f in enumerate(findings):
            drawer = DRAWERS[f.kind]
            if drawer.stage == stage and f.visibility > 0:
                regions[i] = drawer.draw(scene, f)
    for draw in extra:
        regions.append(draw(scene))
    if finish_rng is not None:
        scene.rng = finish_rng
    return Rendered(finish(scene, scene.density), regions, anat)
