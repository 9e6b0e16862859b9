"""The preprocessed image cache: written once, read instead of decoding, invalidated by a changed
file, and within 0.5/255 (before normalisation) of decoding and resizing."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch
from PIL import Image
from support import planted
from support.train_dummy import make_cfg, make_table

import bench.data.pretrain as pretrain_module
import tasks.common.images as task_images
from bench.cli import main
from bench.data import image_cache
from bench.data.image_cache import ImageCache
from bench.data.pretrain import PretrainDataset
from bench.registry import DATASETS
from tasks.common.images import ImageDataset
from tasks.mm.prepare import write_images

MEAN, STD = 0.4755, 0.3011
BOUND = 0.5 / 255 / STD + 1e-6  # uint8 rounding, after normalisation


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def chexpert(tmp_path):
    root = planted.write_chexpert(tmp_path / "chexpert")
    return root, DATASETS.get("chexpert").read(root)


def _no_decoding(monkeypatch, *modules):
    calls = []
    for module in modules:
        monkeypatch.setattr(module, "load_image", lambda path: calls.append(path) or pytest.fail(f"decoded {path}"))
    return calls


def test_the_command_writes_one_memory_mapped_file_with_its_index(chexpert, capsys):
    root, table = chexpert
    assert main(["data", "cache", "--dataset", "chexpert", "--size", "24", "--root", str(root), "--workers", "2"]) == 0
    summary = json.loads(capsys.readouterr().out)
    folder = image_cache.folder_for("chexpert", root, 24)
    assert summary["folder"] == str(folder) and summary["decoded"] == summary["images"] == len(table)
    pixels = np.load(folder / "pixels.npy", mmap_mode="r")
    assert pixels.shape == (len(table), 24, 24) and pixels.dtype == np.uint8
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["rows"] == len(table) and meta["fingerprint"] == summary["fingerprint"]
    assert main(["data", "cache", "--dataset", "chexpert", "--size", "24", "--root", str(root)]) == 0
    again = json.loads(capsys.readouterr().out)
    assert (again["decoded"], again["reused"]) == (0, len(table)) and again["fingerprint"] == meta["fingerprint"]


def test_loaders_read_the_cache_instead_of_decoding_and_match_decoding(chexpert, monkeypatch):
    root, table = chexpert  # 24 px images, resized to 17 px
    image_cache.write("chexpert", root, table.records, 17, workers=1, progress=False)
    cache = ImageCache.open("chexpert", root, 17)
    decoded = ImageDataset(table.records, 17, MEAN, STD)
    expected = [decoded[i]["image"] for i in range(len(table))]
    calls = _no_decoding(monkeypatch, task_images)
    cached = ImageDataset(table.records, 17, MEAN, STD, images=cache)
    got = [cached[i] for i in range(len(table))]
    assert calls == [] and all(s["error"] == "" for s in got)
    diff = max(float((g["image"] - e).abs().max()) for g, e in zip(got, expected))
    assert 0 < diff <= BOUND  # rounded to uint8 after the resize: never further than half a level


def test_an_image_already_at_the_size_comes_back_exactly(chexpert):
    root, table = chexpert
    size = Image.open(table.records[0].image).size[0]  # no resize: the decoded 8-bit levels themselves
    image_cache.write("chexpert", root, table.records[:5], size, workers=1, progress=False)
    cache = ImageCache.open("chexpert", root, size)
    for i, record in enumerate(table.records[:5]):
        assert torch.equal(ImageDataset([record], size, MEAN, STD, images=cache)[0]["image"],
                           ImageDataset([record], size, MEAN, STD)[0]["image"]), i


def test_a_changed_file_is_decoded_again_and_rewritten_by_the_next_run(chexpert, monkeypatch):
    root, table = chexpert
    image_cache.write("chexpert", root, table.records, 24, workers=1, progress=False)
    record = table.records[3]
    Image.fromarray(np.full((64, 64), 200, np.uint8)).save(record.image, format="JPEG", quality=95)
    st = os.stat(record.image)
    os.utime(record.image, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    cache = ImageCache.open("chexpert", root, 24)
    assert cache.get(record) is None and cache.get(table.records[4]) is not None
    item = ImageDataset([record], 24, MEAN, STD, images=cache)[0]["image"]
    assert float((item * STD + MEAN).mean()) == pytest.approx(200 / 255, abs=0.01)  # the new pixels, decoded
    summary = image_cache.write("chexpert", root, table.records, 24, workers=1, progress=False)
    assert (summary["decoded"], summary["reused"]) == (1, len(table) - 1)
    fresh = ImageCache.open("chexpert", root, 24)
    assert int(fresh.get(record).astype(int).mean()) == 200


def test_pretraining_reads_the_cache_within_half_a_level(tmp_path, monkeypatch):
    table = make_table(tmp_path / "pairs", studies=8, size=40)  # 40 px PNGs resized to 16
    cfg = make_cfg()  # 16 px, affine and no flip: the augmentation runs on the cached pixels
    expected = [PretrainDataset(table, cfg)[(1, i)]["image"] for i in range(6)]
    image_cache.write(table.dataset, table.root, table.records, 16, workers=1, progress=False)
    calls = _no_decoding(monkeypatch, pretrain_module)
    dataset = PretrainDataset(table, cfg)
    got = [dataset[(1, i)]["image"] for i in range(6)]
    assert calls == [] and dataset.images is not None
    assert max(float((g - e).abs().max()) for g, e in zip(got, expected)) <= BOUND
    off = PretrainDataset(table, make_cfg(**{"data.image_cache": False}))
    assert off.images is None


def test_dense_images_from_the_cache_are_the_bytes_decoding_writes(chexpert, tmp_path, monkeypatch):
    root, table = chexpert
    records = table.records[:6]  # 24 px images at 20 px
    plain = write_images(records, tmp_path / "plain", 20)
    image_cache.write("chexpert", root, records, 20, workers=1, progress=False)
    import tasks.mm.prepare as prepare

    calls = _no_decoding(monkeypatch, prepare)
    cached = write_images(records, tmp_path / "cached", 20, images=ImageCache.open("chexpert", root, 20))
    assert calls == [] and cached == plain
    for path in sorted((tmp_path / "plain" / "images").iterdir()):
        assert np.array_equal(np.asarray(Image.open(path)), np.asarray(Image.open(tmp_path / "cached" / "images" / path.name)))


@pytest.mark.usefixtures("planted_registered")
def test_evaluation_reads_the_cache_and_says_so(chexpert, tmp_path, monkeypatch):
    root, table = chexpert
    assert main(["data", "cache", "--dataset", "chexpert", "--size", "24", "--root", str(root)]) == 0
    calls = _no_decoding(monkeypatch, task_images)
    argv = ["evaluate", "--method", "planted", "--checkpoint", "random", "--data", str(tmp_path), "--results",
            str(tmp_path / "res"), "--preset", "tiny", "--task", "classification", "--dataset", "chexpert",
            "--fraction", "1.0", "--seed", "0", "--set", "model.image_size=24", "train.num_workers=0",
            "eval.probe_epochs=5", "eval.cache_dir=none"]
    assert main(argv) == 0 and calls == []
    from bench.results import iter_results

    ((_, result),) = iter_results(tmp_path / "res")
    assert result.extra["image_cache"] == str(image_cache.folder_for("chexpert", root, 24))
