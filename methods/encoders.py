"""The encoders every method shares: one import point for image trunks, text towers and report
tokenisation.

- :func:`build_resnet`, :func:`resnet_features`, :func:`out_channels` (``methods.resnet``);
- :func:`build_text_encoder`, :class:`TextEncoder` (freezing, frozen-output cache) (``methods.text``);
- :func:`tokenize_reports` (sentence and word indices from one joint tokenisation) (``methods.tokenize``);
- :func:`projection_head` and :func:`to_channels`, small helpers the methods share.
"""

from __future__ import annotations

import torch
from torch import nn

from methods.resnet import (
    LAYERS,
    RESNETS,
    TinyResNet,
    adapt_conv1,
    build_resnet,
    out_channels,
    resnet_features,
)
from methods.text import (
    BUNDLED_TEXT_ENCODERS,
    FrozenTextCache,
    TextEncoder,
    build_text_encoder,
    resolve_text_encoder,
    set_trainable_layers,
)
from methods.tokenize import join_sentences, tokenize_reports


def projection_head(in_dim: int, out_dim: int, hidden: int | None = None) -> nn.Sequential:
    """Linear-ReLU-Linear (keys ``0.*`` and ``2.*``, as BenchX's ``vis_proj``); hidden defaults to out_dim."""
    hidden = out_dim if hidden is None else hidden
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, out_dim))


def to_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    """Grey [B, 1, H, W] images to ``channels`` (repeated; a view, no copy); others unchanged."""
    if images.dim() != 4:
        raise ValueError(f"images must be [B, C, H, W], got shape {tuple(images.shape)}")
    if images.shape[1] == channels:
        return images
    if images.shape[1] == 1:
        return images.expand(-1, channels, -1, -1)
    raise ValueError(f"images have {images.shape[1]} channels; expected 1 or {channels}")


__all__ = [
    "BUNDLED_TEXT_ENCODERS",
    "FrozenTextCache",
    "LAYERS",
    "RESNETS",
    "TextEncoder",
    "TinyResNet",
    "adapt_conv1",
    "build_resnet",
    "build_text_encoder",
    "join_sentences",
    "out_channels",
    "projection_head",
    "resnet_features",
    "resolve_text_encoder",
    "set_trainable_layers",
    "to_channels",
    "tokenize_reports",
]
