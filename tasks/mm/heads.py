"""``BenchUNetHead``: a U-Net decoder over a ResNet's stage features, as an MMSeg decode head.

MMSegmentation ships U-Net only as a whole backbone, not as a decoder on another encoder's
features, while GLoRIA and MGCA evaluate segmentation with a U-Net (segmentation_models_pytorch)
on a frozen ResNet. This head is that decoder: starting from the deepest feature it repeats
"upsample x2 (nearest), concatenate the skip feature of that stride when there is one, two
3x3 conv-BN-ReLU", one block per entry of ``decoder_channels`` (SMP's default is
256/128/64/32/16, which brings stride-32 features back to full resolution), then
``conv_seg`` classifies each pixel. Everything else (losses, resizing, inference) is MMSeg's.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from torch import nn
from torch.nn import functional as F


class BenchUNetHead(BaseDecodeHead):
    """U-Net decoder: ``in_channels`` lists the selected features shallow to deep."""

    def __init__(self, decoder_channels: Sequence[int] = (256, 128, 64, 32, 16), **kwargs) -> None:
        decoder_channels = tuple(int(c) for c in decoder_channels)
        if not decoder_channels:
            raise ValueError("decoder_channels must name at least one block's width")
        kwargs.setdefault("input_transform", "multiple_select")
        super().__init__(channels=decoder_channels[-1], **kwargs)
        skips = list(reversed(self.in_channels[:-1]))
        prev = self.in_channels[-1]
        blocks = []
        for i, out in enumerate(decoder_channels):
            skip = skips[i] if i < len(skips) else 0
            blocks.append(
                nn.Sequential(
                    ConvModule(prev + skip, out, 3, padding=1, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg),
                    ConvModule(out, out, 3, padding=1, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg),
                )
            )
            prev = out
        self.blocks = nn.ModuleList(blocks)

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        feats = list(reversed(self._transform_inputs(inputs)))  # deep -> shallow
        x = feats[0]
        for i, block in enumerate(self.blocks):
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
            if i + 1 < len(feats):
                skip = feats[i + 1]
                if x.shape[-2:] != skip.shape[-2:]:  # odd sizes: match the skip
                    x = F.interpolate(x, size=skip.shape[-2:], mode="nearest")
                x = torch.cat([x, skip], dim=1)
            x = block(x)
        return self.cls_seg(x)


def register() -> None:
    """Register :class:`BenchUNetHead` in MMSeg's model registry (idempotent)."""
    from mmseg.registry import MODELS

    if MODELS.get("BenchUNetHead") is not BenchUNetHead:
        MODELS.register_module(name="BenchUNetHead", module=BenchUNetHead, force=True)


register()
