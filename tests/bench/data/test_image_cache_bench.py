"""Loading speed: JPEG decode + resize against the preprocessed image cache, through the tasks'
loader (:func:`tasks.common.images.image_loader`: batches of ``eval.batch_size``, pinned memory
when CUDA is present) with 0 and 2 workers.

Run with ``tox -e bench -- tests/bench/data/test_image_cache_bench.py``; images/s, the workers and
whether memory was pinned go into ``benchmark.extra_info``. The images have MIMIC-CXR-JPG's size
(3056 x 2544 grey, JPEG quality 95) and are loaded at 224 px; the cache is read 40 times over (1,920
images), so that starting the loader's workers does not dominate its figure.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import tasks.common.images as task_images
from bench.config import resolve
from bench.data import image_cache
from bench.data.base import Record
from bench.data.image_cache import ImageCache

N, HEIGHT, WIDTH, SIZE = 48, 3056, 2544, 224
CACHE_PASSES = 40


@pytest.fixture(scope="module")
def jpegs(tmp_path_factory):
    root = tmp_path_factory.mktemp("jpegs")
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    base = (96 + 64 * np.sin(xx / 180.0) * np.cos(yy / 240.0)).astype(np.float32)
    records = []
    for i in range(N):
        pixels = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
        path = root / f"p{i:03d}.jpg"
        Image.fromarray(pixels).save(path, format="JPEG", quality=95)
        records.append(Record(key=f"p{i:03d}", image=path))
    return root, records


@pytest.fixture(scope="module")
def cache(jpegs, tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("BENCH_CACHE", str(tmp_path_factory.mktemp("cache")))
    root, records = jpegs
    summary = image_cache.write("bench", root, records, SIZE, workers=2, progress=False)
    yield ImageCache.open("bench", root, SIZE), summary
    mp.undo()


@pytest.mark.slow
@pytest.mark.benchmark
@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("source", ["decode", "cache"])
def test_loading_images_per_second(benchmark, jpegs, cache, source, workers, monkeypatch):
    _, records = jpegs
    images, written = cache
    cfg = resolve("default", None, {"model.image_size": SIZE, "train.num_workers": workers, "eval.batch_size": 16})
    if source == "cache":  # a decode would fail the run (the workers fork with this patch)
        monkeypatch.setattr(task_images, "load_image", lambda path: pytest.fail(f"decoded {path}"))

    items = records * (CACHE_PASSES if source == "cache" else 1)

    def load() -> int:
        loader = task_images.image_loader(items, cfg, images=images if source == "cache" else None)
        return sum(int(batch.shape[0]) for batch in loader)

    seen = benchmark.pedantic(load, rounds=3 if benchmark.enabled else 1, iterations=1)
    assert seen == len(items)
    if benchmark.enabled:
        seconds = benchmark.stats.stats.mean
        benchmark.extra_info.update(source=source, workers=workers, images=len(items), size=SIZE,
                                    images_per_s=round(len(items) / seconds, 1), pinned=torch.cuda.is_available(),
                                    cache_write_images_per_s=written["images_per_s"])


DICOM_SIDE = 1024  # RSNA Pneumonia's and SIIM's DICOMs: 1024 x 1024, 8-bit MONOCHROME2, uncompressed


@pytest.fixture(scope="module")
def dicoms(tmp_path_factory):
    from bench.data.dicom import write_dicom

    root = tmp_path_factory.mktemp("dicoms")
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:DICOM_SIDE, 0:DICOM_SIDE]
    base = (96 + 64 * np.sin(xx / 60.0) * np.cos(yy / 80.0)).astype(np.float32)
    records = []
    for i in range(N):
        pixels = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
        path = write_dicom(root / f"p{i:03d}.dcm", pixels, patient_id=f"p{i:03d}")
        records.append(Record(key=f"p{i:03d}", image=path))
    return records


@pytest.mark.slow
@pytest.mark.benchmark
@pytest.mark.parametrize("workers", [0, 2])
def test_dicom_loading_images_per_second(benchmark, dicoms, workers):
    """DICOM decode (pydicom) + resize to 224 px through the same loader."""
    cfg = resolve("default", None, {"model.image_size": SIZE, "train.num_workers": workers, "eval.batch_size": 16})

    def load() -> int:
        return sum(int(batch.shape[0]) for batch in task_images.image_loader(dicoms, cfg, images=None))

    seen = benchmark.pedantic(load, rounds=3 if benchmark.enabled else 1, iterations=1)
    assert seen == len(dicoms)
    if benchmark.enabled:
        benchmark.extra_info.update(source="dicom", workers=workers, images=len(dicoms), size=SIZE,
                                    images_per_s=round(len(dicoms) / benchmark.stats.stats.mean, 1))
