"""The PRIOR method: construction, the three-stage schedule and the evaluation interface.

The training losses of each stage are in :mod:`methods.prior.steps`.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from bench.api import ImageFeatures, Stage, TextFeatures
from bench.config import ModelCfg, TrainCfg
from methods.base import ReportMethod
from methods.encoders import TextEncoder, resnet_features
from methods.prior import steps, zero_shot
from methods.prior.bank import PrototypeBank
from methods.prior.config import STAGES, Config
from methods.prior.decoders import ImageDecoder, SentenceDecoder, upsampling_blocks
from methods.prior.image import ImageEncoder
from methods.prior.local import LocalCrossAttention, predictor
from methods.prior.text import SentenceAttentionPool, gather_sentences

log = logging.getLogger(__name__)
LOCAL, BANK, RECON, GEN = "local_alignment", "prototype_bank", "image_reconstruction", "sentence_generation"
SIMILARITY_CHUNK = 1 << 24  # image x text x patch x sentence scores computed at once in similarity
# modules first used in a later stage: trainable (requires_grad) only from that stage on
STAGE_MODULES: dict[str, int] = {
    "sentence_bank": STAGES.index("stage2"),
    "image_decoder": STAGES.index("stage3"),
    "sentence_decoder": STAGES.index("stage3"),
    "prototype_queries": STAGES.index("stage3"),
}


class PRIOR(ReportMethod):
    """PRIOR (Cheng et al., ICCV 2023); see the package docstring for every choice made."""

    name = "prior"
    components = (LOCAL, BANK, RECON, GEN)
    Config = Config

    def __init__(self, model_cfg: ModelCfg, method_cfg: Config | None = None, drop: tuple[str, ...] = ()) -> None:
        super().__init__(model_cfg, drop)
        cfg = method_cfg if method_cfg is not None else Config()
        cfg.validate()
        self.cfg, self.faithful = cfg, bool(model_cfg.faithful)
        self.embed_dim = d = int(model_cfg.embed_dim)
        trunk = self.build_trunk(model_cfg, in_channels=1)
        self.image_encoder = ImageEncoder(
            trunk, resnet_features, int(model_cfg.image_size), 1, cfg.pool_heads, self.faithful
        )
        self.text_encoder = TextEncoder(model_cfg.text_encoder, int(model_cfg.text_trainable_layers))
        width, hidden = self.image_encoder.width, self.text_encoder.hidden_size
        self.global_image_projection = nn.Linear(width, d)
        self.local_image_projection = nn.Linear(width, d) if self._needs_local_tokens() else None
        self.local_text_projection = nn.Linear(hidden, d)
        self.global_text_attention = SentenceAttentionPool(d, cfg.pool_heads)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / cfg.temperature)))
        self._build_components(model_cfg, cfg, d, hidden)
        self.register_buffer("stage_index", torch.zeros((), dtype=torch.long))
        self.register_load_state_dict_post_hook(lambda module, keys: module._sync_stage())
        self._init_projections(width, hidden)
        self._sync_stage()

    # -- construction -----------------------------------------------------------------------------
    def _needs_local_tokens(self) -> bool:
        return any(self.enabled(c) for c in (LOCAL, RECON, GEN))

    def _build_components(self, model_cfg: ModelCfg, cfg: Config, d: int, hidden: int) -> None:
        """Create only what the enabled components need (a dropped one has no parameters)."""
        self.local_cross_attention = LocalCrossAttention(d) if self.enabled(LOCAL) else None
        self.predictor = predictor(d) if self.enabled(LOCAL) else None
        self.local_logit_scale = (
            nn.Parameter(torch.tensor(math.log(1 / cfg.local_temperature))) if self.enabled(LOCAL) else None
        )
        self.sentence_bank = (
            PrototypeBank(d, cfg.spb_k, cfg.spb_tau, cfg.bank_eval, noisy_eval=self.faithful)
            if self.enabled(BANK)
            else None
        )
        self.image_dropout = self.image_decoder = None
        if self.enabled(RECON):
            blocks = upsampling_blocks(int(model_cfg.image_size), min(self.image_encoder.grid))
            self.image_dropout = nn.Dropout2d(cfg.image_dropout)
            self.image_decoder = ImageDecoder(d * (2 if self.enabled(LOCAL) else 1), blocks)
        self.sentence_decoder = self.prototype_queries = None
        if self.enabled(GEN):
            text_config = self.text_encoder.model.config
            self.sentence_decoder = SentenceDecoder(text_config, cfg.decoder_layers, d, causal=self.faithful)
            self.prototype_queries = nn.Parameter(torch.randn(1, cfg.num_queries, hidden))

    def _freeze_unread(self) -> None:
        """Parameters PRIOR never reads stay frozen: the text pooler, the decoder's word embeddings."""
        pooler = getattr(self.text_encoder.model, "pooler", None)
        if isinstance(pooler, nn.Module):
            pooler.requires_grad_(False)
        if self.sentence_decoder is not None:
            self.sentence_decoder.bert.get_input_embeddings().requires_grad_(False)

    def _init_projections(self, width: int, hidden: int) -> None:
        nn.init.normal_(self.global_image_projection.weight, std=width**-0.5)
        nn.init.normal_(self.local_text_projection.weight, std=hidden**-0.5)
        if self.local_image_projection is not None:
            nn.init.normal_(self.local_image_projection.weight, std=width**-0.5)
        if self.predictor is not None:
            nn.init.normal_(self.predictor[0].weight, std=self.embed_dim**-0.5)

    # -- schedule ---------------------------------------------------------------------------------
    def stages(self, total_steps: int, train_cfg: TrainCfg) -> list[Stage]:
        """Three stages splitting ``total_steps`` by ``stage_ratio`` (20:30:100), each with its
        own lr (a multiple of ``train_cfg.lr``) and warm-up (a fraction of the stage)."""
        n = len(STAGES)
        if total_steps < n:
            raise ValueError(
                f"PRIOR's schedule has {n} stages; total_steps must be at least {n}, got {total_steps}"
            )
        ratio = self.cfg.stage_ratio
        bounds = [round(total_steps * sum(ratio[: i + 1]) / sum(ratio)) for i in range(n)]
        steps_per = [b - a for a, b in zip([0, *bounds[:-1]], bounds)]
        out = []
        for i, name in enumerate(STAGES):
            count = steps_per[i]
            out.append(
                Stage(
                    name=name,
                    steps=count,
                    lr=train_cfg.lr * self.cfg.stage_lr_scale[i],
                    warmup_steps=int(round(count * self.cfg.stage_warmup_fraction[i])),
                    warmup_start_lr=train_cfg.lr * self.cfg.stage_warmup_start_scale[i],
                )
            )
        return out

    def set_stage(self, stage: str) -> None:
        if stage not in STAGES:
            raise ValueError(f"PRIOR has no stage {stage!r}; stages: {', '.join(STAGES)}")
        self.stage_index.fill_(STAGES.index(stage))
        self._sync_stage()

    @property
    def stage(self) -> str:
        return STAGES[self._stage]

    def _sync_stage(self) -> None:
        """Read the stage from the buffer; modules of later stages do not train before them (so
        every trainable parameter gets a gradient and DDP needs no unused-parameter search)."""
        self._stage = int(self.stage_index)
        for name, first in STAGE_MODULES.items():
            part = getattr(self, name, None)
            if part is not None:
                part.requires_grad_(self._stage >= first)
        if self.local_image_projection is not None and self.local_cross_attention is None:
            # without local alignment only the stage-3 decoders read the local tokens
            self.local_image_projection.requires_grad_(self._stage >= STAGES.index("stage3"))
        self._freeze_unread()

    # -- shared pieces ----------------------------------------------------------------------------
    @property
    def in_channels(self) -> int:
        return 1

    def image_backbone(self) -> nn.Module:
        return self.image_encoder.trunk

    @property
    def tokenizer(self) -> Any:
        return self.text_encoder.tokenizer

    def image_tokens(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None, tuple[int, int]]:
        """(global [B, D], projected local tokens [B, N, D] or None, layer4 grid)."""
        tokens, pooled, grid = self.image_encoder(images)
        local = self.local_image_projection(tokens) if self.local_image_projection is not None else None
        return self.global_image_projection(pooled), local, grid

    def sentences(
        self, text: dict[str, torch.Tensor], limit: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Projected sentence embeddings [B, S, D] (first ``limit`` sentences) and mask [B, S]."""
        hidden = self.text_encoder(text["input_ids"], text["attention_mask"])
        ids = text["sentence_ids"]
        count = text["n_sentences"].max() if "n_sentences" in text else ids.max() + 1
        count = max(int(count), 1)  # one host sync per batch
        if limit is not None:
            count = min(count, limit)
        return gather_sentences(self.local_text_projection(hidden), ids, count)

    def quantise(self, sents: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, Any]:
        """Sentences [B, S, D] through the prototype bank: ([B, S, D] zero at padding, BankOutput
        over all B*S rows). Padded rows are read too (masking them out later avoids the host
        sync of boolean indexing)."""
        out = self.sentence_bank(sents.reshape(-1, sents.shape[-1]))
        quantised = out.quantised.view(sents.shape) * mask.unsqueeze(-1).to(out.quantised.dtype)
        return quantised, out

    def uses_bank(self) -> bool:
        return self.sentence_bank is not None and self._stage >= STAGES.index("stage2")

    # -- contract ---------------------------------------------------------------------------------
    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        return steps.training_step(self, batch["images"], batch["text"])

    def encode_image(self, images: torch.Tensor) -> ImageFeatures:
        global_, local, _ = self.image_tokens(images)
        return ImageFeatures(global_=global_, local=local)

    def encode_text(self, text: dict[str, torch.Tensor]) -> TextFeatures:
        """Sentence embeddings (through the bank from stage 2 on) and their attention pool."""
        sents, mask = self.sentences(text)
        if self.uses_bank():
            sents, _ = self.quantise(sents, mask)
        return TextFeatures(global_=self.global_text_attention(sents, mask), local=sents, mask=mask)

    def similarity(self, img: ImageFeatures, txt: TextFeatures) -> torch.Tensor:
        """PRIOR's image-text score, [B_img, B_txt], in float32: softmax over the texts of
        :meth:`global_logits` (at ``exp(logit_scale)``), + 0.5 x softmax over the texts of
        :meth:`local_scores`. Softmaxes run over the texts passed in this call. Without local
        alignment only the global part remains. (Zero-shot classification with ``faithful``
        scores its own way: :meth:`zero_shot_scores`.)"""
        with torch.autocast(device_type=img.global_.device.type, enabled=False):
            score = torch.softmax(self.global_logits(img, txt), dim=1)
            local = self.local_scores(img, txt)
            return score if local is None else score + 0.5 * torch.softmax(local, dim=1)

    def global_logits(self, img: ImageFeatures, txt: TextFeatures, raw_scale: bool = False) -> torch.Tensor:
        """[B_img, B_txt] float32 ``scale * cos(image, text)`` of the global embeddings (the two
        directions' mean, which are equal); ``scale`` = ``exp(logit_scale)``, the multiplier the
        training loss uses, or with ``raw_scale`` the parameter itself (the official zero-shot code)."""
        with torch.autocast(device_type=img.global_.device.type, enabled=False):
            a, b = F.normalize(img.global_.float(), dim=-1), F.normalize(txt.global_.float(), dim=-1)
            scale = self.logit_scale.float() if raw_scale else self.logit_scale.float().exp()
            return scale * a @ b.t()

    def local_scores(self, img: ImageFeatures, txt: TextFeatures) -> torch.Tensor | None:
        """[B_img, B_txt] float32 mean sigmoid local attention (both directions) between the image's
        patches and the text's real (prototype) sentences; None without local alignment."""
        if self.local_cross_attention is None or img.local is None or txt.local is None:
            return None
        with torch.autocast(device_type=img.global_.device.type, enabled=False):
            return self._local_scores(img.local.float(), txt)

    def tokenize_prompts(self, prompts: list[str]) -> dict[str, torch.Tensor]:
        """Zero-shot prompts, each one sentence (see :func:`methods.prior.zero_shot.prompt_tokens`)."""
        return zero_shot.prompt_tokens(self, prompts)

    def zero_shot_scores(
        self, img: ImageFeatures, txt: TextFeatures, owners: torch.Tensor, n_classes: int
    ) -> torch.Tensor:
        """[B_img, n_classes] class probabilities from prompt scores (see
        :func:`methods.prior.zero_shot.class_scores`); ``owners`` [B_txt] is each prompt's class."""
        return zero_shot.class_scores(self, img, txt, owners, n_classes)

    def local_attention(
        self, images: torch.Tensor, text: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Each sentence's sigmoid cross-attention over the layer4 patches: ([B, S, h, w], mask [B, S]).

        The weights with which the local alignment module builds image-conditioned sentences
        (``LocalCrossAttention``'s ``w_text``), sentences as ``encode_text`` gives them (through
        the bank from stage 2 on). None without local alignment, and in ``faithful`` mode, where a
        token is a slab of memory rather than one position (see ``image.map_to_tokens``)."""
        if self.local_cross_attention is None or self.faithful:
            return None
        _, patches, (h, w) = self.image_tokens(images)
        txt = self.encode_text(text)
        _, _, _, weights = self.local_cross_attention(patches, txt.local, txt.mask)  # [B, S, N]
        return weights.reshape(weights.shape[0], weights.shape[1], h, w), txt.mask

    def _local_scores(self, patches: torch.Tensor, txt: TextFeatures) -> torch.Tensor:
        sents = txt.local.float()
        mask = (
            txt.mask
            if txt.mask is not None
            else torch.ones(sents.shape[:2], dtype=torch.bool, device=sents.device)
        )
        per = max(1, SIMILARITY_CHUNK // max(1, patches.shape[0] * patches.shape[1] * sents.shape[1]))
        attention = self.local_cross_attention.mean_attention
        return torch.cat(
            [
                attention(patches, sents[i : i + per], mask[i : i + per])
                for i in range(0, sents.shape[0], per)
            ],
            dim=1,
        )
