"""bench.featurecache: per-record features in memory and on disk, one encoding per record."""

from __future__ import annotations

import hashlib

import pytest
import torch

from bench.featurecache import FeatureCache, default_root
from bench.fileio import CACHE_ENV
from bench.hashing import keys_hash

NS = ("sha256-abc", "chexpert", "backbone", 24)


class Encoder:
    """Counts the keys it is asked to encode; feature of key k is [len(k), hash-ish]."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, keys: list[str]) -> dict[str, torch.Tensor]:
        self.seen.extend(keys)
        x = torch.tensor([[float(len(k)), float(sum(map(ord, k)))] for k in keys])
        return {"features": x, "local": x[:, None, :].repeat(1, 3, 1)}


def test_cache_computes_each_key_once_and_keeps_order():
    cache, enc = FeatureCache(None), Encoder()
    first = cache.get(NS, ["a", "bb", "ccc"], enc)
    again = cache.get(NS, ["ccc", "a", "dddd"], enc)
    assert enc.seen == ["a", "bb", "ccc", "dddd"]
    assert cache.computed == 4 and cache.extractions == 2
    assert again["features"][:, 0].tolist() == [3.0, 1.0, 4.0]
    assert torch.equal(first["local"][2], again["local"][0])


def test_cache_persists_across_instances(tmp_path):
    enc = Encoder()
    FeatureCache(tmp_path).get(NS, ["a", "bb"], enc)
    fresh = FeatureCache(tmp_path)
    out = fresh.get(NS, ["bb", "a"], enc)
    assert fresh.computed == 0 and enc.seen == ["a", "bb"]
    assert out["features"][:, 0].tolist() == [2.0, 1.0]
    assert len(list(tmp_path.rglob("*.pt"))) == 1


def test_cache_namespaces_are_separate(tmp_path):
    cache, enc = FeatureCache(tmp_path), Encoder()
    cache.get(NS, ["a"], enc)
    cache.get(("random-x-seed0", *NS[1:]), ["a"], enc)
    cache.get((*NS[:3], 32), ["a"], enc)
    assert cache.computed == 3


def test_cache_skips_an_unreadable_shard(tmp_path):
    enc = Encoder()
    cache = FeatureCache(tmp_path)
    cache.get(NS, ["a"], enc)
    folder = cache.folder(NS)
    (folder / "broken.pt").write_bytes(b"not a tensor file")
    fresh = FeatureCache(tmp_path)
    fresh.get(NS, ["a"], enc)
    assert fresh.computed == 0


def test_cache_rejects_wrong_row_count():
    with pytest.raises(ValueError, match="rows"):
        FeatureCache(None).get(NS, ["a", "b"], lambda keys: {"features": torch.zeros(1, 2)})


def test_layout_names_the_model_dataset_kind_and_size(tmp_path, monkeypatch):
    FeatureCache(tmp_path).get(("sha256-ab/c", "chexpert", "backbone", 24), ["k1", "k2"], Encoder())
    (shard,) = tmp_path.rglob("*.pt")
    assert shard.relative_to(tmp_path).parts[:2] == ("sha256-ab-c", "chexpert-backbone-24px")
    assert shard.stem == keys_hash(["k1", "k2"])[:32] == hashlib.sha256(b"k1\nk2").hexdigest()[:32]
    assert torch.load(shard, weights_only=True)["keys"] == ["k1", "k2"]
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".")]  # no temporary left behind
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    assert default_root() == tmp_path / "features"
