"""A method's ResNet trunk as a self-describing file the toolboxes' backbone can rebuild.

The dense tasks must not import the methods, and the toolboxes build their models from configs.
So the task saves the trunk that :meth:`bench.api.Method.image_backbone` returns as
``{"format": ..., "spec": <plain dict>, "state_dict": <tensors>}``; the spec names every shape
and stride of a torchvision-style ResNet (stem, and per stage the block type, count, widths and
stride), which is all that is needed to rebuild it with torchvision's own blocks. The file holds
only plain data and tensors, so it loads with ``torch.load(weights_only=True)``.

:func:`save_trunk` checks that the rebuilt trunk computes exactly what the original computes
before it writes anything, so a trunk this module cannot describe fails there, loudly.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck

from bench.fileio import load_weights_only

log = logging.getLogger(__name__)
FORMAT = "medvlp-bench/resnet-trunk/1"
STAGES = ("layer1", "layer2", "layer3", "layer4")
BLOCKS: dict[str, type[nn.Module]] = {"basic": BasicBlock, "bottleneck": Bottleneck}


def _pair(value: Any) -> list[int]:
    return [int(v) for v in value] if isinstance(value, (tuple, list)) else [int(value), int(value)]


def _block_kind(block: nn.Module) -> str:
    if hasattr(block, "conv3"):
        return "bottleneck"
    if hasattr(block, "conv2"):
        return "basic"
    raise ValueError(
        f"unsupported residual block {type(block).__name__}: expected a torchvision BasicBlock or Bottleneck"
    )


def _stage_spec(stage: nn.Module, name: str) -> dict[str, Any]:
    blocks = list(stage.children()) if isinstance(stage, nn.Sequential) else []
    if not blocks:
        raise ValueError(
            f"trunk.{name} must be an nn.Sequential of residual blocks, got {type(stage).__name__}"
        )
    kinds = {_block_kind(b) for b in blocks}
    if len(kinds) != 1:
        raise ValueError(f"trunk.{name} mixes block types {sorted(kinds)}; expected one type per stage")
    kind = kinds.pop()
    first = blocks[0]
    stride_conv = first.conv2 if kind == "bottleneck" else first.conv1
    out = (first.conv3 if kind == "bottleneck" else first.conv2).out_channels
    expansion = BLOCKS[kind].expansion
    return {
        "block": kind,
        "blocks": len(blocks),
        "inplanes": first.conv1.in_channels,
        "planes": out // expansion,
        "width": first.conv2.out_channels,
        "groups": first.conv2.groups,
        "stride": _pair(stride_conv.stride)[0],
    }


def describe(trunk: nn.Module) -> dict[str, Any]:
    """The spec of a torchvision-key-compatible ResNet trunk (see the module docstring)."""
    missing = [n for n in ("conv1", *STAGES) if not hasattr(trunk, n)]
    if missing:
        raise ValueError(f"the image backbone lacks {missing}; expected torchvision ResNet module names")
    conv1 = trunk.conv1
    pool = getattr(trunk, "maxpool", None)
    return {
        "in_channels": conv1.in_channels,
        "stem": {
            "out": conv1.out_channels,
            "kernel": _pair(conv1.kernel_size),
            "stride": _pair(conv1.stride),
            "padding": _pair(conv1.padding),
            "bias": conv1.bias is not None,
            "bn": isinstance(getattr(trunk, "bn1", None), nn.BatchNorm2d),
            "maxpool": (
                {
                    "kernel": int(_pair(pool.kernel_size)[0]),
                    "stride": int(_pair(pool.stride)[0]),
                    "padding": int(_pair(pool.padding)[0]),
                }
                if isinstance(pool, nn.MaxPool2d)
                else None
            ),
        },
        "stages": [_stage_spec(getattr(trunk, n), n) for n in STAGES],
    }


class Trunk(nn.Module):
    """A ResNet trunk rebuilt from a spec; torchvision key names; ``forward`` gives the 4 stages."""

    def __init__(self, spec: dict[str, Any]) -> None:
        super().__init__()
        stem = spec["stem"]
        self.spec = spec
        self.conv1 = nn.Conv2d(
            spec["in_channels"],
            stem["out"],
            tuple(stem["kernel"]),
            tuple(stem["stride"]),
            tuple(stem["padding"]),
            bias=stem["bias"],
        )
        self.bn1 = nn.BatchNorm2d(stem["out"]) if stem["bn"] else nn.Identity()
        self.relu = nn.ReLU(inplace=True)
        pool = stem["maxpool"]
        self.maxpool = (
            nn.MaxPool2d(pool["kernel"], pool["stride"], pool["padding"]) if pool else nn.Identity()
        )
        for name, stage in zip(STAGES, spec["stages"]):
            setattr(self, name, _make_stage(stage))

    @property
    def channels(self) -> list[int]:
        return [s["planes"] * BLOCKS[s["block"]].expansion for s in self.spec["stages"]]

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        return self.maxpool(self.relu(self.bn1(self.conv1(x))))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(x)
        outs = []
        for name in STAGES:
            x = getattr(self, name)(x)
            outs.append(x)
        return outs


def _make_stage(stage: dict[str, Any]) -> nn.Sequential:
    block = BLOCKS[stage["block"]]
    planes, groups = stage["planes"], stage["groups"]
    base_width = stage["width"] * 64 // (planes * groups)
    inplanes, out = stage["inplanes"], planes * block.expansion
    layers = []
    for i in range(stage["blocks"]):
        stride = stage["stride"] if i == 0 else 1
        downsample = None
        if i == 0 and (stride != 1 or inplanes != out):
            downsample = nn.Sequential(nn.Conv2d(inplanes, out, 1, stride, bias=False), nn.BatchNorm2d(out))
        kwargs = {"groups": groups, "base_width": base_width} if block is Bottleneck else {}
        layers.append(block(inplanes, planes, stride, downsample, **kwargs))
        inplanes = out
    return nn.Sequential(*layers)


def trunk_state(trunk: nn.Module) -> dict[str, torch.Tensor]:
    """The stem and stage tensors of ``trunk`` (``fc``/heads dropped), detached on the CPU."""
    keep = ("conv1.", "bn1.", *(f"{n}." for n in STAGES))
    return {k: v.detach().cpu().clone() for k, v in trunk.state_dict().items() if k.startswith(keep)}


def rebuild(spec: dict[str, Any], state_dict: dict[str, torch.Tensor]) -> Trunk:
    trunk = Trunk(spec)
    missing, unexpected = trunk.load_state_dict(state_dict, strict=False)
    if missing or unexpected:
        raise ValueError(
            f"trunk weights do not fit the spec: missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    return trunk


@torch.no_grad()
def _check_equal(original: nn.Module, rebuilt: Trunk, size: int = 64) -> None:
    x = torch.randn(2, rebuilt.spec["in_channels"], size, size, generator=torch.Generator().manual_seed(0))
    was_training = original.training
    original.eval()
    try:
        y = original.conv1(x)
        y = original.maxpool(original.relu(original.bn1(y)))
        for name in STAGES:
            y = getattr(original, name)(y)
    finally:
        original.train(was_training)
    z = rebuilt.eval()(x)[-1]
    if y.shape != z.shape or not torch.allclose(y, z, rtol=1e-4, atol=1e-5):
        raise ValueError(
            "the rebuilt trunk does not reproduce the image backbone; its layout is not a plain ResNet"
        )


def save_trunk(trunk: nn.Module, path: Path | str) -> dict[str, Any]:
    """Write ``trunk`` (spec + weights) to ``path`` after checking the rebuild; returns the spec."""
    original_device = next(trunk.parameters()).device
    cpu = trunk if original_device.type == "cpu" else _cpu_copy(trunk)
    spec = describe(cpu)
    state = trunk_state(cpu)
    _check_equal(cpu, rebuild(spec, state))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"format": FORMAT, "spec": spec, "state_dict": state}, path)
    log.debug("saved trunk %s to %s", spec, path)
    return spec


def _cpu_copy(trunk: nn.Module) -> nn.Module:
    import copy

    return copy.deepcopy(trunk).cpu()


def load_trunk(path: Path | str) -> Trunk:
    """The trunk :func:`save_trunk` wrote (tensors-only load)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"trunk file {path} not found; the dense task writes it before building the model"
        )
    data = load_weights_only(path)  # tensors and plain data only: a planted file's code never runs
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{path}: not a trunk file (expected format {FORMAT!r})")
    return rebuild(data["spec"], data["state_dict"])
