"""Opacity boxes follow the real RSNA annotations (or the built-in sample with their quartiles)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.data.synth import boxes, cache
from bench.data.synth.anatomy import sample_anatomy
from bench.data.synth.difficulty import DEFAULT
from bench.data.synth.findings import ZONES, Finding
from bench.data.synth.generate import MANIFEST, generate
from bench.data.synth.render import render_frontal
from bench.data.synth.scene import bbox
from bench.data.synth.writers.rsna import OPACITY_KINDS

REAL = boxes.data_dir() / boxes.RSNA_FILE if boxes.data_dir() is not None else None
needs_real = pytest.mark.skipif(REAL is None or not REAL.is_file(), reason="torchxrayvision not installed")


def _quartiles(values) -> np.ndarray:
    return np.percentile(np.asarray(values, float), [25, 50, 75])


def test_load_reads_rsna_rows_as_fractions_grouped_by_patient(tmp_path: Path) -> None:
    csv = tmp_path / "stage_2_train_labels.csv"
    csv.write_text(
        "patientId,x,y,width,height,Target\n"
        "a,100,200,256,512,1\n"
        "a,600,300,200,100,1\n"
        "b,,,,,0\n"
        "c,512,0,102.4,204.8,1\n"
    )
    stats = boxes.load_rsna(csv)
    assert stats.source == "rsna-labels" and stats.images == ((0, 1), (2,))
    np.testing.assert_allclose(stats.boxes[0], [(100 + 128) / 1024, (200 + 256) / 1024, 0.25, 0.5])
    np.testing.assert_allclose(stats.boxes[2], [0.55, 0.1, 0.1, 0.2])
    assert stats.counts() == {1: 1, 2: 1}
    assert [boxes.side_of(cx) for cx in stats.boxes[:, 0]] == ["right", "left", "left"]
    csv.write_text("patientId,x,y,width,height,Target\nb,,,,,0\n")
    with pytest.raises(ValueError, match="no rows with Target 1"):
        boxes.load_rsna(csv)


@needs_real
def test_the_installed_rsna_labels_match_the_published_counts() -> None:
    stats = boxes.load_rsna(REAL)
    assert len(stats.boxes) == 9555 and stats.counts() == boxes.REAL_COUNTS
    table = pd.read_csv(REAL)  # an independent reading of the same file
    positive = table[table.Target == 1]
    np.testing.assert_allclose(_quartiles(stats.boxes[:, 2]), _quartiles(positive.width / 1024))
    np.testing.assert_allclose(_quartiles(stats.boxes[:, 2]), [0.17, 0.21, 0.25], atol=0.006)
    np.testing.assert_allclose(_quartiles(stats.boxes[:, 3]), [0.20, 0.29, 0.43], atol=0.006)


def test_builtin_sample_has_the_real_quartiles_and_counts() -> None:
    stats = boxes.builtin()
    assert stats.source == "built-in" and stats.counts() == boxes.REAL_COUNTS
    np.testing.assert_allclose(_quartiles(stats.boxes[:, 2]), [0.17, 0.21, 0.25], atol=0.01)
    np.testing.assert_allclose(_quartiles(stats.boxes[:, 3]), [0.20, 0.29, 0.43], atol=0.015)
    assert set(stats.buckets) == {(s, z) for s in ("right", "left") for z in ZONES}


def test_without_the_package_the_builtin_sample_is_used_and_named(monkeypatch) -> None:
    monkeypatch.setattr(boxes, "data_dir", lambda: None)
    boxes.opacity_boxes.cache_clear()
    try:
        assert boxes.opacity_boxes().source == "built-in"
        assert cache.folder_name(0, 10, 128).endswith("-builtin-boxes")
        assert cache.folder_name(0, 10, 128, "easy").startswith(cache.folder_name(0, 10, 128) + "-d")
    finally:
        boxes.opacity_boxes.cache_clear()


@pytest.mark.parametrize("side", ["right", "left"])
def test_a_drawn_box_keeps_to_its_lung_zone_and_side(side: str) -> None:
    stats, rng = boxes.opacity_boxes(), np.random.default_rng(0)
    for zone in ZONES:
        for _ in range(20):
            box = stats.draw(rng, side, zone)
            assert (boxes.side_of(box[0]), boxes.zone_of(box[1])) == (side, zone)
            anat = sample_anatomy(rng, DEFAULT, 128)
            u, v, hw, hh = boxes.place_box(box, anat)
            assert (u + hw <= anat.cx) if side == "right" else (u - hw >= anat.cx)
            assert 0.0 < v - hh and v + hh < 1.0 and hw <= 0.5 * box[2] + 1e-9


@pytest.mark.parametrize("kind", OPACITY_KINDS)
def test_opacities_are_drawn_at_real_sizes(kind: str) -> None:
    size, widths, heights = 128, [], []
    for seed in range(24):
        f = Finding(kind, ("right", "left")[seed % 2], ZONES[seed % 3], "moderate")
        region = render_frontal(np.random.default_rng(seed), (f,), DEFAULT, size).regions[0]
        x1, y1, x2, y2 = bbox(region)
        widths.append((x2 - x1) / size)
        heights.append((y2 - y1) / size)
    assert 0.15 < np.median(widths) < 0.26 and 0.18 < np.median(heights) < 0.36, (widths, heights)


@pytest.mark.slow
def test_rsna_set_boxes_follow_the_real_distribution(tmp_path: Path) -> None:
    size = 128
    generate(tmp_path, studies=500, seed=3, size=size, difficulty="easy", datasets=("rsna",))
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert manifest["opacity_boxes"] == boxes.opacity_boxes().source
    positive = [e for e in manifest["datasets"]["rsna"] if e["boxes"]]
    drawn = np.array([b for e in positive for b in e["boxes"]], float)
    w, h = (drawn[:, 2] - drawn[:, 0]) / size, (drawn[:, 3] - drawn[:, 1]) / size
    np.testing.assert_allclose(np.median(w), 0.21, atol=0.03)
    np.testing.assert_allclose(np.median(h), 0.29, atol=0.06)
    counts = np.bincount([len(e["boxes"]) for e in positive], minlength=5)
    # real RSNA: 43.5 % one box, 54.3 % two; a few hundred positives sample that within ~0.12
    one, two = counts[1] / len(positive), counts[2] / len(positive)
    assert abs(one - 0.435) < 0.12 and abs(two - 0.543) < 0.12 and counts[3:].sum() <= 0.1 * len(positive), counts
    for e in positive:  # the report's sides are where the boxes are
        sides = {f["side"] for f in e["findings"] if f["kind"] in OPACITY_KINDS}
        centres = {"right" if (b[0] + b[2]) / 2 < size / 2 else "left" for b in e["boxes"]}
        expanded = {s for side in sides for s in (("right", "left") if side == "bilateral" else (side,))}
        assert centres == expanded, e
