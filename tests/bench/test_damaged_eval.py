"""Damaged images in evaluation: only the images a cell uses are checked, headers only, before it is
planned; one that does not decode is found while encoding, skipped and counted, and the others are
not encoded twice."""

from __future__ import annotations

import pytest
from support import planted

import bench.data.check as check_module
import tasks.common.images as task_images
from bench.evaluate import Planner, Request, run_cells
from bench.featurecache import FeatureCache
from bench.models import load_model
from bench.results import iter_results

pytestmark = pytest.mark.usefixtures("planted_registered")
SETS = ("model.image_size=24", "train.num_workers=0", "eval.probe_epochs=20", "eval.cache_dir=none")


@pytest.fixture
def data(tmp_path):
    planted.write_chexpert(tmp_path / "data" / "chexpert", per_concept=16)
    return tmp_path / "data"


def _images(data):
    return sorted((data / "chexpert" / "CheXpert-v1.0-small").rglob("*.jpg"))


def _plan(data, tmp_path, fraction):
    model, cfg = load_model("planted", "random", "tiny", overrides=SETS)
    planner = Planner(Request(datasets=("chexpert",), fractions=(fraction,), seeds=(0,), data=data,
                              results=tmp_path / "res"))
    from bench.evaluate import model_ref

    return planner.plan("classification", model_ref(model, cfg), cfg), model, cfg


def _used(cell):
    return {k for keys in cell.data.splits.values() for k in keys}


def test_planning_reads_only_the_headers_of_the_images_a_cell_uses(data, tmp_path, monkeypatch):
    headers = []
    real = check_module.header_readable
    monkeypatch.setattr(check_module, "header_readable", lambda p: headers.append(p) or real(p))
    monkeypatch.setattr(task_images, "load_image", lambda p: pytest.fail(f"decoded {p} while planning"))
    (cell,), _, _ = _plan(data, tmp_path, 0.01)
    used = _used(cell)
    assert len(headers) == len(used) < len(cell.data.table.records)
    assert {cell.data.record(k).image_path for k in used} == set(headers)


def test_an_image_whose_header_does_not_read_leaves_the_cell_before_it_is_keyed(data, tmp_path, caplog):
    (before,), _, _ = _plan(data, tmp_path, 1.0)
    test_key = before.data.splits["test"][0]
    path = before.data.record(test_key).image
    path.write_bytes(b"")  # empty: found by the header check
    (cell,), model, cfg = _plan(data, tmp_path, 1.0)
    assert test_key not in _used(cell) and set(cell.skipped) == {test_key}
    assert cell.identity["split_hashes"] != before.identity["split_hashes"]
    assert f"skipping damaged image {path}" in caplog.text
    run_cells([cell], model, cfg)
    ((_, result),) = iter_results(tmp_path / "res")
    assert result.extra["skipped_images"] == 1 and result.extra["skipped_examples"] == [str(path)]


def test_an_image_that_does_not_decode_is_skipped_and_the_others_are_encoded_once(data, tmp_path, caplog):
    (cell,), model, cfg = _plan(data, tmp_path, 1.0)
    test_key = cell.data.splits["test"][1]
    path = cell.data.record(test_key).image
    body = path.read_bytes()
    path.write_bytes(body[: body.index(b"\xff\xda") + 20])  # cut after the start of scan: the header reads
    (cell,), model, cfg = _plan(data, tmp_path, 1.0)
    assert test_key in _used(cell) and cell.skipped == {}
    cache = FeatureCache(None)
    run_cells([cell], model, cfg, cache)
    ((_, result),) = iter_results(tmp_path / "res")
    assert result.extra["skipped_images"] == 1 and result.extra["split_sizes"]["test"] == len(cell.data.splits["test"]) - 1
    assert cache.computed == len(_used(cell)) - 1  # every image that decoded was encoded once
    assert f"skipping damaged image {path}" in caplog.text and test_key in cell.damaged
