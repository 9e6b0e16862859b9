"""GLoRIA (Huang et al., ICCV 2021): global and word-region contrastive learning.

Layout after the official model (``gloria/models``): ``visual`` (ResNet trunk; official
``img_encoder.model``), ``global_embedder`` (Linear on avgpool(layer4)), ``local_embedder``
(1x1 conv, no bias, on layer3), ``text.model`` (the BERT; official ``text_encoder.model``).
Text projections exist only when the text width differs from embed_dim (the official model has
none). Images arrive grey [B, 1, H, W] and are repeated to 3 channels.

Features: ``ImageFeatures.local`` [B, h*w, D] (the local map, ``extra["local_map"]`` [B, D, h, w]);
``TextFeatures.local`` [B, W, D] laid out ``[CLS], words, [SEP], padding`` with ``mask`` True on
the words only and ``extra["local_loss_mask"]`` the slots the training loss uses.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from bench.api import ImageFeatures, TextFeatures
from bench.config import ModelCfg
from methods.base import ReportMethod
from methods.contrastive import cosine_logits
from methods.encoders import TextEncoder, out_channels, resnet_features, to_channels
from methods.gloria.config import Config
from methods.gloria.local import aggregate_words, local_similarity, sentence_attention, word_masks
from methods.gloria.losses import GlobalLoss, LocalLoss

log = logging.getLogger(__name__)
LOCAL = "local_alignment"


class GLoRIA(ReportMethod):
    """``forward`` gives ``global_loss`` and (unless ``local_alignment`` is dropped) ``local_loss``."""

    name = "gloria"
    components: tuple[str, ...] = (LOCAL,)
    Config = Config

    def __init__(self, model_cfg: ModelCfg, method_cfg: Config | None = None, drop: tuple[str, ...] = ()) -> None:
        super().__init__(model_cfg, drop)
        cfg = method_cfg or Config()
        self.cfg = cfg
        dim = model_cfg.embed_dim
        self.visual = self.build_trunk(model_cfg, 3)
        channels = out_channels(self.visual)
        if cfg.local_layer not in channels:
            raise ValueError(f"local_layer {cfg.local_layer!r} unknown; valid: {', '.join(channels)}")
        self.global_embedder = nn.Linear(channels["layer4"], dim)
        self.text = TextEncoder(model_cfg.text_encoder, model_cfg.text_trainable_layers)
        if not 1 <= cfg.last_n_layers <= self.text.num_layers:
            raise ValueError(f"last_n_layers must be in 1..{self.text.num_layers}, got {cfg.last_n_layers}")
        project = cfg.text_projection if cfg.text_projection is not None else self.text.hidden_size != dim
        if not project and self.text.hidden_size != dim:
            raise ValueError(
                f"text_projection is off but the text width {self.text.hidden_size} differs from embed_dim {dim}"
            )
        self.text_global_proj = self._text_proj(project, dim)
        self.global_loss = GlobalLoss(cfg.temp3, cfg.gather_with_grad)
        if self.enabled(LOCAL):
            self.local_embedder = nn.Conv2d(channels[cfg.local_layer], dim, kernel_size=1, bias=False)
            self.text_local_proj = self._text_proj(project, dim)
            self.local_loss = LocalLoss(cfg.temp1, cfg.temp2, cfg.temp3, cfg.local_chunk_floats, cfg.gather_with_grad)

    def _text_proj(self, project: bool, dim: int) -> nn.Module:
        return nn.Linear(self.text.hidden_size, dim) if project else nn.Identity()

    @property
    def tokenizer(self) -> Any:
        return self.text.tokenizer

    # -- the contract -------------------------------------------------------------------------

    def encode_image(self, images: torch.Tensor) -> ImageFeatures:
        x = to_channels(images, 3)
        if self.cfg.upsample_to:
            size = (self.cfg.upsample_to, self.cfg.upsample_to)
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=True)
        feats = resnet_features(self.visual, x)
        global_ = self.global_embedder(torch.flatten(F.adaptive_avg_pool2d(feats["layer4"], 1), 1))
        if not self.enabled(LOCAL):
            return ImageFeatures(global_=global_)
        local_map = self.local_embedder(feats[self.cfg.local_layer])  # [B, D, h, w]
        return ImageFeatures(
            global_=global_, local=local_map.flatten(2).transpose(1, 2), extra={"local_map": local_map}
        )

    def encode_text(self, text: dict[str, torch.Tensor]) -> TextFeatures:
        mask = text["attention_mask"]
        hidden = self.text.hidden_states(text["input_ids"], mask, last=self.cfg.last_n_layers).sum(dim=0)
        words, n_words = aggregate_words(hidden, text["word_ids"], mask)
        masks = word_masks(n_words, words.shape[1])
        keep = masks["all"].unsqueeze(-1).to(words.dtype)
        report = (words * keep).sum(dim=1) / keep.sum(dim=1)  # mean over [CLS], words, [SEP]
        global_ = self.text_global_proj(report)
        if not self.enabled(LOCAL):
            return TextFeatures(global_=global_)
        loss_mask = masks["cls_words"] if self.cfg.local_includes_cls else masks["words"]
        return TextFeatures(
            global_=global_,
            local=self.text_local_proj(words),
            mask=masks["words"],
            extra={"local_loss_mask": loss_mask},
        )

    def similarity(self, img: ImageFeatures, txt: TextFeatures) -> torch.Tensor:
        """(global cosine + local score) / 2, the official zero-shot score; the local score is
        log max_w exp(temp2 * cos(word, attended context)) over the report's words."""
        global_ = cosine_logits(img.global_.float(), txt.global_.float())
        if not self.enabled(LOCAL) or img.local is None or txt.local is None or txt.mask is None:
            return global_
        local = local_similarity(
            img.local, txt.local, txt.mask, self.cfg.temp1, self.cfg.temp2, "max", self.cfg.local_chunk_floats
        )
        return (global_ + local) / 2

    def local_attention(
        self, images: torch.Tensor, text: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Each sentence's word-region attention over the local map: ([B, S, h, w], mask [B, S]),
        the words' attention (``temp1``) averaged per sentence. None without local alignment."""
        if not self.enabled(LOCAL):
            return None
        img, txt = self.encode_image(images), self.encode_text(text)
        maps, mask = sentence_attention(img.local, txt.local, txt.mask, text, self.cfg.temp1)
        h, w = img.extra["local_map"].shape[-2:]
        return maps.reshape(*maps.shape[:2], h, w), mask

    def image_backbone(self) -> nn.Module:
        return self.visual

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        img = self.encode_image(batch["images"])
        txt = self.encode_text(batch["text"])
        out = {"global_loss": self.cfg.global_loss_weight * self.global_loss(img.global_, txt.global_)}
        if self.enabled(LOCAL):
            out["local_loss"] = self.cfg.local_loss_weight * self.local_loss(
                img.local, txt.local, txt.extra["local_loss_mask"]
            )
        return out
