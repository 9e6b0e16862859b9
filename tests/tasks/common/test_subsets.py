from __future__ import annotations

from pathlib import Path

import pytest
from support import planted

from bench.data.base import COMPETITION_LABELS, Record
from bench.data.splits import split_hash
from tasks.common.subsets import RETRIEVAL_CLASSES, chexpert_5x200, chexpert_8x200, exclusive_class, label


def _record(key: str, split: str = "train", view: str = "Frontal", **labels: float) -> Record:
    full = {name: float("nan") for name in planted.CHEXPERT_LABELS}
    full.update({k.replace("_", " "): v for k, v in labels.items()})
    return Record(key=key, image=Path(key), split=split, labels=full, meta={"view": view})


def test_exclusive_class_follows_the_gloria_rule():
    assert exclusive_class(_record("a", Edema=1.0)) == "Edema"
    assert exclusive_class(_record("b", Edema=1.0, No_Finding=1.0)) == "Edema"  # No Finding unconstrained
    assert exclusive_class(_record("c", Edema=1.0, Atelectasis=1.0)) is None
    assert exclusive_class(_record("d", Edema=1.0, Fracture=1.0)) is None  # another finding
    assert exclusive_class(_record("e", Edema=1.0, Pneumonia=-1.0)) is None  # uncertain is not 0
    assert exclusive_class(_record("f")) is None


def test_5x200_is_deterministic_balanced_and_hashable(chexpert_table):
    a = chexpert_5x200(chexpert_table.records, per_class=5, seed=3)
    b = chexpert_5x200(list(reversed(chexpert_table.records)), per_class=5, seed=3)
    c = chexpert_5x200(chexpert_table.records, per_class=5, seed=4)
    assert a == b
    assert split_hash(k for k, _ in a) == split_hash(k for k, _ in b)
    assert split_hash(k for k, _ in a) != split_hash(k for k, _ in c)
    assert [cls for _, cls in a] == [c for c in COMPETITION_LABELS for _ in range(5)]
    index = {r.key: r for r in chexpert_table.records}
    for key, cls in a:
        assert index[key].split == "train" and exclusive_class(index[key]) == cls


def test_5x200_scales_down_when_data_is_small(chexpert_table):
    pairs = chexpert_5x200(chexpert_table.records, per_class=200, seed=0)
    assert len(pairs) == 5 * 12  # 12 exclusive train images per class in the planted table


def test_5x200_names_a_missing_class():
    records = [_record(f"k{i}", Edema=1.0) for i in range(3)]
    with pytest.raises(ValueError, match="Atelectasis"):
        chexpert_5x200(records, 2, 0)


def test_8x200_candidates_are_positive_and_unique(chexpert_table):
    pairs = chexpert_8x200(chexpert_table.records, per_class=6, seed=1)
    assert pairs == chexpert_8x200(chexpert_table.records, per_class=6, seed=1)
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)) == 8 * 6
    index = {r.key: r for r in chexpert_table.records}
    for key, cls in pairs:
        assert label(index[key], cls) == 1.0 and index[key].split == "train"
    assert {cls for _, cls in pairs} == set(RETRIEVAL_CLASSES)


def test_8x200_shrinks_until_an_exclusive_draw_exists():
    # Two classes share all images but one each: 2 per class cannot be drawn exclusively, 1 can.
    shared = [_record(f"s{i}", Edema=1.0, Atelectasis=1.0) for i in range(2)]
    rest = [_record(f"{c}{i}", **{c.replace(" ", "_"): 1.0}) for c in RETRIEVAL_CLASSES if c not in ("Edema", "Atelectasis") for i in range(3)]
    pairs = chexpert_8x200(shared + rest, per_class=3, seed=0)
    assert len(pairs) == 8 * 1
