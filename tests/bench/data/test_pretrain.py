from __future__ import annotations

import time

import pytest
import torch
from support.train_dummy import DummyMethod, make_cfg, make_table

from bench.data.base import DataFormatError, Record
from bench.data.pretrain import EpochSampler, PretrainDataset, steps_per_epoch


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    return make_table(tmp_path_factory.mktemp("pairs"), studies=12, size=32)


def test_one_sample_per_study_frontal_only_train_split(table):
    ds = PretrainDataset(table, make_cfg())
    assert len(ds) == 10  # 12 studies, the last 2 are test
    assert ds.counts["not_frontal"] == 10  # one lateral per train study is skipped
    for i in range(len(ds)):
        item = ds[i]
        assert item["image"].shape == (1, 16, 16) and item["image"].dtype == torch.float32
        assert len(item["sentences"]) == 3


def test_image_unit_counts_every_frontal_image(table):
    ds = PretrainDataset(table, make_cfg(**{"data.unit": "image"}))
    assert len(ds) == sum(1 + (s % 3 == 0) for s in range(10))
    with pytest.raises(ValueError, match="data.unit"):
        PretrainDataset(table, make_cfg(**{"data.unit": "report"}))


def test_samples_are_a_function_of_seed_epoch_and_index(table):
    cfg = make_cfg(**{"data.hflip": 0.5, "data.shuffle_sentences": True})
    a, b = PretrainDataset(table, cfg), PretrainDataset(table, cfg)
    torch.manual_seed(123)  # the global RNG plays no part
    first = a[(3, 5)]
    torch.manual_seed(999)
    again = b[(3, 5)]
    assert torch.equal(first["image"], again["image"]) and first["sentences"] == again["sentences"]
    b.set_epoch(3)
    assert torch.equal(b[5]["image"], first["image"])
    other_epochs = [a[(e, 5)] for e in range(4, 10)]
    assert any(not torch.equal(o["image"], first["image"]) for o in other_epochs)
    assert any(o["sentences"] != first["sentences"] for o in other_epochs)
    assert all(sorted(o["sentences"]) == sorted(first["sentences"]) for o in other_epochs)


def test_study_with_two_frontals_draws_both_over_epochs(table):
    ds = PretrainDataset(table, make_cfg(**{"data.augment": False}))
    images = {tuple(ds[(e, 0)]["image"].flatten()[:8].tolist()) for e in range(12)}
    assert len(images) == 2  # study 0 has a PA and an AP image


def test_no_augment_is_resize_and_normalise_only(table):
    cfg = make_cfg(**{"data.augment": False, "data.shuffle_sentences": False, "model.image_size": 32})
    ds = PretrainDataset(table, cfg)
    item = ds[(0, 1)]
    rec = ds.studies[1][0]
    raw = PretrainDataset.load(rec)
    assert torch.allclose(item["image"], (raw - cfg.data.mean) / cfg.data.std, atol=1e-6)
    assert item["sentences"] == list(rec.sentences)


def test_flip_follows_its_probability(table):
    always = PretrainDataset(table, make_cfg(**{"data.hflip": 1.0, "data.affine_degrees": 0.0, "model.image_size": 32}))
    never = PretrainDataset(table, make_cfg(**{"data.hflip": 0.0, "data.affine_degrees": 0.0, "model.image_size": 32}))
    assert torch.equal(always[(0, 1)]["image"], never[(0, 1)]["image"].flip(-1))


def test_bad_image_raises_naming_the_file(table, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    rec = Record(key="x", image=broken, sentences=("a.", "b."), study="s1", meta={"view": "PA"})
    ds = PretrainDataset([rec], make_cfg())
    with pytest.raises(DataFormatError, match="broken.jpg"):
        ds[0]
    gone = Record(key="y", image=tmp_path / "gone.png", sentences=("a.",), study="s2")
    with pytest.raises(DataFormatError, match="gone.png.*missing"):
        PretrainDataset([gone], make_cfg())[0]


def test_empty_split_is_a_clear_error(table):
    with pytest.raises(DataFormatError, match="no pretraining pairs"):
        PretrainDataset(table, make_cfg(), splits=("validate",))


def test_collate_stacks_images_and_tokenises_in_one_call(table):
    cfg = make_cfg()
    ds = PretrainDataset(table, cfg)
    collate = ds.make_collate(DummyMethod.from_config(cfg).tokenize)
    batch = collate([ds[i] for i in range(4)])
    assert batch["images"].shape == (4, 1, 16, 16)
    assert batch["text"]["offsets"].tolist()[0] == 0 and len(batch["text"]["offsets"]) == 4
    assert batch["index"].tolist() == [0, 1, 2, 3]


def test_epoch_sampler_starts_mid_epoch_and_shards_ranks(table):
    ds = PretrainDataset(table, make_cfg())
    full = EpochSampler(ds, seed=1)
    full.set_position(2)
    order = list(full)
    assert sorted(i for _, i in order) == list(range(10)) and {e for e, _ in order} == {2}
    late = EpochSampler(ds, seed=1)
    late.set_position(2, start=4)
    assert list(late) == order[4:] and len(late) == 6
    shards = [list(EpochSampler(ds, num_replicas=2, rank=r, seed=1)) for r in (0, 1)]
    assert not {i for _, i in shards[0]} & {i for _, i in shards[1]}
    assert steps_per_epoch(10, 2, 2, 1) == 2 and steps_per_epoch(10, 4, 1, 2) == 1


@pytest.mark.benchmark(group="pretrain-data")
def test_loading_throughput(benchmark, tmp_path):
    """images/s of PretrainDataset + collate at the tiny preset (128 px from 128 px PNGs)."""
    table = make_table(tmp_path, studies=66, size=128)
    cfg = make_cfg(**{"model.image_size": 128, "data.augment": True})
    ds = PretrainDataset(table, cfg)
    collate = ds.make_collate(DummyMethod.from_config(cfg).tokenize)

    def load_all():
        return [collate([ds[(0, i)] for i in range(j, j + 32)]) for j in (0, 32)]

    start = time.perf_counter()
    batches = benchmark(load_all)
    assert batches[0]["images"].shape == (32, 1, 128, 128)
    elapsed = benchmark.stats.stats.mean if benchmark.stats else time.perf_counter() - start
    benchmark.extra_info["images_per_s"] = 64 / elapsed
