from __future__ import annotations

import csv
import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest

from bench.data.base import CHEXPERT_LABELS
from bench.data.synth import realism
from bench.data.synth.difficulty import DEFAULT
from bench.data.synth.generate import generate


def _write_labels(path: Path) -> Path:
    rows = [
        {"Path": "a", "Frontal/Lateral": "Frontal", "Edema": "1.0", "Pleural Effusion": "1.0"},
        {"Path": "b", "Frontal/Lateral": "Frontal", "Atelectasis": "-1.0"},
        {"Path": "c", "Frontal/Lateral": "Lateral", "Fracture": "1.0"},
    ]
    with gzip.open(path, "wt", newline="") as handle:
        writer = csv.DictWriter(handle, ["Path", "Frontal/Lateral", *CHEXPERT_LABELS])
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_plans_draw_real_label_combinations(tmp_path: Path) -> None:
    loaded = realism.Realism.load(_write_labels(tmp_path / "chexpert_train.csv.gz"))
    assert loaded is not None and len(loaded.combos) == 2  # the lateral row is ignored
    seen = set()
    for seed in range(40):
        plan = loaded.sample_plan(np.random.default_rng(seed), DEFAULT)
        labels = plan.labels()
        seen.add((labels["Edema"] == 1.0, labels["Atelectasis"] == -1.0))
        assert labels["Fracture"] != 1.0
    assert seen == {(True, False), (False, True)}


def test_realism_without_the_file_falls_back_to_builtin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(realism, "data_dir", lambda: tmp_path / "absent")
    generate(tmp_path / "a", studies=8, size=64, datasets=("mimic-cxr",), realism=True)
    generate(tmp_path / "b", studies=8, size=64, datasets=("mimic-cxr",))
    for path in sorted((tmp_path / "a").rglob("*.txt")):
        twin = tmp_path / "b" / path.relative_to(tmp_path / "a")
        assert hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(twin.read_bytes()).digest()
