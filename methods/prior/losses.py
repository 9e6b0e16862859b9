"""PRIOR's loss functions, each batched over samples (the official code loops per sample).

Every loss is a mean over the samples of the local batch (sentence terms first averaged within
their report), and the contrastive ones gather their negatives: on W ranks with equal local
batches the DDP-averaged losses and gradients equal the single-process ones on the whole batch.
The contrastive ones compute in float32 even under autocast: with logit scales near 100, bf16
logits would carry errors of several tenths.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

import torch
from torch import nn
from torch.nn import functional as F

from methods.contrastive import bidirectional_infonce

F_ = TypeVar("F_", bound=Callable[..., torch.Tensor])


def full_precision(fn: F_) -> F_:
    """Run ``fn`` with autocast off (its tensor arguments are cast to float32 inside)."""

    @functools.wraps(fn)
    def wrapper(*args: torch.Tensor, **kwargs: torch.Tensor) -> torch.Tensor:
        device = next((a.device.type for a in args if isinstance(a, torch.Tensor)), "cpu")
        with torch.autocast(device_type=device, enabled=False):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@full_precision
def clip_loss(a: torch.Tensor, b: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """The mean of :func:`methods.contrastive.bidirectional_infonce`'s two directions, in float32:
    ``a`` [B, D] vs ``b`` [B, D] (pairs on the diagonal), negatives gathered from every rank.
    ``logit_scale`` is the multiplier (already exponentiated)."""
    loss_a, loss_b = bidirectional_infonce(a, b, logit_scale.float())
    return (loss_a + loss_b) / 2


def simsiam_loss(x: torch.Tensor, y: torch.Tensor, predictor: nn.Module) -> torch.Tensor:
    """Negative cosine between each view's prediction and the other (stop-gradient) view, both
    ways, with one shared predictor; mean over every row: ``x``, ``y`` [..., D]."""
    p_x, p_y = predictor(x), predictor(y)
    cos_x = F.cosine_similarity(p_x.float(), y.detach().float(), dim=-1).mean()
    cos_y = F.cosine_similarity(p_y.float(), x.detach().float(), dim=-1).mean()
    return -(cos_x + cos_y) * 0.5


def _masked_ce(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-sample mean cross-entropy of the diagonal targets over the real rows: [B, S, S] -> [B]."""
    logits = logits.masked_fill(~mask.unsqueeze(1), -1e9)  # float32 logits: finite differences
    nll = torch.logsumexp(logits, dim=-1) - logits.diagonal(dim1=1, dim2=2)  # [B, S]
    nll = torch.where(mask, nll, torch.zeros_like(nll))
    return nll.sum(1) / mask.sum(1).clamp(min=1).to(nll.dtype)


@full_precision
def local_text_loss(
    sentences: torch.Tensor, conditioned: torch.Tensor, mask: torch.Tensor, logit_scale: torch.Tensor
) -> torch.Tensor:
    """In-report InfoNCE (CUT-style): each sentence vs its image-conditioned version, the other
    sentences of the same report the only negatives; symmetric; mean over reports.

    sentences, conditioned: [B, S, D]; mask [B, S]. A report without sentences contributes 0.
    """
    logit_scale = logit_scale.float()
    a = F.normalize(sentences.float(), dim=-1)
    b = F.normalize(conditioned.float(), dim=-1)
    mask = mask.bool()
    per_sample = (
        _masked_ce(logit_scale * b @ a.transpose(1, 2), mask)
        + _masked_ce(logit_scale * a @ b.transpose(1, 2), mask)
    ) / 2
    return per_sample.mean()


def per_sample_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over samples of each sample's mean over its real rows: values, mask [B, S] -> scalar
    (a sample without real rows contributes 0)."""
    m = mask.to(values.dtype)
    return ((values * m).sum(1) / m.sum(1).clamp(min=1)).mean()


def masked_l1(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """|x - y| of [B, S, D] rows: mean over each report's real rows (all without a mask), then
    over reports."""
    diff = (x.float() - y.float()).abs().mean(-1)
    if mask is None:
        return diff.mean()
    return per_sample_mean(diff, mask)


def assignment_kl(generated_logits: torch.Tensor, target_logits: torch.Tensor) -> torch.Tensor:
    """KL(target || generated) of the bank's assignment distributions, one value per row.

    Both are raw bank logits [M, K]; detach ``target_logits`` before calling for a fixed target.
    """
    log_gen = F.log_softmax(generated_logits.float(), dim=-1)
    log_tgt = F.log_softmax(target_logits.float(), dim=-1)
    return F.kl_div(log_gen, log_tgt, reduction="none", log_target=True).sum(-1)
