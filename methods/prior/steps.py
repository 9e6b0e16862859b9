"""One PRIOR training step: the loss terms of the current stage, batched over samples.

Terms ending in ``_loss`` carry their weight; the other keys are unweighted diagnostics.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch.nn import functional as F

from methods.prior import losses
from methods.prior.image import tokens_to_map
from methods.prior.matching import l1_cost, match, take

if TYPE_CHECKING:
    from methods.prior.model import PRIOR


def training_step(
    model: PRIOR, images: torch.Tensor, text: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    cfg, stage3 = model.cfg, model.stage == "stage3"
    generate = stage3 and model.sentence_decoder is not None
    img_global, img_local, grid = model.image_tokens(images)
    sents, mask = model.sentences(text, limit=cfg.num_queries if generate else None)
    out: dict[str, torch.Tensor] = {}
    bank = None
    if model.uses_bank():
        sents, bank = model.quantise(sents, mask)
        out["bank_loss"] = cfg.bank_weight * losses.per_sample_mean(bank.row_loss.view(mask.shape), mask)
        out["bank_usage"] = _usage(bank.index, mask, model.sentence_bank.k)
    txt_global = model.global_text_attention(sents, mask)
    scale = model.logit_scale.exp()
    global_ = losses.clip_loss(img_global, txt_global, scale)
    out["global_loss"] = (cfg.stage3_global_weight if stage3 else 1.0) * global_
    out["global"], out["logit_scale"] = global_.detach(), scale.detach()
    t2i = None
    if model.local_cross_attention is not None:
        t2i, _, i2t, _ = model.local_cross_attention(img_local, sents, mask)
        local_scale = model.local_logit_scale.exp()
        out["local_image_loss"] = losses.simsiam_loss(img_local, t2i, model.predictor)
        out["local_text_loss"] = losses.local_text_loss(sents, i2t, mask, local_scale)
        out["local_logit_scale"] = local_scale.detach()
    if stage3 and model.image_decoder is not None:
        out["image_recon_loss"] = cfg.recon_weight * _reconstruct(model, img_local, t2i, grid, images)
    if generate:
        out.update(_generate(model, img_local, sents, mask, txt_global, bank))
    return out


def _usage(index: torch.Tensor, mask: torch.Tensor, k: int) -> torch.Tensor:
    """Fraction of prototypes chosen (argmax) by at least one real sentence (no host sync)."""
    hits = torch.zeros(k, device=index.device).index_add_(0, index, mask.reshape(-1).float())
    return (hits > 0).float().mean()


def _reconstruct(
    model: PRIOR,
    img_local: torch.Tensor,
    t2i: torch.Tensor | None,
    grid: tuple[int, int],
    images: torch.Tensor,
) -> torch.Tensor:
    """L1 between the decoded image and the (normalised) input. The decoder sees the dropped-out
    local map, concatenated with the text-conditioned patches when local alignment is on."""
    z = model.image_dropout(tokens_to_map(img_local, grid, model.faithful))
    if t2i is not None:
        z = torch.cat([z, tokens_to_map(t2i, grid, model.faithful)], dim=1)
    recon = model.image_decoder(z, tuple(images.shape[-2:]))
    return F.l1_loss(recon.float(), images.float())


def _generate(
    model: PRIOR,
    img_local: torch.Tensor,
    targets: torch.Tensor,
    mask: torch.Tensor,
    txt_global: torch.Tensor,
    bank: Any,
) -> dict[str, torch.Tensor]:
    """Sentence prototype generation: decode the queries against the image tokens, match them to
    the report's sentences (prototypes from stage 2 on), L1 + KL + global prediction alignment."""
    cfg, b = model.cfg, img_local.shape[0]
    generated = model.sentence_decoder(model.prototype_queries.expand(b, -1, -1), img_local)
    if model.faithful:  # zero-padded square targets, the official indexing, padding in the L1
        pad = cfg.num_queries - targets.shape[1]
        targets, mask = F.pad(targets, (0, 0, 0, pad)), F.pad(mask, (0, pad), value=False)
        aligned = take(generated, match(l1_cost(generated, targets), as_coded=True))
        l1 = losses.masked_l1(aligned, targets)
    else:
        aligned = take(generated, match(l1_cost(generated, targets), mask))
        l1 = losses.masked_l1(aligned, targets, mask)
    out = {"sentence_gen_loss": cfg.lambda_proto * l1}
    if bank is not None:  # every row is read (no boolean indexing); padding is masked out of the means
        out["sentence_kl_loss"] = cfg.kl_weight * _assignment_kl(model, aligned, bank, mask)
        aligned = model.sentence_bank(_flat(aligned)).quantised.view(aligned.shape)
    gen_global = model.global_text_attention(aligned, mask)
    out["gpa_loss"] = cfg.gpa_weight * losses.clip_loss(gen_global, txt_global, model.logit_scale.exp())
    return out


def _flat(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(-1, x.shape[-1])


def _assignment_kl(model: PRIOR, aligned: torch.Tensor, bank: Any, mask: torch.Tensor) -> torch.Tensor:
    """KL between the bank assignment of each real sentence and that of its matched generated one;
    the real sentences' logits are the ones cached from this step's bank read."""
    b, t = mask.shape
    target = bank.logits if model.faithful else bank.logits.detach()
    target = target.view(b, -1, target.shape[-1])
    target = F.pad(target, (0, 0, 0, t - target.shape[1]))  # faithful: slots padded to num_queries
    kl = losses.assignment_kl(model.sentence_bank.logits(_flat(aligned)), _flat(target))
    return losses.per_sample_mean(kl.view(b, t), mask)
