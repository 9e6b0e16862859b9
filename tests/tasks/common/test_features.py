from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.featurecache import FeatureCache
from bench.taskdata import TaskData
from tasks.common.features import as_image_features, encode_records, features, pool, take
from tasks.common.images import preprocess


def _data(table, cache):
    keys = [r.key for r in table.records]
    return TaskData("chexpert", table.root, table, splits={"all": keys}, model_id="random-planted", cache=cache)


def test_preprocess_resizes_and_normalises():
    x = preprocess(torch.full((40, 30), 0.5).numpy(), 24, 0.25, 0.5)
    assert x.shape == (1, 24, 24) and torch.allclose(x, torch.full_like(x, 0.5))


def test_pool_accepts_the_usual_backbone_outputs():
    assert pool(torch.ones(2, 3, 4, 4)).shape == (2, 3)
    assert pool([torch.ones(2, 5, 2, 2), torch.ones(2, 3, 1, 1)]).shape == (2, 3)
    assert pool({"a": torch.ones(2, 7)}).shape == (2, 7)
    with pytest.raises(ValueError, match="shape"):
        pool(torch.ones(2))


def test_features_hit_the_cache(method, cfg, chexpert_table):
    cache = FeatureCache(None)
    data = _data(chexpert_table, cache)
    keys = data.splits["all"]
    a = features(method, data, cfg, keys[:10], "backbone")
    b = features(method, data, cfg, keys, "backbone")
    c = features(method, data, cfg, list(reversed(keys)), "backbone")
    assert cache.computed == len(keys) and cache.extractions == 2
    assert torch.equal(a["features"], b["features"][:10])
    assert torch.equal(c["features"], b["features"].flip(0))
    assert method.training  # eval mode was restored afterwards


def test_cache_never_serves_features_of_other_pixels(method, cfg, chexpert_table, tmp_path):
    """Same record keys in another copy of the data (or a rewritten image): encoded again."""
    import dataclasses
    import shutil

    from PIL import Image

    cache = FeatureCache(tmp_path / "features")
    keys = [r.key for r in chexpert_table.records[:6]]
    first = features(method, _data(chexpert_table, cache), cfg, keys, "backbone")
    copy_root = tmp_path / "copy"
    records = []
    for r in chexpert_table.records[:6]:
        target = copy_root / r.image.relative_to(chexpert_table.root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(r.image, target)
        Image.fromarray(255 - np.asarray(Image.open(target))).save(target)
        records.append(dataclasses.replace(r, image=target))
    copy = dataclasses.replace(chexpert_table, root=copy_root, records=records)
    again = FeatureCache(tmp_path / "features")  # a new process: reads the shards from disk
    second = features(method, _data(copy, again), cfg, keys, "backbone")
    assert again.computed == 6
    assert not torch.allclose(first["features"], second["features"])
    third = features(method, _data(chexpert_table, again), cfg, keys, "backbone")
    assert again.computed == 6 and torch.equal(third["features"], first["features"])
    cfg.data.mean = cfg.data.mean + 0.1  # another normalisation: another namespace
    features(method, _data(chexpert_table, again), cfg, keys, "backbone")
    assert again.computed == 12


def test_embedding_features_round_trip(method, cfg, chexpert_table):
    data = _data(chexpert_table, FeatureCache(None))
    keys = data.splits["all"][:7]
    feats = as_image_features(features(method, data, cfg, keys, "embedding"))
    direct = method.encode_image(torch.stack([_image(r, cfg) for r in data.records("all")[:7]]))
    assert torch.allclose(feats.global_, direct.global_, atol=1e-5)
    assert torch.allclose(feats.local, direct.local, atol=1e-5)
    assert torch.allclose(feats.extra["double"], direct.extra["double"], atol=1e-5)
    part = take(feats, slice(2, 4))
    assert part.local.shape[0] == 2 and part.extra["double"].shape[0] == 2


def test_unknown_feature_kind_is_named(method, cfg, chexpert_table):
    with pytest.raises(ValueError, match="pixels"):
        encode_records(method, chexpert_table.records[:1], cfg, "pixels")


def _image(record, cfg):
    from bench.data.images import load_image

    return preprocess(load_image(record.image), cfg.model.image_size, cfg.data.mean, cfg.data.std)
