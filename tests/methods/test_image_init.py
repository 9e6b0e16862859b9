"""The image encoder's initialisation: resolved from ``model.image_weights``, recorded in
``model.image_init``, ImageNet from the torch hub cache in the default preset."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pytest
import torch
from torchvision.models import resnet18

from bench.checkpoint import load_checkpoint, save_checkpoint
from bench.config import ModelCfg, resolve
from methods.base import ReportMethod
from methods.convirt import ConVIRT
from methods.resnet import imagenet_weights_file, resolve_image_init

V1_FILE = "resnet18-f37072fd.pth"  # torchvision's IMAGENET1K_V1 file name for resnet18


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty torch hub cache folder (``$TORCH_HOME/hub/checkpoints``)."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    folder = tmp_path / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    return folder


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def test_imagenet_from_the_hub_cache_is_loaded_and_recorded(hub: Path) -> None:
    torch.manual_seed(1)
    source = resnet18(weights=None)
    torch.save(source.state_dict(), hub / V1_FILE)
    assert imagenet_weights_file("resnet18") == hub / V1_FILE
    cfg = ModelCfg(image_encoder="resnet18", image_weights="imagenet")
    trunk = ReportMethod.build_trunk(cfg, in_channels=1)
    assert cfg.image_init == f"imagenet {V1_FILE} sha256:{_sha(hub / V1_FILE)}"
    torch.testing.assert_close(trunk.conv1.weight, source.conv1.weight.sum(dim=1, keepdim=True))  # grey stem
    torch.testing.assert_close(trunk.layer4[1].conv2.weight, source.layer4[1].conv2.weight)


def test_missing_imagenet_file_warns_once_and_records_random(hub: Path, caplog: pytest.LogCaptureFixture) -> None:
    cfg = ModelCfg(image_encoder="resnet18", image_weights="imagenet")
    with caplog.at_level(logging.WARNING):
        trunk = ReportMethod.build_trunk(cfg, in_channels=3)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "random weights" in warnings[0].getMessage()
    assert str(hub) in warnings[0].getMessage()
    assert cfg.image_init == "random (no ImageNet weights file found)"
    assert trunk.conv1.weight.shape == (64, 3, 7, 7)


def test_explicit_file_none_and_errors(tmp_path: Path, hub: Path) -> None:
    path = tmp_path / "r18.pth"
    torch.save(resnet18(weights=None).state_dict(), path)
    init = resolve_image_init(str(path), "resnet18")
    assert init.path == path and init.record == f"file r18.pth sha256:{_sha(path)}"
    assert resolve_image_init(None, "resnet18").record == "random"
    assert resolve_image_init("none", "resnet18").path is None
    with pytest.raises(ValueError, match="not found"):
        resolve_image_init(str(tmp_path / "missing.pth"), "resnet18")
    with pytest.raises(ValueError, match="no ImageNet weights for 'resnet_tiny'"):
        resolve_image_init("imagenet", "resnet_tiny")


def test_a_recorded_initialisation_is_not_resolved_again(tmp_path: Path) -> None:
    """A config read back from a checkpoint: its weights come from the checkpoint, so the file it
    was initialised from need not exist here, and the record stays."""
    cfg = ModelCfg(image_encoder="resnet18", image_weights=str(tmp_path / "gone.pth"), image_init="file gone.pth")
    ReportMethod.build_trunk(cfg, in_channels=3)
    assert cfg.image_init == "file gone.pth"


def test_default_preset_asks_for_imagenet_and_tiny_for_random() -> None:
    assert resolve("default", "convirt", method_config_cls=ConVIRT.Config).model.image_weights == "imagenet"
    assert resolve("tiny", "convirt", method_config_cls=ConVIRT.Config).model.image_weights is None


def test_checkpoints_record_the_initialisation(tmp_path: Path) -> None:
    cfg = resolve("tiny", "convirt", {"model.image_size": "64"}, ConVIRT.Config)
    method = ConVIRT.from_config(cfg)
    assert cfg.to_dict()["model"]["image_init"] == "random"
    payload = {"method": "convirt", "drop": [], "config": cfg.to_dict(), "model": method.state_dict()}
    path = save_checkpoint(tmp_path / "c.pt", payload)
    _, loaded = load_checkpoint(path)
    assert loaded.model.image_init == "random"
