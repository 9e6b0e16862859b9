"""ConVIRT: a ResNet and a BERT tower, each with a non-linear projection head, trained with a
bidirectional InfoNCE on the global embeddings.

Module names follow BenchX's ConVIRT checkpoints where they exist: ``visual`` (the ResNet trunk;
BenchX ``visual.model.``) and ``vis_proj`` (Linear-ReLU-Linear, BenchX ``vis_proj.``); the text
tower is ``text.model`` (a Hugging Face model) with ``text_proj``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from bench.api import ImageFeatures, TextFeatures
from bench.config import ModelCfg
from methods.base import ReportMethod
from methods.convirt.config import Config
from methods.convirt.losses import ConVIRTLoss
from methods.encoders import TextEncoder, out_channels, projection_head, to_channels

log = logging.getLogger(__name__)


def _max_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return hidden.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(dim=1)


def _mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


def _cls_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return hidden[:, 0]


# Report pooling over the last layer's token vectors (attention mask applied; special tokens included).
TEXT_POOLS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "max": _max_pool,
    "mean": _mean_pool,
    "cls": _cls_pool,
}


class ConVIRT(ReportMethod):
    """Global-only image-report contrastive learning. Images arrive grey [B, 1, H, W] and are
    repeated to the 3 channels of the ImageNet-shaped stem."""

    name = "convirt"
    components: tuple[str, ...] = ()
    Config = Config

    def __init__(self, model_cfg: ModelCfg, method_cfg: Config | None = None, drop: tuple[str, ...] = ()) -> None:
        super().__init__(model_cfg, drop)
        cfg = method_cfg or Config()
        if cfg.text_pool not in TEXT_POOLS:
            raise ValueError(f"text_pool {cfg.text_pool!r} unknown; valid: {', '.join(sorted(TEXT_POOLS))}")
        self.cfg = cfg
        self.visual = self.build_trunk(model_cfg, 3)
        self.vis_proj = projection_head(out_channels(self.visual)["layer4"], model_cfg.embed_dim, cfg.proj_hidden)
        self.text = TextEncoder(model_cfg.text_encoder, model_cfg.text_trainable_layers)
        self.text_proj = projection_head(self.text.hidden_size, model_cfg.embed_dim, cfg.proj_hidden)
        self.loss = ConVIRTLoss(cfg.temperature, cfg.lambda_weight, cfg.gather_with_grad)

    @property
    def tokenizer(self) -> Any:
        return self.text.tokenizer

    # -- the contract -------------------------------------------------------------------------

    def encode_image(self, images: torch.Tensor) -> ImageFeatures:
        pooled = self.visual(to_channels(images, 3))
        return ImageFeatures(global_=self.vis_proj(pooled))

    def encode_text(self, text: dict[str, torch.Tensor]) -> TextFeatures:
        mask = text["attention_mask"].bool()
        hidden = self.text(text["input_ids"], mask.long())
        pooled = TEXT_POOLS[self.cfg.text_pool](hidden, mask)
        return TextFeatures(global_=self.text_proj(pooled.to(self.text_proj[0].weight.dtype)))

    def image_backbone(self) -> nn.Module:
        return self.visual

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        image = self.encode_image(batch["images"])
        text = self.encode_text(batch["text"])
        return {"global_loss": self.loss(image.global_, text.global_)}
