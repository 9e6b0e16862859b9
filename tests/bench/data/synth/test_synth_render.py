"""Images agree with findings: every drawn region is where, and what, the finding says."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from bench.data.synth.anatomy import Anatomy, sample_anatomy
from bench.data.synth.devices import ForeignObject, object_drawer, object_mask, sample_objects
from bench.data.synth.difficulty import DEFAULT, EASY
from bench.data.synth.findings import KINDS, Finding
from bench.data.synth.lateral import render_lateral
from bench.data.synth.render import render_frontal
from bench.data.synth.scene import bbox

SIZE = 160
CLEAN = replace(DEFAULT, noise=0.0, exposure=0.0, contrast_spread=0.0)  # only the finding differs


def _pair(f: Finding, seed: int = 0, diff=CLEAN):
    """(with finding, without) renders of the same patient, and the drawn region."""
    anat = sample_anatomy(np.random.default_rng(seed), diff, SIZE)
    with_f = render_frontal(np.random.default_rng(seed + 1), (f,), diff, SIZE, anat=anat)
    without = render_frontal(np.random.default_rng(seed + 1), (), diff, SIZE, anat=anat)
    return with_f, without, with_f.regions[0]


def unchanged(anat: Anatomy) -> Anatomy:
    """The same patient with no anatomy-stage findings (cardiomegaly, widened mediastinum)."""
    return replace(anat, heart_scale=1.0, medi_widen=0.0)


def test_anatomy_stage_findings_change_only_the_heart_and_mediastinum() -> None:
    anat = sample_anatomy(np.random.default_rng(3), CLEAN, SIZE)
    findings = (
        Finding("cardiomegaly", "none", "none", "severe"),
        Finding("mediastinum", "none", "none", "mild"),
    )
    with_f = render_frontal(np.random.default_rng(4), findings, CLEAN, SIZE, anat=anat)
    assert with_f.anatomy.heart_scale > 1.0 and with_f.anatomy.medi_widen > 0.0
    assert unchanged(with_f.anatomy) == anat
    plain = render_frontal(np.random.default_rng(4), (), CLEAN, SIZE, anat=unchanged(with_f.anatomy))
    without = render_frontal(np.random.default_rng(4), (), CLEAN, SIZE, anat=anat)
    assert np.array_equal(plain.image, without.image)
    assert not np.array_equal(with_f.image, without.image)


def test_image_is_float_in_unit_range() -> None:
    r = render_frontal(np.random.default_rng(0), (), DEFAULT, SIZE)
    assert r.image.shape == (SIZE, SIZE) and r.image.dtype == np.float32
    assert 0.0 <= r.image.min() and r.image.max() <= 1.0 and r.image.std() > 0.1


@pytest.mark.parametrize(
    "kind",
    [
        "consolidation",
        "pneumonia",
        "opacity",
        "nodule",
        "atelectasis",
        "edema",
        "effusion",
        "pleural_other",
        "cardiomegaly",
        "mediastinum",
        "device",
    ],
)
def test_dense_findings_brighten_their_region_and_only_it(kind: str) -> None:
    f = replace(Finding(kind, "right", KINDS[kind].zones[-1], "severe"), variant=KINDS[kind].variants[0])
    if KINDS[kind].sides == ("none",) or kind == "edema":
        f = replace(f, side=KINDS[kind].sides[0])
    with_f, without, region = _pair(f)
    assert region is not None and region.any()
    change = with_f.image - without.image
    assert change[region].mean() > 0.02
    assert np.abs(change[~region]).max() < 1e-5  # nothing drawn outside the reported region


def test_consolidation_is_brighter_than_the_surrounding_lung() -> None:
    for seed in range(5):
        f = Finding("consolidation", "left", "middle", "severe")
        with_f, without, region = _pair(f, seed, replace(EASY, noise=0.0))
        x1, y1, x2, y2 = bbox(region)
        ring = np.zeros_like(region)
        ring[max(0, y1 - 8) : y2 + 8, max(0, x1 - 8) : x2 + 8] = True
        lung = without.image < np.percentile(without.image, 40)  # dark = aerated lung
        ring &= ~region & lung
        assert with_f.image[region].mean() > with_f.image[ring].mean()


def test_pneumothorax_region_is_darker_and_loses_markings() -> None:
    for seed in range(4):
        with_f, without, region = _pair(Finding("pneumothorax", "left", "upper", "moderate"), seed)
        assert region.sum() > 20
        assert with_f.image[region].mean() < without.image[region].mean() - 0.02
        assert with_f.image[region].std() < without.image[region].std()


def test_effusion_fills_the_lung_base() -> None:
    with_f, without, region = _pair(Finding("effusion", "left", "lower", "severe"))
    x1, y1, x2, y2 = bbox(region)
    assert (y1 + y2) / 2 > SIZE * 0.5 and (x1 + x2) / 2 > SIZE * 0.5  # patient's left = image right


@pytest.mark.parametrize(
    "kind", ["consolidation", "nodule", "atelectasis", "pneumothorax", "effusion", "fracture"]
)
def test_side_is_where_the_finding_is_drawn(kind: str) -> None:
    for seed in range(3):
        for side in ("right", "left"):
            zone = KINDS[kind].zones[-1]
            with_f, _, region = _pair(Finding(kind, side, zone, "moderate"), seed)
            x1, _, x2, _ = bbox(region)
            midline = with_f.anatomy.cx * SIZE
            assert (x2 <= midline + 1) if side == "right" else (x1 >= midline - 1), (kind, side, x1, x2)


def test_zone_is_where_the_finding_is_drawn() -> None:
    centres = {}
    for zone in ("upper", "middle", "lower"):
        ys = []
        for seed in range(4):
            _, _, region = _pair(Finding("consolidation", "right", zone, "mild"), seed)
            _, y1, _, y2 = bbox(region)
            ys.append((y1 + y2) / 2)
        centres[zone] = np.mean(ys)
    assert centres["upper"] < centres["middle"] < centres["lower"]


def test_absent_findings_leave_the_image_untouched() -> None:
    f = Finding("consolidation", "right", "lower", "severe", mention="hedged", visibility=0.0)
    with_f, without, region = _pair(f)
    assert region is None and np.array_equal(with_f.image, without.image)


def test_faint_findings_are_fainter() -> None:
    full, base, region = _pair(Finding("opacity", "right", "middle", "moderate"))
    faint, _, faint_region = _pair(Finding("opacity", "right", "middle", "moderate", visibility=0.35))
    assert (faint.image - base.image)[faint_region].mean() < 0.5 * (full.image - base.image)[region].mean()


def test_foreign_objects_are_drawn_exactly_inside_their_annotation() -> None:
    rng = np.random.default_rng(2)
    objects = sample_objects(rng, SIZE, 30)
    assert {o.type for o in objects} == {0, 1, 2}
    for obj in objects:
        x1, y1, x2, y2 = bbox(object_mask(obj, SIZE))
        xs, ys = obj.coords[0::2], obj.coords[1::2]
        assert (x1, y1, x2 - 1, y2 - 1) == (min(xs), min(ys), max(xs), max(ys))
    obj = ForeignObject(1, (40, 50, 60, 64), 0.5)
    r = render_frontal(np.random.default_rng(0), (), CLEAN, SIZE, extra=(object_drawer(obj),))
    assert bbox(r.regions[0]) == (40, 50, 61, 65) and r.image[r.regions[0]].mean() > 0.6


def test_finish_rng_changes_only_noise_and_exposure() -> None:
    f = (Finding("consolidation", "right", "lower", "severe"),)
    a = render_frontal(np.random.default_rng(9), f, DEFAULT, SIZE)
    b = render_frontal(np.random.default_rng(9), f, DEFAULT, SIZE, finish_rng=np.random.default_rng(10))
    assert not np.array_equal(a.image, b.image)
    assert (
        np.array_equal(a.regions[0], b.regions[0])
        and np.corrcoef(a.image.ravel(), b.image.ravel())[0, 1] > 0.9
    )


def test_lateral_view_differs_from_frontal() -> None:
    anat = sample_anatomy(np.random.default_rng(0), DEFAULT, SIZE)
    lateral = render_lateral(np.random.default_rng(1), anat, DEFAULT, SIZE)
    frontal = render_frontal(np.random.default_rng(1), (), DEFAULT, SIZE, anat=anat).image
    assert lateral.shape == frontal.shape and np.abs(lateral - frontal).mean() > 0.05
