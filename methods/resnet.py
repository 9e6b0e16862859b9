"""ResNet trunks with torchvision's key names (conv1, bn1, layer1..layer4; ``fc`` is Identity).

Every method's image backbone comes from :func:`build_resnet`, so the dense tasks and the
checkpoint converters see one layout whatever the method.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn
from torchvision.models import get_model_weights, resnet18, resnet34, resnet50
from torchvision.models.resnet import BasicBlock

from bench.config import ConfigError
from bench.dist import is_main
from bench.fileio import WeightsFileError, load_weights_only

log = logging.getLogger(__name__)
LAYERS = ("layer1", "layer2", "layer3", "layer4")


class TinyResNet(nn.Module):
    """A ~0.3M-parameter ResNet (BasicBlock, one block per stage, widths 16/32/64/128) with
    torchvision's module names, so everything written for ``resnet18`` works on it too."""

    def __init__(self, widths: tuple[int, int, int, int] = (16, 32, 64, 128), in_channels: int = 3) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, widths[0], kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        inplanes = widths[0]
        for i, width in enumerate(widths):
            stride = 1 if i == 0 else 2
            downsample = None
            if stride != 1 or inplanes != width:
                downsample = nn.Sequential(
                    nn.Conv2d(inplanes, width, kernel_size=1, stride=stride, bias=False), nn.BatchNorm2d(width)
                )
            setattr(self, LAYERS[i], nn.Sequential(BasicBlock(inplanes, width, stride, downsample)))
            inplanes = width
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Identity()
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = resnet_features(self, x)["layer4"]
        return torch.flatten(self.avgpool(x), 1)


RESNETS: dict[str, Callable[[], nn.Module]] = {
    "resnet18": lambda: resnet18(weights=None),
    "resnet34": lambda: resnet34(weights=None),
    "resnet50": lambda: resnet50(weights=None),
    "resnet_tiny": TinyResNet,
}


IMAGENET = "imagenet"  # model.image_weights: torchvision's ImageNet file from the torch hub cache


@dataclass(frozen=True)
class ImageInit:
    """How a trunk is initialised: ``path`` of the weights file (None: random) and ``record``,
    the line stored in ``model.image_init`` (``random``, or the source, file name and sha256)."""

    path: Path | None
    record: str


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def imagenet_weights_file(name: str) -> Path | None:
    """torchvision's ImageNet weights file of ``name`` in the torch hub cache
    (``$TORCH_HOME/hub/checkpoints``), IMAGENET1K_V1 first (what ``pretrained=True`` gave the
    official PRIOR code), then later versions; None when none is there."""
    if name not in RESNETS or name == "resnet_tiny":
        raise ValueError(f"model.image_weights=imagenet: torchvision has no ImageNet weights for {name!r}")
    folder = Path(torch.hub.get_dir()) / "checkpoints"
    for weights in get_model_weights(name):
        candidate = folder / Path(urlparse(weights.url).path).name
        if candidate.is_file():
            return candidate
    return None


def resolve_image_init(weights: str | Path | None, name: str) -> ImageInit:
    """Resolve ``model.image_weights``: None or ``none`` (random), ``imagenet`` (the torchvision
    cache; random with one warning when the file is absent) or the path of a state-dict file."""
    if weights is None or str(weights).lower() == "none":
        return ImageInit(None, "random")
    if str(weights).lower() == IMAGENET:
        found = imagenet_weights_file(name)
        if found is None:
            if is_main():
                log.warning(
                    "no ImageNet weights for %s in %s: the image encoder starts from random weights "
                    "(pass --set model.image_weights=PATH to use a local torchvision file)",
                    name, Path(torch.hub.get_dir()) / "checkpoints",
                )
            return ImageInit(None, "random (no ImageNet weights file found)")
        return ImageInit(found, f"imagenet {found.name} sha256:{_sha256(found)[:16]}")
    path = Path(weights)
    if not path.is_file():
        raise ValueError(f"image weights {str(path)!r} not found; expected a torchvision state-dict file")
    return ImageInit(path, f"file {path.name} sha256:{_sha256(path)[:16]}")


