from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from bench.data.synth import cache
from bench.data.synth.boxes import opacity_boxes
from bench.data.synth.generate import GENERATOR_VERSION

BOX_TAG = "" if opacity_boxes().source == "rsna-labels" else "-builtin-boxes"


def test_generates_once_then_reuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = cache.default_data_dir(seed=1, studies=8, size=64, root=tmp_path)
    assert (first / cache.MARKER).is_file() and (first / "siim" / "train-rle.csv").is_file()
    assert first.name == f"synth-{GENERATOR_VERSION}-seed1-n8-64px" + BOX_TAG

    def forbidden(*args, **kwargs):
        raise AssertionError("regenerated a complete cache")

    monkeypatch.setattr(cache, "generate", forbidden)
    assert cache.default_data_dir(seed=1, studies=8, size=64, root=tmp_path) == first
    assert not list(tmp_path.glob(".*tmp*"))


def test_concurrent_callers_generate_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def slow_generate(out: Path, **kwargs) -> dict:
        calls.append(out)
        time.sleep(0.3)
        (Path(out) / "done.txt").parent.mkdir(parents=True, exist_ok=True)
        (Path(out) / "done.txt").write_text("x")
        return {"images": 1}

    monkeypatch.setattr(cache, "generate", slow_generate)
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.default_data_dir(studies=5, root=tmp_path)))
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(set(results)) == 1 and (results[0] / "done.txt").is_file()


def test_incomplete_leftover_is_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / cache.folder_name(0, 5, 224)
    (stale / "half").mkdir(parents=True)
    monkeypatch.setattr(cache, "generate", lambda out, **kw: Path(out).mkdir(parents=True) or {"images": 0})
    path = cache.default_data_dir(studies=5, root=tmp_path)
    assert path == stale and (path / cache.MARKER).is_file() and not (path / "half").exists()


def test_cache_root_and_names(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path))
    assert cache.cache_root() == tmp_path
    monkeypatch.delenv(cache.CACHE_ENV)
    assert cache.cache_root() == Path.home() / ".cache" / "medvlp-bench"
    assert cache.folder_name(0, 10, 224) != cache.folder_name(0, 10, 224, "hard")
    assert cache.folder_name(0, 10, 224, "default") == cache.folder_name(0, 10, 224)


def test_config_difficulty_picks_its_own_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``data.synth_difficulty`` reaches the generator and names the cache folder; the tiny preset's
    embedded default is the easy variant, distinct from the default-difficulty one."""
    import json

    from bench.config import ConfigError, resolve
    from bench.data.resolve import data_dir

    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path))
    small = {"data.studies": "8", "data.synth_size": "64"}
    assert resolve("tiny").data.synth_difficulty == "easy"
    easy = data_dir(None, resolve("tiny", overrides=small))
    plain = data_dir(None, resolve("tiny", overrides={**small, "data.synth_difficulty": "default"}))
    assert easy != plain and easy.parent == plain.parent == tmp_path
    assert plain.name == f"synth-{GENERATOR_VERSION}-seed0-n8-64px" + BOX_TAG
    assert easy.name.startswith(plain.name + "-d")
    manifest = json.loads((easy / "synth-manifest.json").read_text())
    assert (
        manifest["difficulty"]["contrast"]
        > json.loads((plain / "synth-manifest.json").read_text())["difficulty"]["contrast"]
    )
    with pytest.raises(ConfigError, match="synth_difficulty"):
        resolve("tiny", overrides={"data.synth_difficulty": "trivial"})
