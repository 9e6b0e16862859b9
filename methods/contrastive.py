"""The global image-report contrastive loss the methods share (ConVIRT, GLoRIA's global term).

Negatives are gathered across ranks with :func:`bench.dist.gather_features`: each rank scores its
own rows against the whole global batch, so the loss does not depend on the number of GPUs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from bench.dist import contrastive_labels, gather_features


def cosine_logits(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """[Na, Nb] cosine similarities of the rows of ``a`` and ``b``."""
    return F.normalize(a, dim=-1, eps=eps) @ F.normalize(b, dim=-1, eps=eps).t()


def bidirectional_infonce(
    image: torch.Tensor,
    text: torch.Tensor,
    scale: float | torch.Tensor,
    with_grad: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """InfoNCE over cosine similarities times ``scale`` (= 1/temperature), in both directions.

    ``image``, ``text``: this rank's [n, D] embeddings of n matched pairs. Returns
    ``(image_to_text, text_to_image)``: mean cross-entropies of this rank's images against every
    report of the global batch, and of this rank's reports against every image.
    """
    if image.shape[0] != text.shape[0]:
        raise ValueError(f"image and text batches differ: {image.shape[0]} vs {text.shape[0]}")
    image = F.normalize(image.float(), dim=-1, eps=1e-8)
    text = F.normalize(text.float(), dim=-1, eps=1e-8)
    all_image, all_text = gather_features(image, text, with_grad=with_grad)
    labels = contrastive_labels(image.shape[0], image.device)
    loss_it = F.cross_entropy(image @ all_text.t() * scale, labels)
    loss_ti = F.cross_entropy(text @ all_image.t() * scale, labels)
    return loss_it, loss_ti
