"""tasks.mm.runner: schedules, optimiser wrapper, normalisation, folders, the CUDA-ops guard."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from support.dense_planted import dense_cfg

from tasks.mm import runner as mm


def test_schedule_shapes() -> None:
    assert mm.schedule("constant", 100, 0.0) == []
    warm = mm.schedule("poly", 200, 0.075)
    assert [s["type"] for s in warm] == ["LinearLR", "PolyLR"]
    assert warm[0]["end"] == warm[1]["begin"] == 15 and warm[1]["end"] == 200
    with pytest.raises(ValueError, match="constant"):
        mm.schedule("cosine", 10, 0.0)


def test_normalisation_follows_the_harness_config() -> None:
    cfg = dense_cfg()
    norm = mm.normalisation(cfg, 3)
    assert norm["mean"] == [cfg.data.mean * 255] * 3 and len(norm["std"]) == 3
    assert len(mm.normalisation(cfg, 1)["mean"]) == 1


def test_folders_share_prepared_data_per_dataset_and_size(tmp_path) -> None:
    data = SimpleNamespace(dataset="siim", root=tmp_path / "siim", work_dir=tmp_path / "work")
    with mm.folders(data, "run a", 64) as (p1, r1):
        pass
    with mm.folders(data, "run b", 64) as (p2, r2):
        pass
    assert p1 == p2 and r1 != r2 and r1.parent == tmp_path / "work" / "runs" and r1.name == "run-a"
    with mm.folders(SimpleNamespace(dataset="siim", root=tmp_path, work_dir=None), "x", 64) as (p3, _):
        assert p3.is_dir()
    assert not Path(p3).exists()  # a temporary folder without a work dir


def test_optim_wrapper_is_adamw_with_optional_clipping() -> None:
    cfg = dense_cfg()
    wrapper = mm.optim_wrapper(cfg, 1e-3, 0.05, clip=35.0)
    assert wrapper["optimizer"]["type"] == "AdamW" and wrapper["optimizer"]["lr"] == 1e-3
    assert wrapper["clip_grad"]["max_norm"] == 35.0
    assert "clip_grad" not in mm.optim_wrapper(cfg, 1e-3, 0.05)


def test_cuda_ops_guard(monkeypatch) -> None:
    pytest.importorskip("mmcv.ops")
    import mmcv.ops

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(mmcv.ops, "get_compiling_cuda_version", lambda: "not available")
    with pytest.raises(ValueError, match="CUDA ops"):
        mm.require_cuda_ops("detection")
    monkeypatch.setattr(mmcv.ops, "get_compiling_cuda_version", lambda: "12.4")
    mm.require_cuda_ops("detection")
