from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from bench.data.base import Record, Table
from bench.data.splits import fraction_name, make_splits, read_splits, split_hash, write_splits


def table(dataset: str, n: int, positive_every: int = 10, splits=None, label="Pneumonia") -> Table:
    records = []
    for i in range(n):
        split = splits(i) if splits else "train"
        value = 1.0 if i % positive_every == 0 else 0.0
        records.append(Record(key=f"k{i:05d}", image=Path(f"/x/{i}.dcm"), split=split, labels={label: value}))
    return Table(dataset=dataset, root=Path("/x"), records=records)


def positives(keys, t: Table, label="Pneumonia") -> int:
    by_key = {r.key: r for r in t.records}
    return sum(by_key[k].labels[label] == 1.0 for k in keys)


def test_deterministic_and_seed_dependent():
    t = table("rsna", 1000)
    assert make_splits(t, seed=3) == make_splits(t, seed=3)
    assert make_splits(t, seed=3)["test"] != make_splits(t, seed=4)["test"]


def test_carved_70_15_15_disjoint_and_stratified():
    t = table("rsna", 2000)  # 10% positive
    s = make_splits(t, seed=0)
    assert set(s) == {"train", "train_1", "train_10", "val", "test"}
    assert (len(s["train"]), len(s["val"]), len(s["test"])) == (1400, 300, 300)
    assert not (set(s["train"]) & set(s["val"])) and not (set(s["train"]) & set(s["test"]))
    assert not (set(s["val"]) & set(s["test"]))
    assert set(s["train"]) | set(s["val"]) | set(s["test"]) == {r.key for r in t.records}
    for part in ("train", "val", "test"):
        share = positives(s[part], t) / len(s[part])
        assert abs(share - 0.1) < 0.01, (part, share)


def test_fractions_are_nested_and_keep_every_class():
    t = table("siim", 3000, positive_every=50, label="Pneumothorax")
    s = make_splits(t, seed=1)
    assert set(s["train_1"]) <= set(s["train_10"]) <= set(s["train"])
    assert abs(len(s["train_10"]) - 0.1 * len(s["train"])) <= 2
    assert abs(len(s["train_1"]) - 0.01 * len(s["train"])) <= 2
    assert positives(s["train_1"], t, "Pneumothorax") >= 1
    assert abs(positives(s["train_10"], t, "Pneumothorax") / len(s["train_10"]) - 0.02) < 0.01


def test_tiny_fraction_still_has_one_sample_per_class():
    t = table("rsna", 60, positive_every=6)
    s = make_splits(t, seed=0, fractions=(0.01, 1.0))
    assert set(s) == {"train", "train_1", "val", "test"}
    assert len(s["train_1"]) == 2 and positives(s["train_1"], t) == 1


def test_chexpert_valid_is_test_and_val_is_held_out_of_train():
    t = table("chexpert", 500, splits=lambda i: "valid" if i < 50 else "train", label="Edema")
    s = make_splits(t, seed=0)
    assert s["test"] == [f"k{i:05d}" for i in range(50)]
    assert len(s["val"]) == 45 and len(s["train"]) == 405  # 10% of the 450 train images
    big = table("chexpert", 60000, splits=lambda i: "valid" if i < 200 else "train", label="Edema")
    assert len(make_splits(big, seed=0, fractions=(1.0,))["val"]) == 5000  # MGCA's 5,000 cap


def test_official_splits_are_honoured():
    mimic = table("mimic-cxr", 30, splits=lambda i: ("train", "validate", "test")[i % 3], label="Edema")
    s = make_splits(mimic, seed=0)
    assert s["val"] == [r.key for r in mimic.records if r.split == "validate"]
    assert s["test"] == [r.key for r in mimic.records if r.split == "test"]
    obj = table("object-cxr", 110, splits=lambda i: "dev" if i >= 100 else "train", label="Foreign object")
    s = make_splits(obj, seed=0)
    assert len(s["test"]) == 10 and len(s["val"]) == 10 and len(s["train"]) == 90


