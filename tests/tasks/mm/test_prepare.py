"""tasks.mm.prepare: masks from RLE and boxes, resized files, COCO json."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image
from support.dense_planted import planted_records

from bench.data.base import Record
from bench.data.rle import rle_encode
from tasks.mm.prepare import (
    coco_dict,
    file_stem,
    mask_png,
    record_mask,
    write_coco,
    write_images,
    write_list,
)


def test_record_mask_from_rle_rows_and_from_boxes(tmp_path) -> None:
    a = np.zeros((10, 12), bool)
    a[2:4, 3:9] = True
    b = np.zeros((10, 12), bool)
    b[7, 0:2] = True
    rec = Record(key="k", image=tmp_path / "x.png", rle=(rle_encode(a), " -1", rle_encode(b)))
    assert np.array_equal(record_mask(rec, 10, 12), a | b)
    boxed = Record(key="k", image=tmp_path / "x.png", boxes=((2.5, 1.0, 5.0, 3.2), (10.0, 8.0, 20.0, 20.0)))
    mask = record_mask(boxed, 10, 12)
    expected = np.zeros((10, 12), bool)
    expected[1:4, 2:5] = True  # fractional edges round outwards
    expected[8:10, 10:12] = True  # clipped at the image border
    assert np.array_equal(mask, expected)


def test_mask_downsampling_keeps_the_majority() -> None:
    mask = np.zeros((80, 80), bool)
    mask[20:60, 10:30] = True
    small = mask_png(mask, 40)
    assert small.dtype == np.uint8 and set(np.unique(small)) == {0, 1}
    assert small.sum() == 20 * 10 and small[10:30, 5:15].all()
    assert mask_png(np.zeros((80, 80), bool), 64).sum() == 0


def test_write_images_resizes_and_reuses(tmp_path) -> None:
    records = planted_records(tmp_path / "src", n=4, size=80)
    out = tmp_path / "prepared"
    shapes = write_images(records, out, 64, with_masks=True)
    assert shapes == {r.key: (80, 80) for r in records}
    stem = file_stem(records[0].key)
    image = np.asarray(Image.open(out / "images" / f"{stem}.png"))
    mask = np.asarray(Image.open(out / "masks" / f"{stem}.png"))
    assert image.shape == mask.shape == (64, 64) and image.dtype == np.uint8
    assert mask.sum() > 0 and image[mask == 1].mean() > image[mask == 0].mean() + 60  # the planted square
    before = (out / "images" / f"{stem}.png").stat().st_mtime_ns
    write_images(records, out, 64, with_masks=True)
    assert (out / "images" / f"{stem}.png").stat().st_mtime_ns == before
    listed = write_list(records, tmp_path / "list.txt").read_text().split()
    assert listed == [file_stem(r.key) for r in records]


def test_coco_json_scales_boxes_and_keeps_empty_images(tmp_path) -> None:
    recs = [
        Record(key="a", image=tmp_path / "a.png", boxes=((10.0, 20.0, 30.0, 60.0),), box_labels=(0,)),
        Record(key="b", image=tmp_path / "b.png"),
        Record(
            key="c", image=tmp_path / "c.png", boxes=((5.0, 5.0, 5.0, 9.0),), box_labels=(0,)
        ),  # zero width
    ]
    shapes = {"a": (200, 100), "b": (50, 50), "c": (50, 50)}
    coco = coco_dict(recs, shapes, 50, ("opacity",))
    assert [im["file_name"] for im in coco["images"]] == [f"{file_stem(k)}.png" for k in "abc"]
    assert len(coco["annotations"]) == 1
    ann = coco["annotations"][0]
    assert ann["image_id"] == 1 and ann["category_id"] == 1
    assert np.allclose(ann["bbox"], [5.0, 5.0, 10.0, 10.0]) and np.isclose(ann["area"], 100.0)
    assert coco["categories"] == [{"id": 1, "name": "opacity"}]
    path = write_coco(recs, shapes, 50, ("opacity",), tmp_path / "c.json")
    assert json.loads(path.read_text()) == coco


def test_file_stems_differ_for_keys_that_sanitise_alike() -> None:
    assert file_stem("a/b") != file_stem("a_b") and file_stem("1.2.3").startswith("1.2.3-")
