"""bench.fileio: atomic replacement of files and folders, file names, the cache root."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from bench.fileio import (
    CACHE_ENV,
    atomic_path,
    cache_root,
    link_or_copy,
    safe_name,
    write_bytes_atomic,
    write_json_atomic,
    write_text_atomic,
)


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = write_text_atomic(tmp_path / "a.txt", "old\n")

    def half(fh):
        fh.write(b"new but cut")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_bytes_atomic(target, half)
    assert target.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
    write_text_atomic(target, "new\n")
    assert target.read_text() == "new\n" and sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_the_temporary_is_a_hidden_sibling_with_the_usual_permissions(tmp_path):
    target = tmp_path / "sub" / "r.json"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp.name.startswith(".r.json.") and not tmp.exists()
        tmp.write_text("{}")
    assert target.read_text() == "{}"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_json_is_sorted_indented_and_refuses_nan(tmp_path):
    path = write_json_atomic(tmp_path / "r.json", {"b": 1, "a": [1.5]})
    assert path.read_text() == '{\n  "a": [\n    1.5\n  ],\n  "b": 1\n}\n'
    with pytest.raises(ValueError):
        write_json_atomic(tmp_path / "r.json", {"a": math.nan})
    assert json.loads(path.read_text()) == {"a": [1.5], "b": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_a_folder_is_replaced_whole(tmp_path):
    final = tmp_path / "data"
    (final / "old").mkdir(parents=True)
    (final / "old" / "leftover.txt").write_text("x")
    with atomic_path(final, directory=True) as tmp:
        (tmp / "new").mkdir(parents=True)
        (tmp / "new" / "file.txt").write_text("y")
        assert not (final / "new").exists()  # nothing shows before the block ends
    assert sorted(p.relative_to(final).as_posix() for p in final.rglob("*")) == ["new", "new/file.txt"]
    with pytest.raises(RuntimeError), atomic_path(final, directory=True) as tmp:
        tmp.mkdir()
        raise RuntimeError("generator failed")
    assert (final / "new" / "file.txt").is_file() and sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_link_or_copy_places_a_second_name(tmp_path):
    src = write_text_atomic(tmp_path / "last.pt", "weights")
    dst = link_or_copy(src, tmp_path / "final.pt")
    assert dst.read_text() == "weights"
    link_or_copy(write_text_atomic(tmp_path / "other.pt", "newer"), dst)  # replaces an existing name
    assert dst.read_text() == "newer" and src.read_text() == "weights"


def test_safe_name_and_cache_root(monkeypatch, tmp_path):
    assert safe_name("sha256-ab/c d:e") == "sha256-ab-c-d-e"
    assert safe_name("chexpert-image-224px") == "chexpert-image-224px"
    assert safe_name("a//  b") == "a-b"  # a run of characters becomes one dash
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    assert cache_root() == tmp_path
    monkeypatch.delenv(CACHE_ENV)
    assert cache_root() == Path.home() / ".cache" / "medvlp-bench"