def test_covidx_val_from_train_or_file():
    def covidx(with_val: bool) -> Table:
        t = table(
            "covidx", 300, splits=lambda i: "test" if i < 50 else ("val" if with_val and i < 80 else "train")
        )
        for r in t.records:
            r.meta["class"] = ("normal", "pneumonia", "COVID-19")[int(r.key[1:]) % 3]
        return t

    s = make_splits(covidx(False), seed=0)
    assert (len(s["test"]), len(s["val"]), len(s["train"])) == (50, 50, 200)  # val = 20% of train
    per_class = Counter(int(k[1:]) % 3 for k in s["val"])  # stratified on the class
    assert len(per_class) == 3 and max(per_class.values()) - min(per_class.values()) <= 1
    s = make_splits(covidx(True), seed=0)
    assert len(s["val"]) == 30 and len(s["train"]) == 220


def covidx_patients(n_patients: int = 120, seed: int = 0) -> Table:
    """COVIDx-like: 1-5 images per patient, one class per patient; 30 test patients given."""
    rng = np.random.default_rng(seed)
    records = []
    for p in range(n_patients):
        cls = ("normal", "pneumonia", "COVID-19")[p % 3]
        split = "test" if p < 30 else "train"
        for i in range(int(rng.integers(1, 6))):
            records.append(
                Record(key=f"p{p:03d}-{i}.png", image=Path(f"/x/p{p}-{i}.png"), split=split,
                       labels={cls: 1.0}, patient=f"patient {p}", meta={"class": cls})
            )
    return Table(dataset="covidx", root=Path("/x"), records=records)


@pytest.mark.parametrize("seed", range(4))
def test_covidx_val_is_carved_by_patient(seed):
    t = covidx_patients()
    s = make_splits(t, seed=seed)
    patient = {r.key: r.patient for r in t.records}
    val, train = {patient[k] for k in s["val"]}, {patient[k] for k in s["train"]}
    assert val and train and not val & train  # by image, 6-8 patients were on both sides
    assert not {patient[k] for k in s["test"]} & (val | train)
    n_pool = sum(r.split == "train" for r in t.records)
    assert round(0.2 * n_pool) <= len(s["val"]) < round(0.2 * n_pool) + 5  # whole patients until 20 %
    assert len(s["val"]) + len(s["train"]) == n_pool
    per_class = Counter(r.meta["class"] for r in t.records if r.key in set(s["val"]))
    assert len(per_class) == 3
    assert s == make_splits(covidx_patients(), seed=seed)


def test_bad_arguments():
    t = table("rsna", 20)
    with pytest.raises(ValueError, match="val_frac"):
        make_splits(t, seed=0, val_frac=1.5)
    with pytest.raises(ValueError, match="label fraction"):
        make_splits(t, seed=0, fractions=(0.0,))
    with pytest.raises(ValueError, match="no records left"):
        make_splits(table("chexpert", 5, splits=lambda i: "valid"), seed=0)
    assert fraction_name(0.05) == "train_5" and fraction_name(0.001) == "train_0.1"


def test_files_hashes_and_tamper_detection(tmp_path):
    s = make_splits(table("rsna", 200), seed=0)
    manifest = write_splits(s, tmp_path, meta={"dataset": "rsna", "seed": 0})
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["splits.json", "train.txt", "train_1.txt", "train_10.txt", "val.txt", "test.txt"]
    )
    assert (tmp_path / "val.txt").read_text().splitlines() == sorted(s["val"])
    assert read_splits(tmp_path) == s
    info = json.loads(manifest.read_text())
    assert info["dataset"] == "rsna" and info["files"]["test.txt"]["count"] == len(s["test"])
    assert info["files"]["train.txt"]["sha256"] == split_hash(s["train"]) == split_hash(reversed(s["train"]))
    lines = (tmp_path / "test.txt").read_text().splitlines()
    (tmp_path / "test.txt").write_text("\n".join(lines[1:]) + "\n")
    with pytest.raises(ValueError, match=r"test.txt: content changed"):
        read_splits(tmp_path)
    (tmp_path / "test.txt").unlink()
    with pytest.raises(ValueError, match="test.txt: split file missing"):
        read_splits(tmp_path)
    with pytest.raises(ValueError, match="splits.json: missing"):
        read_splits(tmp_path / "nowhere")
