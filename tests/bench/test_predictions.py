"""bench.predictions: the npz writer and reader, with the split hash and the file's sha256."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from bench.errors import UserError
from bench.predictions import (
    Predictions,
    PredictionsError,
    predictions_path,
    read_predictions,
    sha256_file,
    write_predictions,
)


def _pred(**kw) -> Predictions:
    base = dict(
        task="classification",
        dataset="rsna",
        kind="binary",
        keys=["a/1.dcm", "b/2.dcm", "c/3.dcm"],
        arrays={"scores": np.array([0.1, 0.7, 0.7], np.float32), "targets": np.array([0, 1, 0], np.float32)},
        split="test",
        split_hash="ab" * 32,
        meta={"classes": ["Pneumonia"], "labels": ["pneumonia"], "threshold": 0.5},
    )
    base.update(kw)
    return Predictions(**base)


def test_roundtrip_keeps_arrays_dtypes_keys_and_header(tmp_path):
    pred = _pred(arrays={"scores": np.arange(6, dtype=np.float32).reshape(3, 2), "relevant": np.eye(3, 2, dtype=bool)})
    path = tmp_path / "r.predictions.npz"
    sha = write_predictions(pred, path)
    assert sha == sha256_file(path) and len(sha) == 64
    back = read_predictions(path, sha256=sha)
    assert (back.task, back.dataset, back.kind, back.split, back.split_hash) == (
        "classification", "rsna", "binary", "test", "ab" * 32)
    assert back.keys == pred.keys and back.meta == pred.meta and set(back.arrays) == {"scores", "relevant"}
    for name, value in pred.arrays.items():
        assert back.arrays[name].dtype == value.dtype and np.array_equal(back.arrays[name], value)
    assert not list(tmp_path.glob(".*.tmp"))  # written through a temp file, renamed


def test_file_is_a_plain_npz_with_a_json_header(tmp_path):
    path = tmp_path / "p.npz"
    write_predictions(_pred(), path)
    with zipfile.ZipFile(path) as zf:
        assert set(zf.namelist()) == {"meta.json.npy", "keys.npy", "a.scores.npy", "a.targets.npy"}
    with np.load(path, allow_pickle=False) as npz:
        header = json.loads(str(npz["meta.json"]))
    assert header["format_version"] == 1 and header["split_hash"] == "ab" * 32


def test_empty_predictions_roundtrip(tmp_path):
    pred = _pred(keys=[], arrays={"scores": np.zeros(0, np.float32)})
    write_predictions(pred, tmp_path / "e.npz")
    back = read_predictions(tmp_path / "e.npz")
    assert back.keys == [] and back.arrays["scores"].shape == (0,)


def test_a_changed_file_fails_its_sha256(tmp_path):
    path = tmp_path / "p.npz"
    sha = write_predictions(_pred(), path)
    write_predictions(_pred(arrays={"scores": np.zeros(3, np.float32), "targets": np.zeros(3)}), path)
    with pytest.raises(PredictionsError, match="sha256"):
        read_predictions(path, sha256=sha)


def test_missing_garbled_and_newer_files_are_user_errors(tmp_path):
    with pytest.raises(PredictionsError, match="no such predictions file"):
        read_predictions(tmp_path / "none.npz")
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(PredictionsError, match="not a predictions file"):
        read_predictions(tmp_path / "bad.npz")
    path = tmp_path / "new.npz"
    np.savez(path, **{"meta.json": np.array(json.dumps({"format_version": 99})), "keys": np.array([], np.str_)})
    with pytest.raises(PredictionsError, match="format_version 99 is newer"):
        read_predictions(path)
    assert issubclass(PredictionsError, UserError)


def test_object_arrays_are_refused():
    with pytest.raises(ValueError, match="dtype object"):
        _pred(arrays={"boxes": np.array([np.zeros(2), np.zeros(3)], dtype=object)})


def test_predictions_path_sits_beside_the_result():
    assert predictions_path("runs/prior/x/rsna/cell.json").as_posix() == "runs/prior/x/rsna/cell.predictions.npz"
