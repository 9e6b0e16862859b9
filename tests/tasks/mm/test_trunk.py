"""tasks.mm.trunk: describe a ResNet trunk, rebuild it from the spec, save and load it."""

from __future__ import annotations

import pytest
import torch
from support.dense_planted import tiny_trunk
from torch import nn
from torchvision.models import resnet18, resnet50

from tasks.mm.trunk import FORMAT, STAGES, describe, load_trunk, rebuild, save_trunk, trunk_state


def _stages(trunk: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    x = trunk.maxpool(trunk.relu(trunk.bn1(trunk.conv1(x))))
    out = []
    for name in STAGES:
        x = getattr(trunk, name)(x)
        out.append(x)
    return out


def _randomise_bn(trunk: nn.Module) -> nn.Module:
    gen = torch.Generator().manual_seed(1)
    for m in trunk.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
    return trunk.eval()


@pytest.mark.parametrize(
    "make, channels",
    [
        (lambda: tiny_trunk(1), [16, 32, 64, 128]),
        (lambda: tiny_trunk(3), [16, 32, 64, 128]),
        (lambda: resnet18(weights=None), [64, 128, 256, 512]),
        (lambda: resnet50(weights=None), [256, 512, 1024, 2048]),
    ],
)
def test_save_and_load_reproduce_every_stage(make, channels, tmp_path) -> None:
    trunk = _randomise_bn(make())
    spec = save_trunk(trunk, tmp_path / "t.pth")
    loaded = load_trunk(tmp_path / "t.pth").eval()
    assert loaded.channels == channels
    x = torch.randn(2, spec["in_channels"], 64, 64)
    with torch.no_grad():
        for a, b in zip(_stages(trunk, x), loaded(x)):
            torch.testing.assert_close(a, b)
    data = torch.load(tmp_path / "t.pth", weights_only=True)  # plain data and tensors only
    assert data["format"] == FORMAT and not any(k.startswith("fc.") for k in data["state_dict"])


def test_describe_reads_strides_and_blocks() -> None:
    spec = describe(resnet50(weights=None))
    assert spec["in_channels"] == 3 and spec["stem"]["maxpool"] == {"kernel": 3, "stride": 2, "padding": 1}
    assert [s["blocks"] for s in spec["stages"]] == [3, 4, 6, 3]
    assert [s["stride"] for s in spec["stages"]] == [1, 2, 2, 2]
    assert {s["block"] for s in spec["stages"]} == {"bottleneck"}
    assert describe(tiny_trunk(1))["in_channels"] == 1


def test_not_a_resnet_is_refused(tmp_path) -> None:
    with pytest.raises(ValueError, match="torchvision ResNet module names"):
        save_trunk(nn.Sequential(nn.Conv2d(1, 4, 3)), tmp_path / "x.pth")


def test_a_layout_the_spec_cannot_express_is_caught(tmp_path) -> None:
    trunk = resnet18(weights=None)
    trunk.maxpool = nn.AvgPool2d(2)  # not a MaxPool2d: the rebuild would differ
    with pytest.raises(ValueError, match="does not reproduce"):
        save_trunk(trunk, tmp_path / "x.pth")


def test_weights_that_do_not_fit_the_spec_raise() -> None:
    trunk = tiny_trunk(1)
    state = trunk_state(trunk)
    state.pop("layer4.0.conv1.weight")
    with pytest.raises(ValueError, match="missing"):
        rebuild(describe(trunk), state)


def test_load_rejects_other_files(tmp_path) -> None:
    torch.save({"state_dict": {}}, tmp_path / "other.pth")
    with pytest.raises(ValueError, match="not a trunk file"):
        load_trunk(tmp_path / "other.pth")
    with pytest.raises(FileNotFoundError):
        load_trunk(tmp_path / "missing.pth")
