"""tasks.mm.backbones: BenchResNet built through MMSeg's and MMDet's registries, really loaded."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("mmseg")
pytest.importorskip("mmdet")

from mmengine.config import ConfigDict  # noqa: E402
from support.dense_planted import tiny_trunk  # noqa: E402

from tasks.mm.backbones import BenchResNet  # noqa: E402
from tasks.mm.trunk import save_trunk  # noqa: E402

pytestmark = pytest.mark.mm


def _build(scope: str, checkpoint, **kwargs):
    if scope == "mmseg":
        from mmseg.registry import MODELS
    else:
        from mmdet.registry import MODELS
    return MODELS.build(ConfigDict(type="BenchResNet", checkpoint=str(checkpoint), **kwargs))


@pytest.fixture
def saved(tmp_path):
    trunk = tiny_trunk(in_channels=1).eval()
    path = tmp_path / "trunk.pth"
    save_trunk(trunk, path)
    return trunk, path


@pytest.mark.parametrize("scope", ["mmseg", "mmdet"])
def test_registered_and_multiscale(scope, saved) -> None:
    trunk, path = saved
    backbone = _build(scope, path, out_indices=(0, 1, 2, 3)).eval()
    assert isinstance(backbone, BenchResNet)
    x = torch.randn(2, 1, 64, 64)
    with torch.no_grad():
        outs = backbone(x)
        expected = trunk.maxpool(trunk.relu(trunk.bn1(trunk.conv1(x))))
        for name, out in zip(("layer1", "layer2", "layer3", "layer4"), outs):
            expected = getattr(trunk, name)(expected)
            torch.testing.assert_close(out, expected)  # the method's weights, not a fresh init
    assert [o.shape[1] for o in outs] == [16, 32, 64, 128] == backbone.channels
    assert [o.shape[-1] for o in outs] == [16, 8, 4, 2]  # strides 4, 8, 16, 32


def test_changing_one_checkpoint_weight_changes_the_output(saved, tmp_path) -> None:
    _, path = saved
    data = torch.load(path, weights_only=True)
    data["state_dict"]["layer4.0.conv2.weight"][0, 0, 1, 1] += 1.0
    changed = tmp_path / "changed.pth"
    torch.save(data, changed)
    x = torch.randn(1, 1, 64, 64)
    a, b = _build("mmseg", path, out_indices=(3,)), _build("mmseg", changed, out_indices=(3,))
    a.init_weights()  # what the runner calls: must not re-initialise the loaded weights
    b.init_weights()
    with torch.no_grad():
        ya, yb = a.eval()(x)[0], b.eval()(x)[0]
    assert not torch.allclose(ya, yb)
    assert torch.allclose(ya[:, 1:], yb[:, 1:])  # only output channel 0 of that conv moved


def test_frozen_stages_and_norm_eval(saved) -> None:
    _, path = saved
    frozen = _build("mmdet", path, frozen_stages=4).train()
    assert not any(p.requires_grad for p in frozen.parameters())
    assert not any(m.training for m in frozen.modules() if isinstance(m, torch.nn.BatchNorm2d))
    partial = _build("mmdet", path, frozen_stages=1, norm_eval=False).train()
    assert not partial.trunk.layer1[0].conv1.weight.requires_grad
    assert partial.trunk.layer2[0].conv1.weight.requires_grad
    assert partial.trunk.layer2[0].bn1.training and not partial.trunk.bn1.training
    free = _build("mmdet", path, frozen_stages=-1).train()
    assert all(p.requires_grad for p in free.parameters())
    assert not free.trunk.layer4[0].bn1.training  # norm_eval=True by default


def test_bad_arguments_and_channels(saved) -> None:
    _, path = saved
    with pytest.raises(ValueError, match="out_indices"):
        BenchResNet(str(path), out_indices=(4,))
    with pytest.raises(ValueError, match="frozen_stages"):
        BenchResNet(str(path), frozen_stages=5)
    with pytest.raises(ValueError, match="1-channel"):
        BenchResNet(str(path))(torch.randn(1, 3, 32, 32))
