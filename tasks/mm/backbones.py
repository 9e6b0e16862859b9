"""``BenchResNet``: a method's image trunk as an MMSegmentation and MMDetection backbone.

Configs name it ``type="BenchResNet"`` (after ``custom_imports=dict(imports=["tasks.mm.backbones"])``)
with ``checkpoint`` = a trunk file written by :func:`tasks.mm.trunk.save_trunk`. The weights are
loaded here, in ``__init__``, strictly; ``init_weights`` leaves them alone (a toolbox's
``init_cfg`` never re-initialises a pretrained encoder).

Outputs are the stage features ``layer1..layer4`` picked by ``out_indices`` (strides 4-32 for a
standard stem). ``frozen_stages`` follows MMDetection's ResNet: ``-1`` trains everything, ``0``
freezes the stem, ``k`` the stem and stages 1..k (``4`` = a frozen encoder). ``norm_eval`` keeps
every BatchNorm in eval mode while training (statistics from pretraining).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch
from mmengine.model import BaseModule
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from tasks.mm import compat
from tasks.mm.trunk import STAGES, load_trunk

log = logging.getLogger(__name__)
compat.install()


class BenchResNet(BaseModule):
    """A torchvision-layout ResNet trunk loaded from a trunk file, with multi-scale outputs."""

    def __init__(
        self,
        checkpoint: str,
        out_indices: Sequence[int] = (0, 1, 2, 3),
        frozen_stages: int = -1,
        norm_eval: bool = True,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        bad = [i for i in out_indices if not 0 <= int(i) < len(STAGES)]
        if bad or not out_indices:
            raise ValueError(f"out_indices {tuple(out_indices)}: expected indices in 0..3 (layer1..layer4)")
        if not -1 <= int(frozen_stages) <= len(STAGES):
            raise ValueError(f"frozen_stages {frozen_stages}: expected -1..4")
        self.trunk = load_trunk(checkpoint)
        self.checkpoint = checkpoint
        self.out_indices = tuple(int(i) for i in out_indices)
        self.frozen_stages = int(frozen_stages)
        self.norm_eval = norm_eval
        self.in_channels = self.trunk.spec["in_channels"]
        self.channels = [self.trunk.channels[i] for i in self.out_indices]
        self._freeze()
        log.debug(
            "BenchResNet from %s: channels %s, frozen_stages %d", checkpoint, self.channels, frozen_stages
        )

    def init_weights(self) -> None:
        """The weights came from the trunk file; keep them (no toolbox initialisation)."""
        self._is_init = True

    def _frozen_modules(self) -> list[nn.Module]:
        if self.frozen_stages < 0:
            return []
        mods: list[nn.Module] = [self.trunk.conv1, self.trunk.bn1]
        mods += [getattr(self.trunk, STAGES[i]) for i in range(self.frozen_stages)]
        return mods

    def _freeze(self) -> None:
        for module in self._frozen_modules():
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> BenchResNet:
        super().train(mode)
        self._freeze()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
        return self

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f"BenchResNet takes {self.in_channels}-channel images, got {x.shape[1]}; "
                "the data preprocessor's mean/std length sets the channels"
            )
        feats = self.trunk(x)
        return tuple(feats[i] for i in self.out_indices)


def register() -> None:
    """Register :class:`BenchResNet` in MMSeg's and MMDet's model registries (idempotent)."""
    from mmdet.registry import MODELS as DET_MODELS
    from mmseg.registry import MODELS as SEG_MODELS

    for registry in (SEG_MODELS, DET_MODELS):
        if registry.get("BenchResNet") is not BenchResNet:
            registry.register_module(name="BenchResNet", module=BenchResNet, force=True)


register()
