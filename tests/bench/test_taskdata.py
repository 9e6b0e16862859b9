from __future__ import annotations

from pathlib import Path

import pytest

from bench.data.base import Record, Table
from bench.taskdata import TaskData, fraction_splits


def test_taskdata_records_by_split():
    records = [Record(key=k, image=Path(k)) for k in ("x", "y", "z")]
    data = TaskData("rsna", Path("."), Table("rsna", Path("."), records), splits={"test": ["z", "x"]})
    assert [r.key for r in data.records("test")] == ["z", "x"]
    with pytest.raises(KeyError, match="test"):
        data.records("val")


def test_fraction_splits_picks_the_label_fraction_and_names_what_exists():
    splits = {"train": ["a", "b", "c"], "train_10": ["a"], "val": ["v"], "test": ["t"]}
    assert fraction_splits(splits, 0.1) == {"train": ["a"], "val": ["v"], "test": ["t"]}
    assert fraction_splits(splits, 1.0)["train"] == ["a", "b", "c"]
    with pytest.raises(ValueError, match=r"no split 'train_1' .*present: \['train', 'train_10'\]"):
        fraction_splits(splits, 0.01)

