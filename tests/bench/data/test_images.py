from __future__ import annotations

import numpy as np
from PIL import Image

from bench.data.images import image_size, load_image, readable


def test_jpg_png_and_dicom_load_as_unit_floats(tmp_path, files):
    pixels = files.pixels(5, 9)
    png = tmp_path / "a.png"
    Image.fromarray(pixels).save(png)
    jpg = files.jpg(tmp_path / "a.jpg", 5, 9)
    dcm = files.dcm(tmp_path / "a.dcm", 5, 9, photometric="MONOCHROME1")
    for path in (png, jpg, dcm):
        out = load_image(path)
        assert out.dtype == np.float32 and out.shape == (5, 9)
        assert 0.0 <= out.min() and out.max() <= 1.0
    assert np.allclose(load_image(png), pixels / 255)
    assert np.allclose(load_image(dcm), pixels / 255, atol=1e-6)
    assert np.abs(load_image(jpg) - pixels / 255).mean() < 0.05  # lossy


def test_rgb_and_sixteen_bit_png(tmp_path):
    rgb = tmp_path / "rgb.png"
    Image.fromarray(np.full((2, 3, 3), 255, np.uint8)).save(rgb)
    assert np.allclose(load_image(rgb), 1.0)
    deep = tmp_path / "deep.png"
    Image.fromarray(np.array([[0, 32768, 65535]], np.uint16)).save(deep)
    assert np.allclose(load_image(deep), [[0, 0.5, 1.0]], atol=1e-4)


def test_size_is_height_width(tmp_path, files):
    assert image_size(files.jpg(tmp_path / "a.jpg", 5, 9)) == (5, 9)
    assert image_size(files.dcm(tmp_path / "a.dcm", 5, 9)) == (5, 9)


def test_readable_reports_missing_and_corrupt(tmp_path, files):
    good = files.jpg(tmp_path / "good.jpg")
    bad_jpg = files.corrupt(files.jpg(tmp_path / "bad.jpg", 64, 64))
    bad_dcm = files.corrupt(files.dcm(tmp_path / "bad.dcm", 64, 64))
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image")
    assert readable(good) == (True, "")
    assert readable(tmp_path / "none.jpg") == (False, "missing")
    for path in (bad_jpg, bad_dcm, junk):
        ok, reason = readable(path)
        assert not ok and reason
