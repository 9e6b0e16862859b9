from __future__ import annotations

from pathlib import Path

import pytest
from support import planted

from bench.data.base import CHEXPERT_LABELS, COMPETITION_LABELS, Record
from bench.data.splits import split_hash
from tasks.common.subsets import (
    RETRIEVAL_CLASSES,
    balance_negatives,
    chexpert_5x200,
    chexpert_8x200,
    exclusive_class,
    single_label_class,
)


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


def _positives(record: Record) -> list[str]:
    """Written out independently of the module: the labels exactly 1.0 (blank, 0 and -1 are not)."""
    return [n for n in CHEXPERT_LABELS if record.labels.get(n) == 1.0]


def test_single_label_class_counts_positives_among_all_14_labels():
    assert single_label_class(_record("a", Edema=1.0)) == "Edema"
    assert single_label_class(_record("b", No_Finding=1.0)) == "No Finding"
    assert single_label_class(_record("c", Edema=1.0, Atelectasis=1.0)) is None  # two retrieval classes
    assert single_label_class(_record("d", Edema=1.0, Support_Devices=1.0)) is None  # a non-retrieval label
    assert single_label_class(_record("e", No_Finding=1.0, Support_Devices=1.0)) is None
    assert single_label_class(_record("f", Edema=1.0, Lung_Opacity=-1.0, Fracture=0.0)) == "Edema"
    assert single_label_class(_record("g", Consolidation=1.0)) is None  # not one of the 8 classes
    assert single_label_class(_record("h", Edema=-1.0)) is None and single_label_class(_record("i")) is None


def test_8x200_candidates_have_exactly_one_positive_their_class(chexpert_table):
    pairs = chexpert_8x200(chexpert_table.records, per_class=6, seed=1)
    assert pairs == chexpert_8x200(list(reversed(chexpert_table.records)), per_class=6, seed=1)
    assert pairs != chexpert_8x200(chexpert_table.records, per_class=6, seed=2)
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)) == 8 * 6
    assert [c for _, c in pairs] == [c for c in RETRIEVAL_CLASSES for _ in range(6)]
    index = {r.key: r for r in chexpert_table.records}
    for key, cls in pairs:
        assert _positives(index[key]) == [cls] and index[key].split == "train"


def test_8x200_never_draws_a_multi_label_image():
    # Before: any image positive for the class qualified, so these two-finding images were drawn.
    one = {c: {c.replace(" ", "_"): 1.0} for c in RETRIEVAL_CLASSES}
    multi = [_record(f"m{j}-{i}", Support_Devices=1.0, **one[c]) for j, c in enumerate(RETRIEVAL_CLASSES) for i in range(5)]
    multi += [_record(f"p{i}", Edema=1.0, Pleural_Effusion=1.0) for i in range(5)]
    single = [_record(f"s{j}-{i}", **one[c]) for j, c in enumerate(RETRIEVAL_CLASSES) for i in range(2)]
    lateral = [_record(f"l{j}", view="Lateral", **one[c]) for j, c in enumerate(RETRIEVAL_CLASSES)]
    pairs = chexpert_8x200(multi + single + lateral, per_class=3, seed=0)
    assert sorted(k for k, _ in pairs) == sorted(r.key for r in single)  # 2 per class: the smallest pool
    index = {r.key: r for r in single}
    assert all(_positives(index[k]) == [c] for k, c in pairs)


def test_8x200_names_a_class_without_single_label_images():
    records = [_record(f"{j}-{i}", **{c.replace(" ", "_"): 1.0}) for j, c in enumerate(RETRIEVAL_CLASSES[:-1]) for i in range(2)]
    records += [_record("both", Atelectasis=1.0, Edema=1.0)]
    with pytest.raises(ValueError, match="Atelectasis"):
        chexpert_8x200(records, 2, 0)


def test_balance_negatives_keeps_positives_and_as_many_negatives(tmp_path) -> None:
    recs = [Record(key=str(i), image=tmp_path / "x", rle=("1 1",) if i < 3 else ()) for i in range(12)]
    picked = balance_negatives(recs, seed=0, positive=lambda r: bool(r.rle))
    assert {r.key for r in picked if r.rle} == {"0", "1", "2"} and len(picked) == 6
    assert [r.key for r in picked] == [r.key for r in balance_negatives(recs, 0, lambda r: bool(r.rle))]
    assert [r.key for r in picked] == [r.key for r in recs if r in picked]  # order kept
    few = recs[:5]  # 3 positives, 2 negatives: every negative kept
    assert balance_negatives(few, 0, lambda r: bool(r.rle)) == few
