"""No file outside the dataset root is opened, whatever the dataset files name; damaged images are
skipped by evaluation, named in the log and counted in the result.

An audit hook (``sys.addaudithook``) watches every ``open`` while ``data check`` and ``evaluate``
run on a CheXpert folder whose CSV has rows escaping the root (``..`` and an absolute path) that
point at a real, readable image.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
from pathlib import Path

import pytest
from support import planted

from bench.cli import main
from bench.results import iter_results

pytestmark = pytest.mark.usefixtures("planted_registered")  # `bench evaluate --method planted`

_WATCHED: list[str] = []
_OPENED: list[str] = []


def _hook(event: str, args: tuple) -> None:
    if event != "open" or not _WATCHED or isinstance(args[0], int):
        return
    path = os.path.abspath(os.fsdecode(args[0]))
    if any(path == w or path.startswith(w + os.sep) for w in _WATCHED):
        _OPENED.append(path)


sys.addaudithook(_hook)  # hooks cannot be removed: this one only records while a test watches


@contextlib.contextmanager
def watching(folder: Path):
    """The files under ``folder`` opened inside the block."""
    _OPENED.clear()
    _WATCHED.append(os.path.abspath(folder))
    try:
        yield _OPENED
    finally:
        _WATCHED.clear()


SETS = ["model.image_size=24", "train.num_workers=0", "eval.probe_epochs=50", "eval.probe_lr=0.05",
        "eval.cache_dir=none"]


@pytest.fixture
def escaping(tmp_path):
    """(data dir, outside folder): planted CheXpert with two escaping rows, one corrupt, one missing image."""
    data = tmp_path / "data"
    planted.write_chexpert(data / "chexpert")
    base = data / "chexpert" / "CheXpert-v1.0-small"
    outside = tmp_path / "outside"
    outside.mkdir()
    images = sorted((base / "train").rglob("*.jpg"))
    secret = shutil.copy(images[0], outside / "secret.jpg")
    csv = base / "train.csv"
    lines = csv.read_text().splitlines()
    first = lines[1].split(",", 1)[1]
    lines += [f"../../../outside/secret.jpg,{first}", f"{secret},{first}"]
    csv.write_text("\n".join(lines) + "\n")
    images[1].write_bytes(images[1].read_bytes()[:200])  # truncated JPEG: the header still parses
    images[2].unlink()
    return data, outside, images


def test_data_check_opens_nothing_outside_the_root(escaping, capsys):
    data, outside, _ = escaping
    with watching(outside) as opened:
        assert main(["data", "check", "--dataset", "chexpert", "--root", str(data / "chexpert"), "--json"]) == 0
    assert opened == []
    out = capsys.readouterr().out
    assert '"escaping_path": 2' in out and '"missing": 1' in out and '"unreadable": 1' in out


def test_evaluate_opens_nothing_outside_and_skips_damaged_images(escaping, tmp_path, caplog):
    data, outside, images = escaping
    argv = ["evaluate", "--method", "planted", "--checkpoint", "random", "--data", str(data), "--results",
            str(tmp_path / "res"), "--preset", "tiny", "--task", "classification", "--dataset", "chexpert",
            "--fraction", "1.0", "--seed", "0", "--set", *SETS]
    with caplog.at_level(logging.WARNING), watching(outside) as opened:
        assert main(argv) == 0
    assert opened == []
    (_, result), = iter_results(tmp_path / "res")
    assert result.extra["skipped_images"] == 1 and result.extra["missing_images"] == 1
    assert f"skipping damaged image {images[1]}" in caplog.text and str(images[2]) in caplog.text


def test_symlinked_folders_inside_the_root_stay_usable_and_are_reported(tmp_path, capsys):
    data = tmp_path / "data"
    planted.write_chexpert(data / "chexpert")
    base = data / "chexpert" / "CheXpert-v1.0-small"
    assert main(["data", "check", "--dataset", "chexpert", "--root", str(data / "chexpert"), "--json"]) == 0
    before = capsys.readouterr().out
    disk = tmp_path / "other-disk" / "train"
    shutil.move(base / "train", disk)
    (base / "train").symlink_to(disk, target_is_directory=True)
    assert main(["data", "check", "--dataset", "chexpert", "--root", str(data / "chexpert"), "--json"]) == 0
    after = capsys.readouterr().out
    import json

    old, new = json.loads(before), json.loads(after)
    assert new["usable"] == old["usable"] > 0 and new["problem_count"] == 0
    assert new["symlinked_folders"] == [f"{base / 'train'} -> {disk.resolve()}"] and old["symlinked_folders"] == []
