"""GLoRIA's own settings (the ``method`` section of the resolved config).

Defaults follow the official code (marshuang80/gloria: ``gloria/loss/gloria_loss.py``,
``gloria/models``, ``configs/chexpert_pretrain_config.yaml``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bench.constraints import Choice, Range
from methods.resnet import LAYERS


@dataclass
class Config:
    # The image is upsampled (bilinear, align_corners) to this size before the ResNet; None keeps
    # the configured image size (the tiny preset).
    upsample_to: int | None = 299
    local_layer: str = "layer3"  # local features: this stage -> 1x1 conv (no bias) -> embed_dim
    last_n_layers: int = 4  # text: sum of the last n hidden layers
    temp1: float = 4.0  # word -> region attention sharpness
    temp2: float = 5.0  # word-level aggregation (log-sum-exp)
    temp3: float = 10.0  # logit scale of both losses
    local_loss_weight: float = 1.0
    global_loss_weight: float = 1.0
    # The training code's local loss uses [CLS] and the words ([SEP] excluded); the zero-shot
    # similarity uses the words only.
    local_includes_cls: bool = True
    # Linear projections of the text tower's word/report vectors to embed_dim. None: only when the
    # tower's width differs from embed_dim (the official model, BERT-base at 768, has none).
    text_projection: bool | None = None
    # Memory bound of the batched local similarity: floats per [images, reports, regions, words] chunk.
    local_chunk_floats: int = 2**25
    gather_with_grad: bool = True

    # What ``--set method.<key>`` may hold (bench.config checks it on resolve, before any build; the
    # text tower's depth bounds last_n_layers when the model is built).
    CONSTRAINTS: ClassVar[dict[str, Range | Choice]] = {
        "upsample_to": Range(16),
        "local_layer": Choice(LAYERS),
        "last_n_layers": Range(1),
        "temp1": Range(0, above=True),
        "temp2": Range(0, above=True),
        "temp3": Range(0, above=True),
        "local_loss_weight": Range(0),
        "global_loss_weight": Range(0),
        "local_chunk_floats": Range(1),
    }