def _read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"image weights {str(path)!r} not found; expected a torchvision state-dict file")
    try:
        state = load_weights_only(path)
    except WeightsFileError as exc:
        raise ConfigError(f"model.image_weights: {exc}") from None
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise ValueError(f"image weights {str(path)!r}: expected a state dict, got {type(state).__name__}")
    return {k: v for k, v in state.items() if not k.startswith("fc.")}


def adapt_conv1(state: dict[str, torch.Tensor], in_channels: int) -> dict[str, torch.Tensor]:
    """Sum RGB kernels into one grey kernel when a 3-channel ``conv1`` feeds a 1-channel trunk
    (PRIOR's conversion of ImageNet weights)."""
    weight = state.get("conv1.weight")
    if weight is not None and weight.shape[1] != in_channels:
        if in_channels == 1:
            state = dict(state, **{"conv1.weight": weight.sum(dim=1, keepdim=True)})
        else:
            raise ValueError(
                f"conv1 in the weights takes {weight.shape[1]} channels; cannot adapt to {in_channels}"
            )
    return state


def build_resnet(name: str, in_channels: int = 3, weights: str | Path | None = None) -> nn.Module:
    """A torchvision-key-compatible ResNet trunk (``fc`` = Identity; forward gives pooled features).

    ``name``: one of :data:`RESNETS`. ``in_channels``: 3, or 1 for a grey stem. ``weights``: a
    local torchvision state-dict file (``fc.*`` ignored) or None for random initialisation.
    """
    if name not in RESNETS:
        raise ConfigError(f"unknown image encoder {name!r}; valid: {', '.join(sorted(RESNETS))}")
    if in_channels not in (1, 3):
        raise ValueError(f"in_channels must be 1 or 3, got {in_channels}")
    trunk = RESNETS[name]()
    trunk.fc = nn.Identity()
    if in_channels != 3:
        old = trunk.conv1
        trunk.conv1 = nn.Conv2d(
            in_channels, old.out_channels, old.kernel_size, old.stride, old.padding, bias=False
        )
        with torch.no_grad():
            trunk.conv1.weight.copy_(old.weight.sum(dim=1, keepdim=True))
    if weights is not None:
        state = adapt_conv1(_read_state_dict(weights), in_channels)
        try:
            missing, unexpected = trunk.load_state_dict(state, strict=False)
        except RuntimeError as exc:  # shape mismatches
            raise ValueError(f"image weights {str(weights)!r} do not fit {name}: {str(exc)[:300]}") from None
        if missing or unexpected:
            raise ValueError(
                f"image weights {str(weights)!r} do not fit {name}: missing {missing[:5]}, "
                f"unexpected {unexpected[:5]}"
            )
        log.info("loaded %s weights from %s", name, weights)
    return trunk


def resnet_features(trunk: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The four stage outputs of a ResNet trunk: ``{"layer1": ..., ..., "layer4": ...}``."""
    x = trunk.maxpool(trunk.relu(trunk.bn1(trunk.conv1(x))))
    out: dict[str, torch.Tensor] = {}
    for name in LAYERS:
        x = getattr(trunk, name)(x)
        out[name] = x
    return out


def out_channels(trunk: nn.Module) -> dict[str, int]:
    """Channels of each stage's output, e.g. ``{"layer1": 256, ..., "layer4": 2048}`` for ResNet-50."""
    result = {}
    for name in LAYERS:
        convs = [m for m in getattr(trunk, name).modules() if isinstance(m, nn.Conv2d)]
        result[name] = convs[-1].out_channels
    return result


__all__ = [
    "IMAGENET",
    "RESNETS",
    "ImageInit",
    "TinyResNet",
    "adapt_conv1",
    "build_resnet",
    "imagenet_weights_file",
    "out_channels",
    "resnet_features",
    "resolve_image_init",
]
